// Mirrors added and deleted by an admin while Berth runs (`berth mirror add|delete`): the running server pulls
// through a new one at once, the password is sealed at rest, what would take over other names is refused, and a
// mirror goes only once its cache is empty. The CNCF registry (htpasswd Basic auth) is the upstream.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { runBuilt, type CliResult } from '../helpers/built-cli.js';
import { skopeoCopy } from '../helpers/clients.js';
import { summarize, summarizeLayout, writeImageLayout } from '../helpers/oci-image.js';
import { startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.js';

const KEY = 'runtime-mirrors-key-encryption-key-0123456789';

let upstream: UpstreamRegistry;
let berth: RunningBerth;
let work: string;
let passwordFile: string;
let built: Awaited<ReturnType<typeof writeImageLayout>>;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-mirror-runtime-'));
  upstream = await startUpstreamRegistry();
  passwordFile = join(work, 'upstream-password');
  writeFileSync(passwordFile, `${upstream.password}\n`);
  // One mirror of the configuration beside those added at run time.
  berth = await startBerth({ env: { BERTH_AUTH_KEY_ENCRYPTION_KEY: KEY, BERTH_MIRROR_UPSTREAMS_CONF_URL: upstream.url } });
  const layout = join(work, 'app');
  built = await writeImageLayout(layout, { layers: [2048, 150_000], tag: 'v1' });
  await skopeoCopy(`oci:${layout}:v1`, `docker://${upstream.host}/library/app:v1`, [], { creds: upstream.creds });
});

after(async () => {
  await berth?.stop();
  await upstream?.stop();
  await rm(work, { recursive: true, force: true });
});

/** `berth mirror …` on the server's data, as an operator runs it beside `berth serve`. */
function mirrorCli(...args: string[]): CliResult {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  return runBuilt(['mirror', ...args, '--data', berth.dataDir], {
    env: { ...clean, ...berth.metadataEnv, BERTH_AUTH_KEY_ENCRYPTION_KEY: KEY, BERTH_MIRROR_UPSTREAMS_CONF_URL: upstream.url },
  });
}

test('a mirror added with the CLI serves pulls at once, signs in upstream, and keeps its password sealed', async () => {
  const added = mirrorCli('add', 'hub', upstream.url, '--username', upstream.username, '--password-file', passwordFile, '--evict-after', '7d');
  assert.equal(added.status, 0, added.stderr);
  assert.match(added.stdout, /added mirror hub of http:\/\/127\.0\.0\.1:\d+/);

  // No restart: the running server reads the new upstream on its next request.
  const out = join(work, 'pulled');
  await skopeoCopy(`docker://${berth.host}/hub/library/app:v1`, `oci:${out}:v1`, [], { creds: `${berth.user}:${berth.token}` });
  assert.deepEqual(await summarizeLayout(out, 'v1'), summarize(built));

  const listed = mirrorCli('list', '--json');
  assert.equal(listed.status, 0, listed.stderr);
  assert.deepEqual((JSON.parse(listed.stdout) as { upstreams: unknown[] }).upstreams, [
    { namespace: 'conf', upstream: upstream.url, auth: 'anonymous', default: false, access: 'signed-in', source: 'config' },
    { namespace: 'hub', upstream: upstream.url, auth: `user ${upstream.username}`, default: false, access: 'signed-in', source: 'admin' },
  ]);
  assert.doesNotMatch(listed.stdout, new RegExp(upstream.password));
  const [row] = await berth.query<{ password: string; evict_after_ms: number }>('SELECT password, evict_after_ms FROM mirror_upstreams WHERE namespace = ?', 'hub');
  assert.match(row!.password, /^enc:v1:/);
  assert.ok(!row!.password.includes(upstream.password));
  assert.equal(row!.evict_after_ms, 7 * 86_400_000);

  // Read-only like a configured mirror: a push there is refused, naming the upstream.
  const push = await berth.fetch('/v2/hub/library/app/blobs/uploads/', { method: 'POST' });
  assert.equal(push.status, 403);
  assert.match(await push.text(), /read-only pull-through cache/);
});

