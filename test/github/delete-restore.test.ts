// Deleting and restoring packages and versions (docs "Deleting and restoring a package"): soft deletion hidden from
// /v2 at once, restore within the window (tags given back unless re-used), name reuse, GitHub's rules, the purge.
import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { api, assertGithubError, createToken, sql } from '../helpers/github.js';
import { assertOciError, MEDIA, pushImage, pushManifest, registryFetch, useAuthorization, type PushedImage } from '../helpers/http.js';

interface Version { id: number; name: string; deleted_at?: string; metadata: { container: { tags: string[] } } }
interface Pkg { id: number; name: string; version_count: number }

const DAY = 86_400_000;
const ROOT = new URL('../..', import.meta.url).pathname;
let berth: RunningBerth;

before(async () => {
  berth = await startBerth({ env: { BERTH_PACKAGES_PURGE_INTERVAL: '200ms', BERTH_PACKAGES_DELETE_DOWNLOAD_LIMIT: '3' } });
  useAuthorization(berth.authorization);
});
after(() => berth.stop());

/** Versions of the repository `acme/<pkg>` (`name` is the full repository name). */
const versions = async (name: string, state = 'active'): Promise<Version[]> => {
  const pkg = encodeURIComponent(name.slice('acme/'.length));
  const res = await api<Version[]>(berth, `/v3/orgs/acme/packages/container/${pkg}/versions?state=${state}`);
  assert.equal(res.status, 200, res.text);
  return res.body;
};
const versionOf = async (name: string, digest: string, state = 'active'): Promise<Version> => (await versions(name, state)).find((v) => v.name === digest)!;
const pull = (name: string, reference: string, method = 'GET'): Promise<Response> =>
  registryFetch(`${berth.url}/v2/${name}/manifests/${reference}`, { method, headers: { Accept: MEDIA.ociManifest } });
const tagsOf = async (name: string): Promise<string[]> => ((await (await registryFetch(`${berth.url}/v2/${name}/tags/list`)).json()) as { tags: string[] }).tags;

