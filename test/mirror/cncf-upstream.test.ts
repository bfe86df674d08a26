// Berth as a pull-through cache of the CNCF registry (Debian docker-registry) with htpasswd Basic auth, on loopback:
// skopeo and podman pull through the namespace form, pushes are refused, tags follow the upstream, concurrent first
// pulls make one upstream request per blob, an upstream dying mid-blob leaves nothing cached, and a stopped upstream
// still serves what was cached.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { ClientError, createPodman, skopeoCopy, skopeoInspect } from '../helpers/clients.js';
import { assertOciError } from '../helpers/http.js';
import { summarize, summarizeLayout, writeImageLayout, writeIndexLayout } from '../helpers/oci-image.js';
import { startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.js';

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

let upstream: UpstreamRegistry;
let berth: RunningBerth;
let work: string;
let creds: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-mirror-cncf-'));
  upstream = await startUpstreamRegistry();
  const passwordFile = join(work, 'upstream-password');
  writeFileSync(passwordFile, `${upstream.password}\n`);
  berth = await startBerth({
    env: {
      BERTH_MIRROR_UPSTREAMS_CNCF_URL: upstream.url,
      BERTH_MIRROR_UPSTREAMS_CNCF_USERNAME: upstream.username,
      BERTH_MIRROR_UPSTREAMS_CNCF_PASSWORD_FILE: passwordFile,
      BERTH_MIRROR_UPSTREAMS_CNCF_DEFAULT: 'true',
      // Every tag pull asks the upstream (HEAD): tags follow it at once, and stale-if-error is what serves them
      // when it is gone.
      BERTH_MIRROR_TAG_TTL: '0s',
      BERTH_MIRROR_TIMEOUT: '10s',
      BERTH_METRICS_TOKEN: 'mirror-metrics-token-for-tests',
    },
  });
  creds = `${berth.user}:${berth.token}`;
});

after(async () => {
  await berth?.stop();
  await upstream?.stop();
  await rm(work, { recursive: true, force: true });
});

/** Pushes an OCI layout's image to the upstream under `ref` (repository:tag). */
async function pushUpstream(layout: string, tag: string, ref: string, all = false): Promise<void> {
  await skopeoCopy(`oci:${layout}:${tag}`, `docker://${upstream.host}/${ref}`, all ? ['--all'] : [], { creds: upstream.creds });
}

const hex = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

test('skopeo pulls a multi-arch index through the namespace form: digests and bytes exactly the upstream\'s', async () => {
  const layout = join(work, 'multi');
  const built = await writeIndexLayout(layout, { layers: [4096, 100_000], tag: 'v1' });
  await pushUpstream(layout, 'v1', 'library/multi:v1', true);

  const out = join(work, 'multi-out');
  await skopeoCopy(`docker://${berth.host}/cncf/library/multi:v1`, `oci:${out}:v1`, ['--all'], { creds });
  assert.deepEqual(await summarizeLayout(out, 'v1'), summarize(built));
  // The index byte for byte, under the upstream's digest (Accept was kept: no conversion to one platform).
  const raw = await skopeoInspect(`docker://${berth.host}/cncf/library/multi:v1`, { raw: true, creds });
  assert.equal(hex(Buffer.from(raw)), built.index.digest);
  const res = await berth.fetch('/v2/cncf/library/multi/manifests/v1', { headers: { Accept: ACCEPT } });
  assert.equal(res.headers.get('docker-content-digest'), built.index.digest);
  assert.equal(res.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
  // Cached: a second pull of every blob asks the upstream for none of them again.
  const layer = built.images[0]!.layers[1]!.digest;
  assert.equal(upstream.served('GET', `/v2/library/multi/blobs/${layer}`), 1);
  await skopeoCopy(`docker://${berth.host}/cncf/library/multi:v1`, `oci:${join(work, 'multi-again')}:v1`, ['--all'], { creds });
  assert.equal(upstream.served('GET', `/v2/library/multi/blobs/${layer}`), 1);
  // Tags list: what the cache holds.
  const tags = await (await berth.fetch('/v2/cncf/library/multi/tags/list')).json() as { tags: string[] };
  assert.deepEqual(tags.tags, ['v1']);
});

test('podman pulls through the namespace form; registry-mirrors names (no namespace) map to the default upstream', async () => {
  const layout = join(work, 'tool');
  const built = await writeImageLayout(layout, { layers: [20_000], tag: '1' });
  await pushUpstream(layout, '1', 'team/tool:1');
  const podman = createPodman();
  try {
    await podman.login(berth.host, berth.user, berth.token);
    const pulled = await podman.pull(`${berth.host}/cncf/team/tool:1`);
    assert.match(pulled.stdout, /[0-9a-f]{64}/);
  } finally {
    await podman.cleanup();
  }
  // Docker's registry-mirrors mode asks for the upstream's own name; the cache is the same repository.
  const res = await berth.fetch('/v2/team/tool/manifests/1', { headers: { Accept: ACCEPT } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('docker-content-digest'), built.manifest.digest);
  // A name in an account's namespace is the account's, never the mirror's.
  await assertOciError(await berth.fetch('/v2/acme/tool/manifests/1'), 404, 'NAME_UNKNOWN');
});

test('pushes into a mirror namespace are refused with DENIED saying it is a read-only cache', async () => {
  const layout = join(work, 'push');
  await writeImageLayout(layout, { layers: [1000], tag: 'x' });
  const err = await skopeoCopy(`oci:${layout}:x`, `docker://${berth.host}/cncf/library/mine:x`, [], { creds }).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ClientError, 'the push must fail');
  assert.match(err.stderr, /read-only pull-through cache of http:\/\/127\.0\.0\.1:\d+/);
  const start = await berth.fetch('/v2/cncf/library/mine/blobs/uploads/', { method: 'POST' });
  const body = await assertOciError(start, 403, 'DENIED');
  assert.match(body.message, /cncf, a read-only pull-through cache/);
  await assertOciError(await berth.fetch('/v2/library/mine/blobs/uploads/', { method: 'POST' }), 403, 'DENIED');
  await assertOciError(await berth.fetch('/v2/cncf/library/multi/manifests/v1', { method: 'DELETE' }), 403, 'DENIED');
  // Pulls need a signed-in user (mirror.access defaults to signed-in): anonymous clients are asked to log in.
  const anonymous = await berth.fetch('/v2/cncf/library/multi/manifests/v1', { auth: null });
  await assertOciError(anonymous, 401, 'UNAUTHORIZED');
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /scope="repository:cncf\/library\/multi:pull"/);
});

