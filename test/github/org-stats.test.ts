// GET /api/v3/berth/orgs/{org}/stats: an organization's storage, downloads per day and most downloaded packages,
// the same numbers as its usage page in the web UI, for its owners and instance admins; GitHub-style errors for
// everyone else (404 as for an organization that does not exist, 401 anonymous or with bad credentials).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { runTool } from '../helpers/clients.js';
import { api, assertGithubError, createToken } from '../helpers/github.js';
import { MEDIA, pushImage, registryFetch, useAuthorization } from '../helpers/http.js';
import { signInForm } from '../helpers/sign-in.js';

interface OrgStats {
  login: string;
  package_count: number;
  size_in_bytes: number;
  downloads: { total: number; daily: { date: string; count: number }[] };
  top_packages: { id: number; name: string; package_type: string; visibility: string; version_count: number; size_in_bytes: number; downloads: number }[];
}

const PATH = '/v3/berth/orgs/acme/stats';
let berth: RunningBerth;

async function pull(name: string, tag: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const res = await registryFetch(`${berth.url}/v2/${name}/manifests/${tag}`, { headers: { Accept: MEDIA.ociManifest } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  }
}

before(async () => {
  berth = await startBerth();
  useAuthorization(berth.authorization);
  // Three packages: two downloaded (app 3 times, lib once), one never.
  await pushImage(berth.url, 'acme/app', 'app layer', '1');
  await pushImage(berth.url, 'acme/app', 'app layer two', '2');
  await pushImage(berth.url, 'acme/lib', 'lib layer', '1');
  await pushImage(berth.url, 'acme/quiet', 'quiet layer', '1');
  await pull('acme/app', '1', 2);
  await pull('acme/app', '2', 1);
  await pull('acme/lib', '1', 1);
  // Another organization's package must not count.
  await berth.admin(async (s) => {
    await s.accounts.createOrg('globex', 'tester');
    await s.accounts.createUser({ login: 'member', password: 'member-password-1' });
    await s.accounts.addMember('acme', 'member', 'member');
    await s.accounts.createUser({ login: 'outsider' });
    await s.accounts.createUser({ login: 'root', isAdmin: true });
  });
  await pushImage(berth.url, 'globex/other', 'globex layer', '1');
  await pull('globex/other', '1', 5);
});
after(() => berth.stop());

const today = (): string => new Date().toISOString().slice(0, 10);

describe('organization statistics', () => {
  it('gives the organization\'s storage, downloads per day and most downloaded packages', async () => {
    const res = await api<OrgStats>(berth, PATH);
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const s = res.body;
    assert.equal(s.login, 'acme');
    assert.equal(s.package_count, 3);
    assert.ok(s.size_in_bytes > 0);
    assert.deepEqual(s.downloads, { total: 4, daily: [{ date: today(), count: 4 }] });
    assert.deepEqual(s.top_packages.map((p) => [p.name, p.downloads, p.version_count, p.package_type, p.visibility]), [
      ['app', 3, 2, 'container', 'private'],
      ['lib', 1, 1, 'container', 'private'],
    ]);
  });

  it('has the same numbers as the organization\'s usage page', async () => {
    const { body: stats } = await api<OrgStats>(berth, PATH);
    const signIn = await signInForm(berth, 'tester', 'tester-password');
    assert.ok(signIn.session);
    const page = await berth.fetch('/orgs/acme/usage', { auth: null, headers: { cookie: `berth_session=${signIn.session}` } });
    assert.equal(page.status, 200);
    const html = await page.text();
    const total = Number(/data-usage="total-bytes" data-bytes="(\d+)"/.exec(html)?.[1]);
    assert.equal(stats.size_in_bytes, total, 'storage used');
    for (const p of stats.top_packages) {
      const row = new RegExp(`<tr data-package="${p.name}">[\\s\\S]*?data-bytes="(\\d+)"[\\s\\S]*?<td class="num">([\\d,]+)</td>`).exec(html);
      assert.ok(row, `${p.name} on the page`);
      assert.equal(Number(row[1]), p.size_in_bytes, `${p.name} storage`);
      assert.equal(Number(row[2]!.replace(/,/g, '')), p.downloads, `${p.name} downloads`);
    }
    const top = [...html.matchAll(/<ol class="usage-top">([\s\S]*?)<\/ol>/g)][0]?.[1] ?? '';
    assert.deepEqual([...top.matchAll(/">([^<]+)<\/a>/g)].map((m) => m[1]), stats.top_packages.map((p) => p.name), 'top packages by downloads');
  });

  it('keeps counting the downloads of a version deleted for good, in its package and its organization', async () => {
    const head = await registryFetch(`${berth.url}/v2/acme/app/manifests/2`, { method: 'HEAD', headers: { Accept: MEDIA.ociManifest } });
    const digest = head.headers.get('docker-content-digest')!;
    const del = await registryFetch(`${berth.url}/v2/acme/app/manifests/${digest}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    const { body } = await api<OrgStats>(berth, PATH);
    assert.deepEqual(body.downloads, { total: 4, daily: [{ date: today(), count: 4 }] });
    assert.deepEqual(body.top_packages.map((p) => [p.name, p.downloads, p.version_count]), [['app', 3, 1], ['lib', 1, 1]]);
    // The HEAD above was no download; pulling the version left adds one.
    await pull('acme/app', '1', 1);
    assert.equal((await api<OrgStats>(berth, PATH)).body.top_packages[0]!.downloads, 4);
  });

  it('counts live packages as they are created, deleted and restored', async () => {
    const count = async (): Promise<number> => (await api<OrgStats>(berth, PATH)).body.package_count;
    assert.equal(await count(), 3);
    await pushImage(berth.url, 'acme/extra', 'extra layer', '1');
    assert.equal(await count(), 4);
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/extra', { method: 'DELETE' })).status, 204);
    assert.equal(await count(), 3);
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/extra/restore', { method: 'POST' })).status, 204);
    assert.equal(await count(), 4);
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/extra', { method: 'DELETE' })).status, 204);
  });

  it('answers curl with Basic credentials as gh and scripts would call it', async () => {
    const { stdout } = await runTool('curl', ['-sS', '-f', '-u', `${berth.user}:${berth.token}`, '-H', 'Accept: application/vnd.github+json', `${berth.url}/api${PATH}`]);
    assert.equal((JSON.parse(stdout) as OrgStats).downloads.total, 5);
  });

  it('is for the organization\'s owners and instance admins: others get 404, anonymous or bad credentials 401', async () => {
    const token = async (user: string, scopes: string[]): Promise<string> => `Bearer ${await createToken(berth, user, scopes)}`;
    assert.equal((await api(berth, PATH, { auth: await token('root', ['read:packages']) })).status, 200, 'an instance admin');
    assertGithubError(await api(berth, PATH, { auth: await token('member', ['read:packages']) }), 404, 'Not Found');
    assertGithubError(await api(berth, PATH, { auth: await token('outsider', ['read:packages']) }), 404, 'Not Found');
    assertGithubError(await api(berth, '/v3/berth/orgs/no-such-org/stats'), 404, 'Not Found');
    assertGithubError(await api(berth, '/v3/berth/orgs/tester/stats'), 404, 'Not Found');
    assertGithubError(await api(berth, PATH, { auth: null }), 401, 'Requires authentication');
    assertGithubError(await api(berth, PATH, { auth: 'Bearer berth_pat_not-a-token' }), 401, 'Bad credentials');
    // A CI token is limited to one package: not the organization's totals.
    const ci = await berth.admin(async (s) => (await s.tokens.create({
      userId: (await s.accounts.getUser('tester')).id, note: 'ci', scopes: ['write:packages'], expiresAt: Date.now() + 3_600_000,
      kind: 'ci', repositoryLimit: 'acme/app',
    })).token);
    assertGithubError(await api(berth, PATH, { auth: `Bearer ${ci}` }), 404, 'Not Found');
  });
});