describe('deleting and restoring a version', () => {
  let one: PushedImage;
  let two: PushedImage;

  before(async () => {
    one = await pushImage(berth.url, 'acme/app', 'one', 'v1');
    await pushManifest(berth.url, 'acme/app', 'stable', one.bytes, MEDIA.ociManifest);
    two = await pushImage(berth.url, 'acme/app', 'two', 'latest');
  });

  it('removes the version and its tags from /v2 and from the active list', async () => {
    const v = await versionOf('acme/app', one.digest);
    const res = await api(berth, `/v3/orgs/acme/packages/container/app/versions/${v.id}`, { method: 'DELETE' });
    assert.equal(res.status, 204, res.text);
    assert.equal(res.text, '');

    await assertOciError(await pull('acme/app', 'v1'), 404, 'MANIFEST_UNKNOWN');
    await assertOciError(await pull('acme/app', one.digest), 404, 'MANIFEST_UNKNOWN');
    assert.equal((await pull('acme/app', one.digest, 'HEAD')).status, 404);
    assert.equal((await pull('acme/app', 'latest')).status, 200, 'the other version is untouched');
    assert.deepEqual(await tagsOf('acme/app'), ['latest']);

    assert.deepEqual((await versions('acme/app')).map((x) => x.name), [two.digest]);
    const deleted = await versions('acme/app', 'deleted');
    assert.deepEqual(deleted.map((x) => x.name), [one.digest]);
    assert.match(deleted[0]!.deleted_at!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(deleted[0]!.metadata.container.tags, ['stable', 'v1'], 'a deleted version shows the tags a restore would give back');
    assertGithubError(await api(berth, `/v3/orgs/acme/packages/container/app/versions/${v.id}`), 404, 'Package version not found.');
    assert.equal((await api<Pkg>(berth, '/v3/orgs/acme/packages/container/app')).body.version_count, 1);
    assertGithubError(await api(berth, `/v3/orgs/acme/packages/container/app/versions/${v.id}`, { method: 'DELETE' }), 404, 'Package version not found.');
  });

  it('restores it with the tags no other version took meanwhile', async () => {
    const three = await pushImage(berth.url, 'acme/app', 'three', 'v1'); // re-uses the tag v1
    const v = await versionOf('acme/app', one.digest, 'deleted');
    const res = await api(berth, `/v3/orgs/acme/packages/container/app/versions/${v.id}/restore`, { method: 'POST' });
    assert.equal(res.status, 204, res.text);
    const restored = await versionOf('acme/app', one.digest);
    assert.equal(restored.id, v.id, 'same version id');
    assert.deepEqual(restored.metadata.container.tags, ['stable']);
    assert.deepEqual((await versionOf('acme/app', three.digest)).metadata.container.tags, ['v1'], 'v1 stays where it was re-pushed');
    assert.equal((await pull('acme/app', one.digest)).status, 200);
    assert.equal((await pull('acme/app', 'stable')).headers.get('docker-content-digest'), one.digest);
    assert.deepEqual(await versions('acme/app', 'deleted'), []);
    assert.equal((await api<Pkg>(berth, '/v3/orgs/acme/packages/container/app')).body.version_count, 3, 'one, two and three');
    assertGithubError(await api(berth, `/v3/orgs/acme/packages/container/app/versions/${v.id}/restore`, { method: 'POST' }), 404, 'Package version not found.');
  });

  it('brings a deleted version back when the same manifest is pushed again', async () => {
    const v = await versionOf('acme/app', two.digest);
    assert.equal((await api(berth, `/v3/orgs/acme/packages/container/app/versions/${v.id}`, { method: 'DELETE' })).status, 204);
    await assertOciError(await pull('acme/app', two.digest), 404, 'MANIFEST_UNKNOWN');
    await pushManifest(berth.url, 'acme/app', 'again', two.bytes, MEDIA.ociManifest);
    const back = await versionOf('acme/app', two.digest);
    assert.equal(back.id, v.id);
    assert.deepEqual(back.metadata.container.tags, ['again'], 'its old tags stay gone');
    assert.deepEqual(await versions('acme/app', 'deleted'), []);
    const count = async (): Promise<number> => (await api<Pkg>(berth, '/v3/orgs/acme/packages/container/app')).body.version_count;
    assert.equal(await count(), 3);
    // Deleted through /v2: for good, and out of the count at once.
    assert.equal((await registryFetch(`${berth.url}/v2/acme/app/manifests/${two.digest}`, { method: 'DELETE' })).status, 202);
    assert.equal(await count(), 2);
  });

  it('refuses to delete the last version of a package (delete the package instead)', async () => {
    await pushImage(berth.url, 'acme/solo', 'solo', 'v1');
    const [v] = await versions('acme/solo');
    assertGithubError(await api(berth, `/v3/orgs/acme/packages/container/solo/versions/${v!.id}`, { method: 'DELETE' }), 400,
      'You cannot delete the last version of a package. You must delete the package instead.');
  });

  it('forgets a referrer whose version was deleted', async () => {
    const subject = await pushImage(berth.url, 'acme/signed', 'subject', 'v1');
    const sig = await pushImage(berth.url, 'acme/signed', 'signature', undefined, { subject: subject.descriptor, artifactType: 'application/vnd.test.sig' });
    const referrers = async (): Promise<string[]> =>
      ((await (await registryFetch(`${berth.url}/v2/acme/signed/referrers/${subject.digest}`)).json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest);
    assert.deepEqual(await referrers(), [sig.digest]);
    const v = await versionOf('acme/signed', sig.digest);
    assert.equal((await api(berth, `/v3/orgs/acme/packages/container/signed/versions/${v.id}`, { method: 'DELETE' })).status, 204);
    assert.deepEqual(await referrers(), []);
  });
});

describe('deleting and restoring a package', () => {
  it('hides a deleted package everywhere, then restores it as it was', async () => {
    const image = await pushImage(berth.url, 'acme/gone', 'gone', 'v1');
    const before = (await api<Pkg>(berth, '/v3/orgs/acme/packages/container/gone')).body;
    const res = await api(berth, '/v3/orgs/acme/packages/container/gone', { method: 'DELETE' });
    assert.equal(res.status, 204, res.text);

    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/gone'), 404, 'Package not found.');
    const list = (await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container')).body.map((p) => p.name);
    assert.ok(!list.includes('gone'), `listed: ${list.join(', ')}`);
    await assertOciError(await pull('acme/gone', 'v1'), 404, 'NAME_UNKNOWN');
    await assertOciError(await pull('acme/gone', image.digest), 404, 'NAME_UNKNOWN');
    await assertOciError(await registryFetch(`${berth.url}/v2/acme/gone/tags/list`), 404, 'NAME_UNKNOWN');
    await assertOciError(await registryFetch(`${berth.url}/v2/acme/gone/blobs/${image.config.digest}`), 404, 'BLOB_UNKNOWN');
    const catalog = ((await (await registryFetch(`${berth.url}/v2/_catalog`)).json()) as { repositories: string[] }).repositories;
    assert.ok(catalog.every((n) => !n.startsWith('acme/gone')), `catalog: ${catalog.join(', ')}`);
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/gone', { method: 'DELETE' }), 404, 'Package not found.');

    const restore = await api(berth, '/v3/orgs/acme/packages/container/gone/restore', { method: 'POST' });
    assert.equal(restore.status, 204, restore.text);
    const after = (await api<Pkg>(berth, '/v3/orgs/acme/packages/container/gone')).body;
    assert.equal(after.id, before.id, 'same package id');
    assert.equal(after.version_count, 1);
    assert.equal((await pull('acme/gone', 'v1')).headers.get('docker-content-digest'), image.digest);
    assert.equal((await registryFetch(`${berth.url}/v2/acme/gone/blobs/${image.config.digest}`)).status, 200);
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/gone/restore', { method: 'POST' }), 404, 'Package not found.');
  });

  it('lets the name be pushed again at once; restoring the old package then waits until the new one is deleted', async () => {
    await pushImage(berth.url, 'acme/reuse', 'first', 'v1');
    const old = (await api<Pkg>(berth, '/v3/orgs/acme/packages/container/reuse')).body;
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/reuse', { method: 'DELETE' })).status, 204);
    const second = await pushImage(berth.url, 'acme/reuse', 'second', 'v2');
    const fresh = (await api<Pkg>(berth, '/v3/orgs/acme/packages/container/reuse')).body;
    assert.notEqual(fresh.id, old.id, 'a new package');
    assert.equal(fresh.version_count, 1);
    await assertOciError(await pull('acme/reuse', 'v1'), 404, 'MANIFEST_UNKNOWN');
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/reuse/restore', { method: 'POST' }), 409, /delete the new package first/);

    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/reuse', { method: 'DELETE' })).status, 204);
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/reuse/restore', { method: 'POST' })).status, 204);
    assert.equal((await api<Pkg>(berth, '/v3/orgs/acme/packages/container/reuse')).body.id, fresh.id, 'the most recently deleted one comes back');
    assert.equal((await pull('acme/reuse', 'v2')).headers.get('docker-content-digest'), second.digest);
  });

  it('answers 409, not 500, when a push of the same name commits while the restore runs (PostgreSQL)', async (t) => {
    if (!berth.metadataUrl.startsWith('postgres')) return t.skip('SQLite runs one transaction at a time: no interleaving');
    await pushImage(berth.url, 'acme/raced', 'raced', 'v1');
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/raced', { method: 'DELETE' })).status, 204);
    // A first push of the name, caught between the restore's check and its update: inserted, not yet committed.
    const client = new pg.Client({ connectionString: berth.metadataUrl });
    await client.connect();
    try {
      await client.query('begin');
      await client.query("insert into repositories (name, owner, created_at, updated_at) values ('acme/raced', 'acme', 0, 0)");
      const restore = api(berth, '/v3/orgs/acme/packages/container/raced/restore', { method: 'POST' });
      await sleep(500); // the restore's update now waits on our row in the unique index
      await client.query('commit');
      assertGithubError(await restore, 409, /delete the new package first/);
    } finally {
      await client.end();
    }
  });

  it('is not readable under its tombstone name, through the REST API or the web pages, by anyone', async () => {
    await pushImage(berth.url, 'acme/tomb', 'tomb', 'v1');
    await berth.admin((s) => s.packages.setVisibility('acme/tomb', 'public'));
    const pkg = (await api<Pkg>(berth, '/v3/orgs/acme/packages/container/tomb')).body;
    const [version] = (await api<Version[]>(berth, '/v3/orgs/acme/packages/container/tomb/versions')).body;
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/tomb', { method: 'DELETE' })).status, 204);
    const tomb = encodeURIComponent(`tomb~deleted-${pkg.id}`);
    // Not even to the package's admin (the REST API always needs a token); the web pages not to visitors either.
    for (const path of [`/v3/orgs/acme/packages/container/${tomb}`, `/v3/orgs/acme/packages/container/${tomb}/versions`,
      `/v3/orgs/acme/packages/container/${tomb}/versions/${version!.id}`]) {
      assertGithubError(await api(berth, path), 404);
    }
    for (const page of [`/orgs/acme/packages/container/package/${tomb}`, `/orgs/acme/packages/container/${tomb}/${version!.id}`]) {
      const res = await berth.fetch(page, { auth: null });
      assert.equal(res.status, 404, `${page}: ${res.status}`);
      assert.doesNotMatch(await res.text(), /sha256:/, 'nothing of the version is shown');
    }
    // Restore (and the deleted listing) still find it by its own name.
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/tomb/restore', { method: 'POST' })).status, 204);
    assert.equal((await api(berth, `/v3/orgs/acme/packages/container/tomb/versions/${version!.id}`)).status, 200);
  });

  it('works the same through /user and /users/{username}', async () => {
    await pushImage(berth.url, 'tester/tool', 'tool', 'v1');
    assert.equal((await api(berth, '/v3/user/packages/container/tool', { method: 'DELETE' })).status, 204);
    assertGithubError(await api(berth, '/v3/users/tester/packages/container/tool'), 404, 'Package not found.');
    assert.equal((await api(berth, '/v3/users/tester/packages/container/tool/restore', { method: 'POST' })).status, 204);
    const [v] = (await api<Version[]>(berth, '/v3/user/packages/container/tool/versions')).body;
    assert.deepEqual(v!.metadata.container.tags, ['v1']);
  });
});

describe('who may delete and restore', () => {
  let writer: string;
  let writerNoDelete: string;
  let readDelete: string;
  let outsider: string;

  before(async () => {
    await pushImage(berth.url, 'acme/guarded', 'g1', 'v1');
    await pushImage(berth.url, 'acme/guarded', 'g2', 'v2');
    await berth.admin(async (s) => {
      await s.accounts.createUser({ login: 'writer' });
      await s.accounts.createUser({ login: 'outsider' });
      await s.packages.grant('acme/guarded', { type: 'user', id: (await s.accounts.getUser('writer')).id }, 'write');
    });
    writer = `Bearer ${await createToken(berth, 'writer', ['write:packages', 'delete:packages'])}`;
    writerNoDelete = `Bearer ${await createToken(berth, 'tester', ['write:packages'])}`;
    readDelete = `Bearer ${await createToken(berth, 'tester', ['read:packages', 'delete:packages'])}`;
    outsider = `Bearer ${await createToken(berth, 'outsider', ['write:packages', 'delete:packages'])}`;
  });

  it('needs the delete:packages scope to delete, and says so with X-Accepted-OAuth-Scopes', async () => {
    const res = await api(berth, '/v3/orgs/acme/packages/container/guarded', { method: 'DELETE', auth: writerNoDelete });
    assertGithubError(res, 403, /delete:packages/);
    assert.equal(res.headers.get('x-accepted-oauth-scopes'), 'delete:packages, read:packages');
    assert.equal(res.headers.get('x-oauth-scopes'), 'write:packages');
  });

  it('needs the admin role: a writer is refused, an outsider does not even see the package', async () => {
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/guarded', { method: 'DELETE', auth: writer }), 403, /admin/);
    const [v] = (await api<Version[]>(berth, '/v3/orgs/acme/packages/container/guarded/versions')).body;
    assertGithubError(await api(berth, `/v3/orgs/acme/packages/container/guarded/versions/${v!.id}`, { method: 'DELETE', auth: writer }), 403, /admin/);
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/guarded', { method: 'DELETE', auth: outsider }), 404, 'Package not found.');
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/guarded', { method: 'DELETE', auth: null }), 401, 'Requires authentication');
  });

  it('needs write:packages and the admin role to restore', async () => {
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/guarded', { method: 'DELETE', auth: readDelete })).status, 204);
    const res = await api(berth, '/v3/orgs/acme/packages/container/guarded/restore', { method: 'POST', auth: readDelete });
    assertGithubError(res, 403, /write:packages/);
    assert.equal(res.headers.get('x-accepted-oauth-scopes'), 'read:packages, write:packages');
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/guarded/restore', { method: 'POST', auth: writer }), 403, /admin/);
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/guarded/restore', { method: 'POST', auth: outsider }), 404, 'Package not found.');
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/guarded/restore', { method: 'POST', auth: writerNoDelete })).status, 204);
  });
});

describe('CI tokens', () => {
  /** `berth token create` as the operator runs it, on the server's data. */
  const cli = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [builtCli(), ...args, '--data', berth.dataDir], {
      cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...berth.metadataEnv, BERTH_LOG_LEVEL: 'warn' },
    });
    return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
  };
  const ciToken = (...extra: string[]): string => {
    const r = cli('token', 'create', '--user', 'tester', '--ci-package', 'acme/ci-app', '--expires', '1h', ...extra);
    assert.equal(r.status, 0, r.stderr);
    return `Bearer ${r.stdout}`;
  };

  it('pull and push only: no delete or restore through the creator\'s admin role unless created with --allow-delete', async () => {
    const one = await pushImage(berth.url, 'acme/ci-app', 'ci-one', 'v1');
    const two = await pushImage(berth.url, 'acme/ci-app', 'ci-two', 'v2');
    const first = await versionOf('acme/ci-app', one.digest);
    const second = await versionOf('acme/ci-app', two.digest);
    assert.equal((await api(berth, `/v3/orgs/acme/packages/container/ci-app/versions/${first.id}`, { method: 'DELETE' })).status, 204);

    const refused = cli('token', 'create', '--user', 'tester', '--ci-package', 'acme/ci-app', '--expires', '1h', '--scopes', 'write:packages,delete:packages');
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /--allow-delete/);

    const plain = ciToken('--scopes', 'write:packages');
    assertGithubError(await api(berth, `/v3/orgs/acme/packages/container/ci-app/versions/${first.id}/restore`, { method: 'POST', auth: plain }), 403,
      /This CI token may only pull and push; to restore its versions, create the CI token with --allow-delete/);
    assertGithubError(await api(berth, `/v3/orgs/acme/packages/container/ci-app/versions/${second.id}`, { method: 'DELETE', auth: plain }), 403, /delete:packages/);
    assert.deepEqual((await versions('acme/ci-app', 'deleted')).map((v) => v.name), [one.digest], 'nothing changed');

    const allowed = ciToken('--scopes', 'write:packages', '--allow-delete');
    assert.equal((await api(berth, `/v3/orgs/acme/packages/container/ci-app/versions/${first.id}/restore`, { method: 'POST', auth: allowed })).status, 204);
    assert.equal((await api(berth, `/v3/orgs/acme/packages/container/ci-app/versions/${second.id}`, { method: 'DELETE', auth: allowed })).status, 204);
  });
});