test('a tag moved upstream is followed (revalidated by HEAD); the old digest stays pullable', async () => {
  const layout = join(work, 'moving');
  const first = await writeImageLayout(layout, { layers: [3000], tag: 'a' });
  await pushUpstream(layout, 'a', 'library/moving:latest');
  const get = async (ref: string): Promise<Response> => berth.fetch(`/v2/cncf/library/moving/manifests/${ref}`, { headers: { Accept: ACCEPT } });
  assert.equal((await get('latest')).headers.get('docker-content-digest'), first.manifest.digest);
  const second = await writeImageLayout(layout, { layers: [3000], tag: 'b' });
  await pushUpstream(layout, 'b', 'library/moving:latest');
  const moved = await get('latest');
  assert.equal(moved.headers.get('docker-content-digest'), second.manifest.digest);
  assert.equal(hex(Buffer.from(await moved.arrayBuffer())), second.manifest.digest);
  assert.equal((await get(first.manifest.digest)).status, 200);
  // Unchanged tags cost a HEAD, not a GET.
  const gets = upstream.served('GET', '/v2/library/moving/manifests/latest');
  await get('latest');
  assert.equal(upstream.served('GET', '/v2/library/moving/manifests/latest'), gets);
  // Unknown upstream content is unknown here too.
  await assertOciError(await get('nope'), 404, 'MANIFEST_UNKNOWN');
});

test('20 simultaneous first pulls of a 100 MB image fetch each blob from the upstream once', async () => {
  const layout = join(work, 'crowd');
  const built = await writeImageLayout(layout, { layers: [100_000_000, 200_000], tag: '1' });
  await pushUpstream(layout, '1', 'library/crowd:1');
  const pulls = Array.from({ length: 20 }, async (_, i) => {
    const out = join(work, `crowd-${i}`);
    await skopeoCopy(`docker://${berth.host}/cncf/library/crowd:1`, `oci:${out}:1`, [], { creds });
    const summary = await summarizeLayout(out, '1');
    await rm(out, { recursive: true, force: true });
    return summary;
  });
  for (const summary of await Promise.all(pulls)) assert.deepEqual(summary, summarize(built));
  for (const blob of [built.config, ...built.layers]) {
    assert.equal(upstream.served('GET', `/v2/library/crowd/blobs/${blob.digest}`), 1, `blob ${blob.digest} fetched once`);
  }
  assert.equal(upstream.served('GET', `/v2/library/crowd/manifests/1`), 1);
});

