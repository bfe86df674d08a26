// Berth's own events (README "Webhooks"), each delivered to a real receiver on loopback and checked against the
// hook's HMAC signature: a tag moved onto another digest and a tag deleted (`berth_package_version`), a visibility
// change, a package delete and restore (`berth_package`), a retention run's summary (`berth_retention`), and a
// push crossing the quota warning threshold (`berth_quota`).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { builtCli } from '../helpers/built-cli.js';
import { api } from '../helpers/github.js';
import { pushImage, useAuthorization } from '../helpers/http.js';
import { Receiver, signedWith, until, type Received } from '../helpers/webhook-receiver.js';

const SECRET = 'berth-events-secret';
let berth: RunningBerth;
let rx: Receiver;

interface Pkg { name: string; visibility: string; package_version?: { name: string; container_metadata: { tag: { name: string; digest: string } }; metadata: { container: { tags: string[] } } } }

/** The first event of `event`/`action` after `from` received ones, its signature checked. */
async function next(event: string, action: string, from = 0): Promise<Received & { pkg: Pkg }> {
  const got = await until(`${event}.${action}`, () => rx.received.slice(from).find((r) => r.headers['x-github-event'] === event && r.body.action === action));
  assert.ok(signedWith(got, SECRET), `${event}.${action} is signed with the hook's secret`);
  return Object.assign(got, { pkg: got.body.package as Pkg });
}

before(async () => {
  rx = await new Receiver().start();
  berth = await startBerth({ env: { BERTH_WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true', BERTH_WEBHOOKS_POLL_INTERVAL: '200ms' } });
  useAuthorization(berth.authorization);
  const res = await api(berth, '/v3/orgs/acme/hooks', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ config: { url: rx.url, content_type: 'json', secret: SECRET }, events: ['berth_package_version', 'berth_package', 'berth_retention'] }),
  });
  assert.equal(res.status, 201, res.text);
});
after(async () => {
  useAuthorization(null);
  await berth?.stop();
  await rx?.stop();
});

it('a tag moved onto another digest is tag_moved with the digest it left; a deleted tag is tag_deleted', async () => {
  const one = await pushImage(berth.url, 'acme/moving', 'one', 'stable');
  const two = await pushImage(berth.url, 'acme/moving', 'two', 'stable');
  const moved = await next('berth_package_version', 'tag_moved');
  assert.equal(moved.body.changes !== undefined, true);
  assert.deepEqual(moved.body.changes, { tag: { name: 'stable', from: one.digest } });
  assert.equal(moved.pkg.package_version!.name, two.digest);
  assert.deepEqual(moved.pkg.package_version!.container_metadata.tag, { name: 'stable', digest: two.digest });
  assert.equal((moved.body.sender as { login: string }).login, berth.user);
  // The first push of a tag moves nothing: exactly one tag_moved so far.
  assert.equal(rx.received.filter((r) => r.body.action === 'tag_moved').length, 1);

  const from = rx.received.length;
  const del = await berth.fetch('/v2/acme/moving/manifests/stable', { method: 'DELETE', auth: berth.authorization });
  assert.equal(del.status, 202, await del.text());
  const deleted = await next('berth_package_version', 'tag_deleted', from);
  assert.equal(deleted.pkg.package_version!.name, two.digest);
  assert.deepEqual(deleted.pkg.package_version!.metadata.container.tags, []);
});

it('a visibility change is berth_package visibility_changed with the visibility it had', async () => {
  await pushImage(berth.url, 'acme/seen', 'seen', 'v1');
  const from = rx.received.length;
  const r = spawnSync(process.execPath, [builtCli(), 'package', 'visibility', 'acme/seen', 'public', '--data', berth.dataDir], {
    encoding: 'utf8', env: { ...process.env, ...berth.metadataEnv, BERTH_LOG_LEVEL: 'warn' },
  });
  assert.equal(r.status, 0, r.stderr);
  const changed = await next('berth_package', 'visibility_changed', from);
  assert.equal(changed.pkg.name, 'seen');
  assert.equal(changed.pkg.visibility, 'public');
  assert.deepEqual(changed.body.changes, { visibility: { from: 'private' } });
});