describe('the download limit on public packages', () => {
  it('refuses to delete a public version or package downloaded more than the limit; private ones may go', async () => {
    const hot = await pushImage(berth.url, 'acme/popular', 'hot', 'v1');
    await pushImage(berth.url, 'acme/popular', 'cold', 'v2');
    await berth.admin((s) => s.packages.setVisibility('acme/popular', 'public'));
    for (let i = 0; i < 4; i++) assert.equal((await pull('acme/popular', 'v1')).status, 200);
    const v = await versionOf('acme/popular', hot.digest);
    assertGithubError(await api(berth, `/v3/orgs/acme/packages/container/popular/versions/${v.id}`, { method: 'DELETE' }), 400,
      /^Publicly visible package versions with more than 3 downloads cannot be deleted\./);
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/popular', { method: 'DELETE' }), 400,
      /^Publicly visible packages with a version with more than 3 downloads cannot be deleted\./);
    await berth.admin((s) => s.packages.setVisibility('acme/popular', 'private'));
    assert.equal((await api(berth, `/v3/orgs/acme/packages/container/popular/versions/${v.id}`, { method: 'DELETE' })).status, 204);
  });

  it('lets a public version at or under the limit go', async () => {
    await pushImage(berth.url, 'acme/quiet', 'q1', 'v1');
    const q2 = await pushImage(berth.url, 'acme/quiet', 'q2', 'v2');
    await berth.admin((s) => s.packages.setVisibility('acme/quiet', 'public'));
    for (let i = 0; i < 3; i++) assert.equal((await pull('acme/quiet', 'v2')).status, 200);
    const v = await versionOf('acme/quiet', q2.digest);
    assert.equal((await api(berth, `/v3/orgs/acme/packages/container/quiet/versions/${v.id}`, { method: 'DELETE' })).status, 204);
  });
});