test('an upstream killed in the middle of a large blob: the client gets an error, nothing is cached, a later pull succeeds', async () => {
  const layout = join(work, 'large');
  const built = await writeImageLayout(layout, { layers: [96 * 1024 * 1024], tag: '1' });
  await pushUpstream(layout, '1', 'library/large:1');
  const layer = built.layers[0]!;
  const manifest = await berth.fetch('/v2/cncf/library/large/manifests/1', { headers: { Accept: ACCEPT } });
  assert.equal(manifest.status, 200, await manifest.clone().text());

  const res = await berth.fetch(`/v2/cncf/library/large/blobs/${layer.digest}`);
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  let received = (await reader.read()).value?.length ?? 0;
  // The client stops reading: backpressure holds the rest in the upstream, which now dies.
  await upstream.kill();
  const failure = await (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return null;
        received += value.length;
      }
    } catch (err) {
      return err;
    }
  })();
  assert.ok(failure, `the download must fail, not end cleanly (${received} of ${layer.size} bytes)`);
  assert.ok(received < layer.size);

  await upstream.start();
  // Nothing of it was kept: no blob row, no scratch data left behind (removed once the failed upload is cancelled,
  // a few database round trips after the client saw the break).
  const rows = await berth.query('select digest from blobs where digest = ?', layer.digest);
  assert.deepEqual(rows, []);
  for (let i = 0; (await berth.scratchUploads()).length > 0; i++) {
    assert.ok(i < 100, 'scratch data removed within 5 s');
    await sleep(50);
  }
  const out = join(work, 'large-out');
  await skopeoCopy(`docker://${berth.host}/cncf/library/large:1`, `oci:${out}:1`, [], { creds });
  assert.deepEqual(await summarizeLayout(out, '1'), summarize(built));
});

test('with the upstream stopped, cached images still pull; uncached ones fail saying the upstream is unavailable', async () => {
  const layout = join(work, 'offline');
  const built = await writeImageLayout(layout, { layers: [50_000], tag: '1' });
  await pushUpstream(layout, '1', 'library/offline:1');
  await pushUpstream(layout, '1', 'library/never-pulled:1');
  await skopeoCopy(`docker://${berth.host}/cncf/library/offline:1`, `oci:${join(work, 'offline-1')}:1`, [], { creds });

  await upstream.kill();
  try {
    const out = join(work, 'offline-2');
    await skopeoCopy(`docker://${berth.host}/cncf/library/offline:1`, `oci:${out}:1`, [], { creds });
    assert.deepEqual(await summarizeLayout(out, '1'), summarize(built));
    const uncached = await berth.fetch('/v2/cncf/library/never-pulled/manifests/1', { headers: { Accept: ACCEPT } });
    // 503 UNAVAILABLE, as for Berth's own outages (distribution's errcode; the spec lists no code for it).
    assert.equal(uncached.status, 503);
    assert.ok(Number(uncached.headers.get('retry-after')) > 0);
    const error = (await uncached.json() as { errors: { code: string; message: string }[] }).errors[0]!;
    assert.equal(error.code, 'UNAVAILABLE');
    assert.match(error.message, /upstream registry http:\/\/127\.0\.0\.1:\d+ is unavailable and cncf\/library\/never-pulled:1 is not cached/);
    const err = await skopeoCopy(`docker://${berth.host}/cncf/library/never-pulled:1`, `oci:${join(work, 'never')}:1`, [], { creds })
      .then(() => null, (e: unknown) => e);
    assert.ok(err instanceof ClientError);
    // containers/image prints the status of a 5xx, not its body (which says what is above).
    assert.match(err.stderr, /503 Service Unavailable/);
  } finally {
    await upstream.start();
  }
});

test('berth_mirror_requests_total counted every answer above: hits, misses, revalidations, stale tags, unknown and failed fetches', async () => {
  const res = await berth.fetch('/metrics', { auth: 'Bearer mirror-metrics-token-for-tests' });
  assert.equal(res.status, 200);
  const text = await res.text();
  const count = (kind: string, result: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`berth_mirror_requests_total{upstream="cncf",kind="${kind}",result="${result}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  assert.ok(count('blob', 'miss') > 0, 'blobs fetched from the upstream');
  assert.ok(count('blob', 'hit') > 0, 'blobs served from the cache (the second pull)');
  assert.ok(count('manifest', 'miss') > 0);
  assert.ok(count('manifest', 'hit') > 0, 'manifests by digest from the cache');
  assert.ok(count('manifest', 'revalidated') > 0, 'tags checked with a HEAD (tag TTL 0)');
  assert.ok(count('manifest', 'stale') > 0, 'tags served while the upstream was stopped');
  assert.ok(count('manifest', 'not_found') > 0, 'the unknown tag');
  assert.ok(count('manifest', 'error') + count('blob', 'error') > 0, 'uncached content while the upstream was stopped');
  // The crowd of 20: one fetch of its 100 MB layer, 19 copies sent from the cache (the bytes the upstream was spared).
  const bytes = (source: string): number => Number(text.split('\n').find((l) => l.startsWith(`berth_mirror_bytes_total{upstream="cncf",source="${source}"}`))?.split(' ').pop() ?? 0);
  assert.ok(bytes('cache') >= 19 * 100_000_000, `sent from the cache: ${bytes('cache')}`);
  assert.ok(bytes('upstream') >= 100_000_000, `fetched upstream: ${bytes('upstream')}`);
});
