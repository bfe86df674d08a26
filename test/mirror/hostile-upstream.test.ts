// Anyone can publish an image upstream (Docker Hub is open to all), and a manifest may name any digest. A manifest
// naming the layer of a private package of this Berth must not make the mirror serve that layer: blobs are linked
// into a mirror repository only when the upstream confirms it has them there. The hostile manifest is served by a
// small proxy in front of the CNCF registry.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { skopeoCopy } from '../helpers/clients.js';
import { assertOciError } from '../helpers/http.js';
import { readLayoutBlob, writeImageLayout } from '../helpers/oci-image.js';
import { startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

let upstream: UpstreamRegistry;
let proxy: Server;
let berth: RunningBerth;
let work: string;
/** The manifest the proxy serves for library/bait:1 instead of the upstream's. */
let bait: Buffer | null = null;
/** A blob the proxy serves with one byte changed: its path and the wrong bytes. */
let corrupt: { path: string; bytes: Buffer } | null = null;
/** A blob whose answer the proxy cuts off right after the headers and its first bytes. */
let cut: { path: string; bytes: Buffer } | null = null;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-mirror-hostile-'));
  upstream = await startUpstreamRegistry();
  const target = new URL(upstream.url);
  proxy = createServer((req, res) => {
    if (bait && req.url === '/v2/library/bait/manifests/1') {
      req.resume();
      res.writeHead(200, {
        'Content-Type': OCI_MANIFEST, 'Content-Length': bait.length,
        'Docker-Content-Digest': `sha256:${createHash('sha256').update(bait).digest('hex')}`,
      });
      res.end(req.method === 'HEAD' ? undefined : bait);
      return;
    }
    if (corrupt && req.url === corrupt.path && req.method === 'GET') {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': corrupt.bytes.length });
      res.end(corrupt.bytes);
      return;
    }
    if (cut && req.url === cut.path && req.method === 'GET') {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': cut.bytes.length });
      res.write(cut.bytes.subarray(0, 1000), () => res.destroy());
      return;
    }
    const forward = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  berth = await startBerth({
    env: {
      BERTH_MIRROR_UPSTREAMS_HUB_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      BERTH_MIRROR_UPSTREAMS_HUB_USERNAME: upstream.username,
      BERTH_MIRROR_UPSTREAMS_HUB_PASSWORD: upstream.password,
    },
  });
});

after(async () => {
  await berth?.stop();
  await new Promise((resolve) => proxy?.close(resolve));
  await upstream?.stop();
  await rm(work, { recursive: true, force: true });
});

test('an upstream manifest naming a private package\'s layer does not expose it through the mirror', async () => {
  // The private package, in acme (tester's organization).
  const secret = await writeImageLayout(join(work, 'secret'), { layers: [20_000], tag: '1' });
  await skopeoCopy(`oci:${join(work, 'secret')}:1`, `docker://${berth.host}/acme/secret:1`, [], { creds: `${berth.user}:${berth.token}` });
  const layer = secret.layers[0]!;
  // Another user of the instance, who may not read acme/secret but may pull through the mirror.
  const eve = await berth.admin(async (s) => {
    const user = await s.accounts.createUser({ login: 'eve', password: 'eve-password-123' });
    return (await s.tokens.create({ userId: user.id, note: 'eve', scopes: ['read:packages'], expiresAt: null })).token;
  });
  const auth = `Basic ${Buffer.from(`eve:${eve}`).toString('base64')}`;
  await assertOciError(await berth.fetch(`/v2/acme/secret/blobs/${layer.digest}`, { auth }), 404, 'NAME_UNKNOWN');

  // Upstream: a real image (its config is there), whose manifest the hostile side swaps for one naming the layer.
  const real = await writeImageLayout(join(work, 'bait'), { layers: [1000], tag: '1' });
  await skopeoCopy(`oci:${join(work, 'bait')}:1`, `docker://${upstream.host}/library/bait:1`, [], { creds: upstream.creds });
  bait = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST,
    config: { mediaType: real.config.mediaType, digest: real.config.digest, size: real.config.size },
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
  }));
  const manifest = await berth.fetch('/v2/hub/library/bait/manifests/1', { auth, headers: { Accept: OCI_MANIFEST } });
  assert.equal(manifest.status, 200);
  assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), bait);

  // The upstream has no such blob in library/bait: unknown here too, the private bytes stay private.
  await assertOciError(await berth.fetch(`/v2/hub/library/bait/blobs/${layer.digest}`, { auth }), 404, 'BLOB_UNKNOWN');
  assert.equal((await berth.fetch(`/v2/hub/library/bait/blobs/${layer.digest}`, { auth, method: 'HEAD' })).status, 404);
  const links = await berth.query('select rb.digest from repository_blobs rb join repositories r on r.id = rb.repository_id where r.name = ?', 'hub/library/bait');
  assert.deepEqual(links, []);
  // Its real config, which the upstream does have there, is served.
  assert.equal((await berth.fetch(`/v2/hub/library/bait/blobs/${real.config.digest}`, { auth })).status, 200);
});

