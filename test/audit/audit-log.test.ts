// The audit log (README "Audit log"): every surface's changes recorded by the services (skopeo pushes, REST deletes
// and restores, CLI membership and token changes, web UI sign-ins, refused credentials), read back through GitHub's
// org audit-log API with phrase filters and cursor pagination, and exported with `berth audit --json`; no secret
// in any record; only the organization's owners may read it.
import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { skopeoCopy } from '../helpers/clients.js';
import { api, assertGithubError, createToken } from '../helpers/github.js';
import { writeImageLayout } from '../helpers/oci-image.js';
import { signInForm } from '../helpers/sign-in.js';

const ROOT = new URL('../..', import.meta.url).pathname;
let berth: RunningBerth;
let work: string;
/** Every secret the scenario used: none may appear in any record, through any reader. */
const secrets: string[] = [];

interface Entry {
  '@timestamp': number; _document_id: string; action: string; actor: string | null; actor_id: number | null; actor_ip: string | null;
  user_agent: string | null; token_id?: number; created_at: number; org: string | null; org_id: number | null; repo?: string; package?: string;
  target: string | null; data: { before?: Record<string, unknown>; after?: Record<string, unknown> };
}

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [builtCli(), ...args, '--data', berth.dataDir], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...berth.metadataEnv, BERTH_LOG_LEVEL: 'warn' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const log = (query = '', auth?: string | null) => api<Entry[]>(berth, `/v3/orgs/acme/audit-log${query}`, auth === undefined ? {} : { auth });
const actions = (entries: Entry[]): string[] => entries.map((e) => e.action);
/** `rel` → URL path and query of the Link header. */
function links(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/<([^>]+)>; rel="(\w+)"/g)) out[m[2]!] = new URL(m[1]!).pathname.replace(/^\/api/, '') + new URL(m[1]!).search;
  return out;
}

before(async () => {
  berth = await startBerth({ env: { BERTH_AUTH_FAILED_LOGIN_LIMIT: '1000', BERTH_AUTH_FAILED_LOGIN_WINDOW: '1h', BERTH_WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true' } });
  secrets.push(berth.token, 'tester-password');
  work = mkdtempSync(join(tmpdir(), 'berth-audit-'));
  await writeImageLayout(join(work, 'one'), { layers: [1024], tag: 'x' });
  await writeImageLayout(join(work, 'two'), { layers: [1024], tag: 'x' });
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'alice', password: 'alice-password-1' });
    await s.accounts.createUser({ login: 'bob', password: 'bob-password-12' });
  });
  secrets.push('alice-password-1', 'bob-password-12');

  // Pushes with skopeo: a new version (package.push), the same manifest under a new tag (tag.move), a new version
  // moving 1.0 (package.push, with the digest the tag had).
  const creds = `${berth.user}:${berth.token}`;
  await skopeoCopy(`oci:${join(work, 'one')}:x`, `docker://${berth.host}/acme/api:1.0`, [], { creds });
  await skopeoCopy(`oci:${join(work, 'one')}:x`, `docker://${berth.host}/acme/api:stable`, [], { creds });
  await skopeoCopy(`oci:${join(work, 'two')}:x`, `docker://${berth.host}/acme/api:1.0`, [], { creds });

  // Memberships and tokens with the CLI.
  for (const args of [['org', 'add-member', 'acme', 'alice'], ['org', 'add-member', 'acme', 'alice', '--owner'], ['org', 'add-member', 'acme', 'bob']]) {
    const r = cli(...args);
    assert.equal(r.status, 0, r.stderr);
  }
  const made = cli('token', 'create', '--user', 'alice', '--scopes', 'write:packages', '--ci-package', 'acme/api', '--expires', '1h');
  assert.equal(made.status, 0, made.stderr);
  secrets.push(made.stdout.trim());
  const [row] = await berth.query<{ id: number }>('select id from access_tokens where user_id = (select id from accounts where login = ?) order by id desc', 'alice');
  const revoked = cli('token', 'revoke', String(row!.id), '--user', 'alice');
  assert.equal(revoked.status, 0, revoked.stderr);

  // Delete and restore the first version through the REST API.
  const versions = await api<{ id: number; name: string; metadata: { container: { tags: string[] } } }[]>(berth, '/v3/orgs/acme/packages/container/api/versions');
  const old = versions.body.find((v) => v.metadata.container.tags.includes('stable'))!;
  assert.equal((await api(berth, `/v3/orgs/acme/packages/container/api/versions/${old.id}`, { method: 'DELETE' })).status, 204);
  assert.equal((await api(berth, `/v3/orgs/acme/packages/container/api/versions/${old.id}/restore`, { method: 'POST' })).status, 204);

  // A visibility change with the CLI; a hook whose URL and secret must not reach the log.
  const visible = cli('package', 'visibility', 'acme/api', 'public');
  assert.equal(visible.status, 0, visible.stderr);
  secrets.push('hook-secret-value', 'path-secret-value');
  const hook = await api(berth, '/v3/orgs/acme/hooks', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'web', config: { url: 'http://127.0.0.1:9/hooks/path-secret-value', content_type: 'json', secret: 'hook-secret-value' }, events: ['package'] }),
  });
  assert.equal(hook.status, 201, hook.text);

  // Sign-ins: a wrong password, then the right one; a bogus token on /v2.
  secrets.push('wrong-password-x');
  assert.equal((await signInForm(berth, 'tester', 'wrong-password-x')).status, 401);
  assert.ok((await signInForm(berth, 'tester', 'tester-password')).session);
  const bogus = `berth_pat_${'A'.repeat(30)}`;
  secrets.push(bogus);
  const refused = await berth.fetch('/v2/acme/api/tags/list', { auth: `Basic ${Buffer.from(`tester:${bogus}`).toString('base64')}` });
  assert.equal(refused.status, 401);
});
after(async () => {
  await berth.stop();
  await rm(work, { recursive: true, force: true });
});

