// The S3 endpoint going away in the middle of a push. Berth talks to a RADOS Gateway of its own (a second radosgw
// of the test Ceph cluster: the shared one stays up for other tests), which the test kills while a chunk streams
// in and starts again. The request the outage hits answers 503 with the OCI UNAVAILABLE body and Retry-After (the
// body still being sent is read, not reset), so do requests that need the bytes while it is away; the process
// lives on; nothing half-written is visible; the interrupted upload resumes from its last acknowledged offset.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { startBerth, testBackend, type RunningBerth } from '../helpers/berth.js';
import { MEDIA, pushBlob, pushManifest, registryFetch, sha256, useAuthorization } from '../helpers/http.js';
import { until } from '../helpers/pg-locks.js';
import { startGateway, type S3Gateway } from '../helpers/s3.js';

const skip = testBackend() !== 'postgres-s3' ? 'the S3 outage needs the S3 blob store (BERTH_TEST_BACKEND=postgres-s3)' : false;
let berth: RunningBerth;
let gateway: S3Gateway;

before(async () => {
  if (skip) return;
  const started = await startGateway();
  if (!started) throw new Error('no local Ceph cluster to start a second radosgw on (scripts/s3-ceph.sh)');
  gateway = started;
  berth = await startBerth({ env: { BERTH_STORAGE_S3_ENDPOINT: gateway.endpoint } });
  useAuthorization(berth.authorization);
});
after(async () => {
  if (skip) return;
  await berth.stop();
  await gateway.kill();
});

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/**
 * A PATCH whose body streams in two parts: `first`, then — once `between` has run (the test kills the gateway
 * there) — `rest`. Resolves with the answer.
 */
function patchInTwoParts(location: string, first: Buffer, rest: Buffer, offset: number, between: () => Promise<void>): Promise<Answer> {
  const { hostname, port } = new URL(berth.url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: hostname, port, method: 'PATCH', path: location,
      headers: {
        authorization: berth.authorization, 'content-type': 'application/octet-stream',
        'content-length': first.length + rest.length, 'content-range': `${offset}-${offset + first.length + rest.length - 1}`,
      },
    }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.write(first);
    between().then(() => req.end(rest), reject);
  });
}

function assertUnavailable(status: number, retryAfter: string | string[] | null | undefined, body: string, what: string): void {
  assert.equal(status, 503, `${what}: ${status} ${body}`);
  assert.match(String(retryAfter ?? ''), /^\d+$/, `${what}: Retry-After`);
  const error = (JSON.parse(body) as { errors: { code: string; message: string }[] }).errors[0]!;
  assert.equal(error.code, 'UNAVAILABLE', what);
  assert.match(error.message, /blob storage is unreachable.*retry/, what);
}

test('the S3 gateway killed mid-push: 503 for that request and for reads of bytes, nothing half-visible, the upload resumes after', { skip, timeout: 300_000 }, async () => {
  const name = 'acme/s3-outage';
  const existing = randomBytes(64 * 1024);
  const existingDigest = await pushBlob(berth.url, name, existing);

  // A chunked upload: 9 MiB acknowledged (one full 8 MiB S3 piece and a short one), then a 22 MiB chunk that the
  // outage interrupts: the gateway dies after the chunk's first piece went to S3, so writing the next piece fails
  // while the client is still sending.
  const MiB = 1024 * 1024;
  const blob = randomBytes(40 * MiB);
  const start = await registryFetch(`${berth.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  const acked = 9 * MiB;
  const first = await registryFetch(new URL(start.headers.get('location')!, berth.url), {
    method: 'PATCH', body: blob.subarray(0, acked), headers: { 'content-range': `0-${acked - 1}` },
  });
  assert.equal(first.status, 202, await first.text());
  const location = first.headers.get('location')!;
  const uploadId = location.split('/').at(-1)!;
  const scratchBefore = await berth.scratchBytes(uploadId);

  const cut = await patchInTwoParts(location, blob.subarray(acked, acked + 10 * MiB), blob.subarray(acked + 10 * MiB, acked + 22 * MiB), acked, async () => {
    // The gateway dies once the server has written part of this chunk to S3.
    await until('part of the second chunk to reach S3', async () => (await berth.scratchBytes(uploadId)) > scratchBefore, 60_000);
    await gateway.kill();
  });
  assertUnavailable(cut.status, cut.headers['retry-after'], cut.body, 'the interrupted PATCH');

  // While it is away: reading bytes answers 503; so does a new upload, which leaves nothing behind.
  const read = await registryFetch(`${berth.url}/v2/${name}/blobs/${existingDigest}`);
  assertUnavailable(read.status, read.headers.get('retry-after'), await read.text(), 'a blob GET');
  const lost = randomBytes(32 * 1024);
  const post = await registryFetch(`${berth.url}/v2/${name}/blobs/uploads/?digest=${sha256(lost)}`, { method: 'POST', body: lost });
  assertUnavailable(post.status, post.headers.get('retry-after'), await post.text(), 'a monolithic upload');
  assert.equal((await berth.fetch('/livez')).status, 200);
  // Metadata does not need the bytes: HEAD still answers from the database.
  assert.equal((await registryFetch(`${berth.url}/v2/${name}/blobs/${existingDigest}`, { method: 'HEAD' })).status, 200);

  await gateway.start();

  // The failed monolithic upload left no blob, no row, no session.
  assert.equal((await registryFetch(`${berth.url}/v2/${name}/blobs/${sha256(lost)}`, { method: 'HEAD' })).status, 404);
  assert.deepEqual(await berth.query('select digest from blobs where digest = ?', sha256(lost)), []);
  // The interrupted session kept exactly the acknowledged bytes and goes on from there.
  const status = await registryFetch(new URL(location, berth.url));
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), `0-${acked - 1}`, 'only the acknowledged bytes count');
  const done = await registryFetch(new URL(`${location}?digest=${sha256(blob)}`, berth.url), {
    method: 'PUT', body: blob.subarray(acked), headers: { 'content-range': `${acked}-${blob.length - 1}` },
  });
  assert.equal(done.status, 201, await done.text());

  // Full service: a push and pulls through the same process, bytes as pushed.
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  await pushBlob(berth.url, name, config);
  await pushManifest(berth.url, name, 'after', {
    schemaVersion: 2, mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MEDIA.ociLayer, digest: sha256(blob), size: blob.length }, { mediaType: MEDIA.ociLayer, digest: existingDigest, size: existing.length }],
  }, MEDIA.ociManifest);
  for (const [digest, bytes] of [[sha256(blob), blob], [existingDigest, existing]] as const) {
    const res = await registryFetch(`${berth.url}/v2/${name}/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), `${digest} reads back whole`);
  }
  // Nothing half-visible: every blob row has its whole bytes in the bucket.
  const store = await berth.blobStore();
  for (const { digest } of await berth.query<{ digest: string }>('select digest from blobs')) {
    const hash = createHash('sha256');
    for await (const chunk of await store.read(digest as never)) hash.update(chunk as Buffer);
    assert.equal(`sha256:${hash.digest('hex')}`, digest);
  }
  store.close?.();
});