it('a package deleted and restored is berth_package deleted, then restored', async () => {
  await pushImage(berth.url, 'acme/phoenix', 'phoenix', 'v1');
  const from = rx.received.length;
  assert.equal((await api(berth, '/v3/orgs/acme/packages/container/phoenix', { method: 'DELETE' })).status, 204);
  assert.equal((await next('berth_package', 'deleted', from)).pkg.name, 'phoenix');
  assert.equal((await api(berth, '/v3/orgs/acme/packages/container/phoenix/restore', { method: 'POST' })).status, 204);
  assert.equal((await next('berth_package', 'restored', from)).pkg.name, 'phoenix');
});

it('a retention run that deletes versions sends one berth_retention summary beside each version\'s deleted event', async () => {
  const old = [await pushImage(berth.url, 'acme/kept', 'a', '1'), await pushImage(berth.url, 'acme/kept', 'b', '2')];
  await pushImage(berth.url, 'acme/kept', 'c', '3');
  for (const o of old) await berth.query('UPDATE manifests SET created_at = created_at - ? WHERE digest = ?', 30 * 86_400_000, o.digest);
  const rules = await api(berth, '/v3/berth/packages/acme/kept/retention', {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keep_most_recent: 1, delete_not_pulled_for: '7d' }),
  });
  assert.equal(rules.status, 200, rules.text);
  const from = rx.received.length;
  const run = await api<{ packages: { deleted: number }[] }>(berth, '/v3/berth/packages/acme/kept/retention/runs?dry_run=false', { method: 'POST' });
  assert.equal(run.status, 201, run.text);
  assert.equal(run.body.packages[0]!.deleted, 2);
  const summary = await next('berth_retention', 'completed', from);
  assert.equal(summary.pkg.name, 'kept');
  const retention = summary.body.retention as { deleted: number; versions: { id: number; digest: string }[]; truncated: boolean };
  assert.equal(retention.deleted, 2);
  assert.deepEqual(retention.versions.map((v) => v.digest).sort(), old.map((o) => o.digest).sort());
  assert.equal(retention.truncated, false);
  await until('a deleted event per version', () => (rx.received.slice(from).filter((r) => r.body.action === 'deleted').length === 2 ? true : undefined));
});

it('a push that takes its owner across the quota warning threshold sends one berth_quota warning; the refused push none', async () => {
  const owner = berth.user;
  const hook = await api(berth, '/v3/berth/user/hooks', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ config: { url: rx.url, content_type: 'json', secret: SECRET }, events: ['berth_quota'] }),
  });
  assert.equal(hook.status, 201, hook.text);
  const used = async (): Promise<number> => berth.admin(async (s) => (await s.quotas.list()).find((o) => o.owner === owner)?.bytes ?? 0);
  await pushImage(berth.url, `${owner}/filling`, 'fill-1', 'v1');
  const one = await used();
  assert.ok(one > 0);
  // Images of one shape have one size: a second takes the owner to 2/2.2 = 91% (past the default 80%), a third over.
  const quota = Math.floor(one * 2.2);
  await berth.admin((s) => s.quotas.set({ owner, package: null }, quota));
  try {
    const from = rx.received.length;
    await pushImage(berth.url, `${owner}/filling`, 'fill-2', 'v2');
    const warning = await next('berth_quota', 'warning', from);
    assert.equal(warning.pkg.name, 'filling');
    const q = warning.body.quota as { scope: string; used_bytes: number; limit_bytes: number; warning_percent: number; percent_used: number };
    assert.deepEqual({ scope: q.scope, limit: q.limit_bytes, warn: q.warning_percent }, { scope: 'owner', limit: quota, warn: 80 });
    assert.equal(q.used_bytes, await used());
    assert.ok(q.percent_used >= 80 && q.percent_used <= 100, `${q.percent_used}%`);
    await assert.rejects(pushImage(berth.url, `${owner}/filling`, 'fill-3', 'v3'), /over its storage quota/);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(rx.received.slice(from).filter((r) => r.headers['x-github-event'] === 'berth_quota').length, 1);
  } finally {
    await berth.admin((s) => s.quotas.set({ owner, package: null }, null));
  }
});
