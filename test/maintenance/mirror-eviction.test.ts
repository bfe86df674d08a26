// Pull-through caches as packages (issue 17): cached repositories listed by the REST API and `berth mirror show`
// with their upstream, size and last pull; `berth mirror evict --dry-run` previews eviction by last pull; the
// scheduled retention job evicts what was not pulled for evictAfter; `berth mirror remove` empties a cached
// repository; and either way the next pull fetches the image from the upstream again. CNCF registry on loopback.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { builtCli } from '../helpers/built-cli.js';
import { skopeoCopy } from '../helpers/clients.js';
import { writeImageLayout, type BuiltImage } from '../helpers/oci-image.js';
import { startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.js';

const ROOT = new URL('../..', import.meta.url).pathname;

let upstream: UpstreamRegistry;
let berth: RunningBerth;
let work: string;
let image: BuiltImage;
let mirrorEnv: Record<string, string>;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-mirror-evict-'));
  upstream = await startUpstreamRegistry();
  const passwordFile = join(work, 'upstream-password');
  writeFileSync(passwordFile, `${upstream.password}\n`);
  // Two namespaces on one upstream: `kept` never evicts, `brief` evicts what was not pulled for a second.
  mirrorEnv = {
    BERTH_MIRROR_UPSTREAMS_KEPT_URL: upstream.url, BERTH_MIRROR_UPSTREAMS_KEPT_USERNAME: upstream.username,
    BERTH_MIRROR_UPSTREAMS_KEPT_PASSWORD_FILE: passwordFile,
    BERTH_MIRROR_UPSTREAMS_BRIEF_URL: upstream.url, BERTH_MIRROR_UPSTREAMS_BRIEF_USERNAME: upstream.username,
    BERTH_MIRROR_UPSTREAMS_BRIEF_PASSWORD_FILE: passwordFile, BERTH_MIRROR_UPSTREAMS_BRIEF_EVICT_AFTER: '1s',
  };
  berth = await startBerth({ env: { ...mirrorEnv, BERTH_RETENTION_INTERVAL: '1s' } });
  const layout = join(work, 'app');
  image = await writeImageLayout(layout, { layers: [4096, 50_000], tag: 'v1' });
  await skopeoCopy(`oci:${layout}:v1`, `docker://${upstream.host}/library/app:v1`, [], { creds: upstream.creds });
});

after(async () => {
  await berth?.stop();
  await upstream?.stop();
  await rm(work, { recursive: true, force: true });
});

const creds = (): string => `${berth.user}:${berth.token}`;

async function pull(ref: string, out: string): Promise<void> {
  await skopeoCopy(`docker://${berth.host}/${ref}`, `oci:${join(work, out)}:v1`, [], { creds: creds() });
}