test('an upstream blob whose bytes do not match its digest: the client never gets a whole blob, nothing is cached', async () => {
  const image = await writeImageLayout(join(work, 'bad'), { layers: [3 * 1024 * 1024], tag: '1' });
  await skopeoCopy(`oci:${join(work, 'bad')}:1`, `docker://${upstream.host}/library/bad:1`, [], { creds: upstream.creds });
  const layer = image.layers[0]!;
  const good = await readLayoutBlob(join(work, 'bad'), layer.digest);
  const bytes = Buffer.from(good);
  bytes[bytes.length >> 1]! ^= 1;
  corrupt = { path: `/v2/library/bad/blobs/${layer.digest}`, bytes };
  // The mirror streams the blob while it hashes it; the end is held back until the digest matched, which it never
  // does: the body breaks off before its last chunk.
  const res = await berth.fetch(`/v2/hub/library/bad/blobs/${layer.digest}`);
  assert.equal(res.status, 200);
  await assert.rejects(res.arrayBuffer());
  const cached = await berth.query('select b.digest from blobs b where b.digest = ?', layer.digest);
  assert.deepEqual(cached, [], 'nothing of it is cached');

  corrupt = null;
  const again = await berth.fetch(`/v2/hub/library/bad/blobs/${layer.digest}`);
  assert.equal(again.status, 200);
  assert.ok(Buffer.from(await again.arrayBuffer()).equals(good), 'once the upstream serves the right bytes, so does the mirror');
  // The client had the end once the digest matched; the commit follows.
  for (let i = 0; (await berth.query('select b.digest from blobs b where b.digest = ?', layer.digest)).length === 0; i++) {
    assert.ok(i < 100, 'cached within 5 s');
    await sleep(50);
  }
  assert.equal((await berth.fetch(`/v2/hub/library/bad/blobs/${layer.digest}`, { method: 'HEAD' })).status, 200);
});

test('an upstream that breaks off a blob at once, before the cache has started storing it: the client gets an error, Berth serves on', async () => {
  const image = await writeImageLayout(join(work, 'cut'), { layers: [2 * 1024 * 1024], tag: '1' });
  await skopeoCopy(`oci:${join(work, 'cut')}:1`, `docker://${upstream.host}/library/cut:1`, [], { creds: upstream.creds });
  const layer = image.layers[0]!;
  const good = Buffer.from(await readLayoutBlob(join(work, 'cut'), layer.digest));
  cut = { path: `/v2/library/cut/blobs/${layer.digest}`, bytes: good };
  for (let i = 0; i < 5; i++) {
    const res = await berth.fetch(`/v2/hub/library/cut/blobs/${layer.digest}`);
    if (res.status === 200) await assert.rejects(res.arrayBuffer());
    else assert.equal(res.status, 503, await res.text());
  }
  // Still serving, nothing cached, no scratch data left behind.
  assert.equal((await berth.fetch('/v2/')).status, 200);
  assert.deepEqual(await berth.query('select b.digest from blobs b where b.digest = ?', layer.digest), []);
  for (let i = 0; (await berth.scratchUploads()).length > 0; i++) {
    assert.ok(i < 100, 'scratch data removed within 5 s');
    await sleep(50);
  }
  cut = null;
  const again = await berth.fetch(`/v2/hub/library/cut/blobs/${layer.digest}`);
  assert.ok(Buffer.from(await again.arrayBuffer()).equals(good));
});