test('a mirror for one organization: its members pull through it, other signed-in users do not even see it', async () => {
  const added = mirrorCli('add', 'team', upstream.url, '--username', upstream.username, '--password-file', passwordFile, '--access', 'org:acme');
  assert.equal(added.status, 0, added.stderr);
  const outsider = await berth.admin(async (s) => {
    const user = await s.accounts.createUser({ login: 'outsider', isAdmin: false });
    return (await s.tokens.create({ userId: user.id, note: 't', scopes: ['read:packages'], expiresAt: null })).token;
  });
  const basic = (login: string, token: string): string => `Basic ${Buffer.from(`${login}:${token}`).toString('base64')}`;
  // The outsider's registry token carries no pull for it, and the upstream is never asked.
  const tokenRes = await berth.fetch(`/token?service=${berth.host}&scope=repository:team/library/app:pull`, { auth: basic('outsider', outsider) });
  const { token } = (await tokenRes.json()) as { token: string };
  const denied = await berth.fetch('/v2/team/library/app/manifests/v1', { auth: `Bearer ${token}` });
  assert.ok([401, 403, 404].includes(denied.status), `outsider got ${denied.status}`);
  assert.equal(upstream.served('GET', '/v2/library/app/manifests/v1'), 1, 'only hub\'s first pull reached the upstream');
  const list = await berth.fetch('/api/v3/berth/mirrors', { auth: `token ${outsider}` });
  assert.deepEqual(((await list.json()) as { namespace: string }[]).map((m) => m.namespace), ['conf', 'hub']);
  assert.equal((await berth.fetch('/api/v3/berth/mirrors/team', { auth: `token ${outsider}` })).status, 404);

  // A member of acme pulls through it.
  await skopeoCopy(`docker://${berth.host}/team/library/app:v1`, `oci:${join(work, 'team')}:v1`, [], { creds: `${berth.user}:${berth.token}` });
  const mine = await berth.fetch('/api/v3/berth/mirrors/team', { auth: `token ${berth.token}` });
  const shown = (await mine.json()) as { access: string; defined_by: string; authenticated: boolean };
  assert.deepEqual([shown.access, shown.defined_by, shown.authenticated], ['org:acme', 'admin', true]);
  assert.equal(mirrorCli('remove', 'team').status, 0);
  assert.equal(mirrorCli('delete', 'team').status, 0);
});

test('adding a mirror that would take over names, or a second default, is refused with the reason', () => {
  const cases: [string[], RegExp][] = [
    [['add', 'conf', upstream.url], /mirror of the configuration \(mirror\.upstreams\.conf\)/],
    [['add', berth.user, upstream.url], new RegExp(`an account is named ${berth.user}`)],
    [['add', 'acme', upstream.url], /an account is named acme/],
    [['add', 'Not_Valid', upstream.url], /not a valid mirror namespace/],
    [['add', 'ftp', 'ftp://example.com'], /must be http or https/],
    [['add', 'half', upstream.url, '--username', 'someone'], /user name and a password go together/],
    [['add', 'closed', upstream.url, '--access', 'org:nosuchorg'], /no organization nosuchorg/],
    [['add', 'closed', upstream.url, '--access', 'friends'], /not who may pull: public, signed-in or org:LOGIN/],
  ];
  for (const [args, reason] of cases) {
    const r = mirrorCli(...args);
    assert.notEqual(r.status, 0, `${args.join(' ')} was accepted`);
    assert.match(r.stderr, reason);
  }
  assert.equal(mirrorCli('add', 'first', upstream.url, '--default').status, 0);
  const second = mirrorCli('add', 'second', upstream.url, '--default');
  assert.notEqual(second.status, 0);
  assert.match(second.stderr, /first is the default mirror already/);
  assert.equal(mirrorCli('delete', 'first').status, 0);
  const conf = mirrorCli('delete', 'conf');
  assert.notEqual(conf.status, 0);
  assert.match(conf.stderr, /remove it there/);
});

test('a mirror is deleted only once its cache is empty; then its names are no longer pulled through', async () => {
  const early = mirrorCli('delete', 'hub');
  assert.notEqual(early.status, 0);
  assert.match(early.stderr, /still caches images: remove them first \(berth mirror remove hub\)/);
  assert.equal(mirrorCli('remove', 'hub').status, 0);
  const deleted = mirrorCli('delete', 'hub');
  assert.equal(deleted.status, 0, deleted.stderr);

  const asked = upstream.served('GET', '/v2/library/app/manifests/v1');
  const res = await berth.fetch('/v2/hub/library/app/manifests/v1');
  assert.equal(res.status, 404);
  assert.equal(upstream.served('GET', '/v2/library/app/manifests/v1'), asked, 'the upstream was asked again');
  const actions = await berth.query<{ action: string; target: string }>("SELECT action, target FROM audit_log WHERE action LIKE 'mirror.%' ORDER BY id");
  assert.deepEqual(actions.map((a) => `${a.action} ${a.target}`), ['mirror.create mirror:hub', 'mirror.create mirror:team', 'mirror.destroy mirror:team', 'mirror.create mirror:first', 'mirror.destroy mirror:first', 'mirror.destroy mirror:hub']);
});