describe('the restore window and the purge', () => {
  it('cannot restore a package deleted more than 30 days ago; the purge job then deletes its rows', async () => {
    const image = await pushImage(berth.url, 'acme/old', 'old', 'v1');
    const { id } = (await api<Pkg>(berth, '/v3/orgs/acme/packages/container/old')).body;
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/old', { method: 'DELETE' })).status, 204);
    // 29 days ago: still restorable (and not purged).
    await sql(berth, 'update repositories set deleted_at = deleted_at - ? where id = ?', 29 * DAY, id);
    await sleep(500);
    assert.equal((await sql(berth, 'select id from repositories where id = ?', id)).length, 1, 'not purged inside the window');
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/old/restore', { method: 'POST' })).status, 204);
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/old', { method: 'DELETE' })).status, 204);

    await sql(berth, 'update repositories set deleted_at = deleted_at - ? where id = ?', 31 * DAY, id);
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/old/restore', { method: 'POST' }), 404, 'Package not found.');
    for (let i = 0; i < 50 && (await sql(berth, 'select id from repositories where id = ?', id)).length > 0; i++) await sleep(100);
    assert.deepEqual(await sql(berth, 'select id from repositories where id = ?', id), [], 'purged');
    assert.deepEqual(await sql(berth, 'select id from manifests where repository_id = ?', id), []);
    assert.deepEqual(await sql(berth, 'select name from tags where repository_id = ?', id), []);
    assert.deepEqual(await sql(berth, 'select digest from repository_blobs where repository_id = ?', id), []);
    assert.equal((await sql(berth, 'select digest from blobs where digest = ?', image.config.digest)).length, 1, 'blobs stay for GC');
  });

  it('cannot restore a version deleted more than 30 days ago; the purge job then deletes it', async () => {
    const a = await pushImage(berth.url, 'acme/aging', 'a', 'v1');
    await pushImage(berth.url, 'acme/aging', 'b', 'v2');
    const v = await versionOf('acme/aging', a.digest);
    assert.equal((await api(berth, `/v3/orgs/acme/packages/container/aging/versions/${v.id}`, { method: 'DELETE' })).status, 204);
    await sql(berth, 'update manifests set deleted_at = deleted_at - ? where id = ?', 31 * DAY, v.id);
    assertGithubError(await api(berth, `/v3/orgs/acme/packages/container/aging/versions/${v.id}/restore`, { method: 'POST' }), 404, 'Package version not found.');
    for (let i = 0; i < 50 && (await sql(berth, 'select id from manifests where id = ?', v.id)).length > 0; i++) await sleep(100);
    assert.deepEqual(await sql(berth, 'select id from manifests where id = ?', v.id), [], 'purged');
    assert.deepEqual(await sql(berth, 'select name from deleted_tags where manifest_id = ?', v.id), []);
    assert.deepEqual(await versions('acme/aging', 'deleted'), []);
  });
});