/** `berth mirror …` on the server's data; `env` overrides the mirror configuration the command reads. */
function cli(args: string[], env: Record<string, string> = mirrorEnv): { status: number | null; stdout: string; stderr: string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_MIRROR_')));
  const r = spawnSync(process.execPath, [builtCli(), 'mirror', ...args, '--data', berth.dataDir], {
    cwd: ROOT, encoding: 'utf8', env: { ...clean, ...berth.metadataEnv, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function cachedPackages(namespace: string): Promise<Record<string, unknown>[]> {
  const res = await berth.fetch(`/api/v3/berth/mirrors/${namespace}/packages`);
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown>[];
}

const manifestFetches = (): number => upstream.served('GET', '/v2/library/app/manifests/v1');

test('cached repositories are listed with their upstream, size and last pull, for whom mirror.access lets pull', async () => {
  const before = Date.now() - 1000;
  await pull('kept/library/app:v1', 'kept-1');
  // mirror.access is signed-in (the default): anonymous callers are asked to authenticate, a token reads.
  const anonymous = await berth.fetch('/api/v3/berth/mirrors', { auth: null });
  assert.equal(anonymous.status, 401);
  assert.equal(((await anonymous.json()) as { message: string }).message, 'Requires authentication');
  const size = image.manifest.size + image.config.size + image.layers.reduce((n, l) => n + l.size, 0); // the storage figure: blobs and manifest
  // A client has a blob's end once its digest matched; the commit and the figure follow within moments.
  let mirrors: Record<string, unknown>[] = [];
  for (let i = 0; ; i++) {
    mirrors = (await (await berth.fetch('/api/v3/berth/mirrors')).json()) as Record<string, unknown>[];
    if (mirrors[1]?.size_in_bytes === size || i >= 100) break;
    await sleep(50);
  }
  assert.deepEqual(mirrors.map((m) => [m.namespace, m.upstream_url, m.default, m.authenticated, m.access, m.evict_after_seconds]), [
    ['brief', upstream.url, false, true, 'signed-in', 1],
    ['kept', upstream.url, false, true, 'signed-in', null],
  ]);
  const kept = mirrors[1]!;
  assert.equal(kept.package_count, 1);
  assert.equal(kept.version_count, 1);
  assert.equal(kept.size_in_bytes, size);
  assert.ok(Date.parse(kept.last_pulled_at as string) >= before - 1000);
  assert.ok((kept.requests as Record<string, number>).miss! >= 1);

  const [pkg, ...rest] = await cachedPackages('kept');
  assert.equal(rest.length, 0);
  assert.equal(pkg!.name, 'kept/library/app');
  assert.deepEqual(pkg!.upstream, { url: upstream.url, repository: 'library/app' });
  assert.equal(pkg!.version_count, 1);
  assert.equal(pkg!.size_in_bytes, size);
  assert.equal(typeof pkg!.last_pulled_at, 'string');
  assert.equal((await berth.fetch('/api/v3/berth/mirrors/nope/packages')).status, 404);

  const shown = cli(['show', 'kept', '--json']);
  assert.equal(shown.status, 0, shown.stderr);
  const cached = (JSON.parse(shown.stdout) as { cached: { name: string; versions: number; sizeBytes: number }[] }).cached;
  assert.deepEqual(cached.map((c) => [c.name, c.versions, c.sizeBytes]), [['kept/library/app', 1, size]]);
  const all = cli(['show']);
  assert.equal(all.status, 0, all.stderr);
  assert.match(all.stdout, new RegExp(`^kept\\s+1\\s+1\\s+${size}\\s+\\d{4}-`, 'm'));
});

test('berth mirror evict --dry-run lists cached versions unpulled for evictAfter and changes nothing', async () => {
  await sleep(1200);
  // The command's own configuration decides: here `kept` evicts after a second, which the server's does not.
  const dry = cli(['evict', '--dry-run'], { ...mirrorEnv, BERTH_MIRROR_UPSTREAMS_KEPT_EVICT_AFTER: '1s' });
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`^kept/library/app@${image.manifest.digest} \\(v1\\) would delete`, 'm'));
  assert.match(dry.stdout, /1 cached version\(s\) in 1 package\(s\) would delete \(dry run\)/);
  assert.equal((await cachedPackages('kept')).length, 1);
});

test('the retention job evicts a cached image not pulled for evictAfter; the next pull fetches it from the upstream again', async () => {
  const fetchedBefore = manifestFetches();
  await pull('brief/library/app:v1', 'brief-1');
  assert.equal(manifestFetches(), fetchedBefore + 1);
  assert.equal((await cachedPackages('brief')).length, 1);
  // evictAfter 1s, retention.interval 1s: gone within a few seconds, never the never-evicting namespace's copy.
  const deadline = Date.now() + 20_000;
  while ((await cachedPackages('brief')).length > 0) {
    assert.ok(Date.now() < deadline, 'the cached image was not evicted');
    await sleep(250);
  }
  assert.equal((await cachedPackages('kept')).length, 1);
  const records = await berth.query<{ action: string; repository: string }>("select action, repository from audit_log where repository = 'brief/library/app'");
  assert.ok(records.some((r) => r.action === 'package.retention_run'));

  await pull('brief/library/app:v1', 'brief-2');
  assert.equal(manifestFetches(), fetchedBefore + 2);
});

test('berth mirror remove empties a cached repository; the next pull fetches it again', async () => {
  const unknown = cli(['remove', 'kept/library/other']);
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /neither a mirror namespace nor a package cached in one/);
  const removed = cli(['remove', 'kept/library/app']);
  assert.equal(removed.status, 0, removed.stderr);
  assert.match(removed.stdout, /1 cached version\(s\) in 1 package\(s\) deleted/);
  assert.equal((await cachedPackages('kept')).length, 0);
  const fetchedBefore = manifestFetches();
  await pull('kept/library/app:v1', 'kept-2');
  assert.equal(manifestFetches(), fetchedBefore + 1);
  assert.equal((await cachedPackages('kept')).length, 1);
  // A whole namespace at once (previewed here).
  const purge = cli(['remove', 'kept', '--dry-run', '--json']);
  assert.equal(purge.status, 0, purge.stderr);
  const runs = JSON.parse(purge.stdout) as { repository: string; dryRun: boolean; evicted: { digest: string; tags: string[] }[] }[];
  assert.deepEqual(runs.map((r) => [r.repository, r.dryRun, r.evicted.map((v) => [v.digest, v.tags])]), [
    ['kept/library/app', true, [[image.manifest.digest, ['v1']]]],
  ]);
  assert.equal((await cachedPackages('kept')).length, 1);
});