describe('the organization audit log (GET /api/v3/orgs/{org}/audit-log)', () => {
  it('lists what the REST API, skopeo and the CLI did, newest first, in GitHub\'s shape', async () => {
    const res = await log('?per_page=100');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(actions(res.body).reverse(), [
      'org.create',
      'package.push', 'tag.move', 'package.push',
      'org.add_member', 'org.update_member', 'org.add_member',
      'token.create', 'token.revoke',
      'package_version.delete', 'package_version.restore',
      'package.visibility_change', 'hook.create',
    ]);
    const [push] = res.body.filter((e) => e.action === 'package.push');
    assert.equal(push!.actor, 'tester');
    assert.equal(typeof push!.actor_id, 'number');
    assert.equal(push!.org, 'acme');
    assert.equal(push!.repo, 'acme/api');
    assert.equal(push!.package, 'api');
    assert.match(push!.user_agent ?? '', /skopeo|containers/i);
    assert.ok(push!.actor_ip);
    const [{ id: seededToken }] = await berth.query<{ id: number }>('select id from access_tokens where note = ? order by id limit 1', 'tests') as [{ id: number }];
    assert.equal(push!.token_id, seededToken, 'the token by id');
    assert.equal(push!['@timestamp'], push!.created_at);
    assert.ok(Math.abs(push!.created_at - Date.now()) < 3_600_000);
    assert.equal(typeof push!._document_id, 'string');
    // The newer push moved 1.0 off the first version: before and after name both digests.
    assert.equal(push!.data.before?.tag, '1.0');
    assert.notEqual(push!.data.before?.digest, push!.data.after?.digest);
    const update = res.body.find((e) => e.action === 'org.update_member')!;
    assert.deepEqual(update.data, { before: { role: 'member' }, after: { role: 'owner' } });
    assert.equal(update.target, 'alice');
    assert.equal(update.actor, null, 'the CLI has no Berth account');
    assert.match(update.user_agent ?? '', /^berth-cli/);
    const del = res.body.find((e) => e.action === 'package_version.delete')!;
    assert.equal(del.actor, 'tester');
    assert.deepEqual(del.data.before, { tags: ['stable'] });
    assert.equal(res.body.find((e) => e.action === 'token.create')!.target?.startsWith('alice:token:'), true);
    assert.deepEqual(res.body.find((e) => e.action === 'package.visibility_change')!.data, { before: { visibility: 'private' }, after: { visibility: 'public' } });
    assert.deepEqual(res.body.find((e) => e.action === 'hook.create')!.data.after, { url: 'http://127.0.0.1:9', events: ['package'], active: true, secret: true });
  });

  it('filters by phrase: action (name or category), actor, repo/package and created', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const cases: [string, string[]][] = [
      ['action:package.push', ['package.push', 'package.push']],
      ['action:org', ['org.add_member', 'org.update_member', 'org.add_member', 'org.create']],
      ['action:token', ['token.revoke', 'token.create']],
      ['actor:TESTER action:package_version', ['package_version.restore', 'package_version.delete']],
      ['repo:acme/api action:tag', ['tag.move']],
      ['package:api action:tag.move', ['tag.move']],
      [`created:${today} action:token.create`, ['token.create']],
      [`created:<${today}`, []],
      ['actor:nobody', []],
    ];
    for (const [phrase, want] of cases) {
      const res = await log(`?phrase=${encodeURIComponent(phrase)}`);
      assert.equal(res.status, 200, `${phrase}: ${res.text}`);
      assert.deepEqual(actions(res.body), want, phrase);
    }
    assertGithubError(await log(`?phrase=${encodeURIComponent('org:acme')}`), 422);
    assertGithubError(await log(`?phrase=${encodeURIComponent('created:yesterday')}`), 422);
  });

  it('pages with after/before cursors and a Link header, each record once', async () => {
    const all = (await log('?per_page=100')).body.map((e) => e._document_id);
    const seen: string[] = [];
    let next: string | undefined = '/v3/orgs/acme/audit-log?per_page=3';
    const pages: Entry[][] = [];
    while (next) {
      const res: Awaited<ReturnType<typeof log>> = await api<Entry[]>(berth, next);
      assert.equal(res.status, 200, res.text);
      assert.ok(res.body.length <= 3);
      pages.push(res.body);
      seen.push(...res.body.map((e) => e._document_id));
      const l = links(res.headers.get('link'));
      if (pages.length > 1) assert.ok(l.prev && l.first, `prev and first from page ${pages.length}: ${res.headers.get('link')}`);
      next = l.next;
    }
    assert.deepEqual(seen, all);
    assert.equal(pages.length, Math.ceil(all.length / 3));
    // Back from the second page: the first page again.
    const second = await api<Entry[]>(berth, `/v3/orgs/acme/audit-log?per_page=3&after=${encodeURIComponent(pages[0]![2]!._document_id)}`);
    const back = links(second.headers.get('link')).prev!;
    assert.deepEqual((await api<Entry[]>(berth, back)).body.map((e) => e._document_id), pages[0]!.map((e) => e._document_id));
    assertGithubError(await log('?after=not-a-cursor'), 422);
  });

  it('is for the organization\'s owners only: members get 404, as for an organization they cannot see', async () => {
    const bob = await createToken(berth, 'bob', ['read:packages']);
    const alice = await createToken(berth, 'alice', ['read:packages']);
    secrets.push(bob, alice);
    assertGithubError(await log('', `Bearer ${bob}`), 404);
    assert.equal((await log('', `Bearer ${alice}`)).status, 200, 'alice was made an owner');
    assertGithubError(await log('', null), 401);
    assertGithubError(await api(berth, '/v3/orgs/nosuch/audit-log'), 404);
  });
});

describe('berth audit (export)', () => {
  it('prints the instance\'s records as JSON lines, sign-ins and refused tokens included; --org narrows', async () => {
    const r = cli('audit', '--json', '--since', '1h');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { action: string; actor: string | null; actor_ip: string | null; org: string | null; after: Record<string, unknown> | null });
    const names = lines.map((l) => l.action);
    for (const a of ['user.create', 'user.failed_login', 'user.login', 'token.failed_use', 'package.push', 'token.revoke']) assert.ok(names.includes(a), `${a} in ${names.join(', ')}`);
    const failed = lines.find((l) => l.action === 'user.failed_login')!;
    assert.equal(failed.actor, 'tester');
    assert.deepEqual(failed.after, { reason: 'wrong password' });
    assert.ok(failed.actor_ip);
    const use = lines.find((l) => l.action === 'token.failed_use')!;
    assert.match(String(use.after?.reason), /^(malformed|unknown)$/);
    assert.ok(use.actor_ip);
    const org = cli('audit', '--org', 'acme', '--json');
    assert.equal(org.status, 0, org.stderr);
    const orgLines = org.stdout.trim().split('\n').map((l) => JSON.parse(l) as { org: string });
    assert.ok(orgLines.length >= 10 && orgLines.every((l) => l.org === 'acme'));
    const table = cli('audit', '--org', 'acme');
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^TIME\s+ACTION\s+ACTOR/);
    assert.match(table.stdout, /package_version\.restore\s+tester/);
    assert.equal(cli('audit', '--org', 'nosuch').status, 1);
    assert.equal(cli('audit', '--since', 'soon').status, 2);
  });

  it('no record holds a secret: not the tokens, not the passwords', async () => {
    const everything = cli('audit', '--json').stdout + (await log('?per_page=100')).text
      + JSON.stringify(await berth.query('select * from audit_log'));
    assert.ok(secrets.length >= 7);
    for (const secret of secrets) assert.ok(!everything.includes(secret), `a secret (${secret.slice(0, 12)}…) in the audit log`);
  });
});
