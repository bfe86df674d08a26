// storage.s3.redirect: blob GETs answer 307 to a presigned URL, and clients fetch the bytes from the bucket itself.
// Berth on SQLite + S3 here (whatever BERTH_TEST_BACKEND says): the redirect is the storage driver's business.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { skopeoCopy } from '../helpers/clients.js';
import { pushBlob, sha256, useAuthorization } from '../helpers/http.js';
import { summarize, summarizeLayout, writeImageLayout } from '../helpers/oci-image.js';
import { ensureS3, freshBucket, s3BerthEnv } from '../helpers/s3.js';

let berth: RunningBerth;
let endpoint: string;
const work = mkdtempSync(join(tmpdir(), 'berth-s3-redirect-'));

before(async () => {
  // Clients reach the bucket under another host name than Berth's, as in a real deployment.
  endpoint = (await ensureS3()).endpoint.replace('127.0.0.1', 'localhost');
  const env = { ...await s3BerthEnv(freshBucket()), BERTH_STORAGE_S3_ENDPOINT: endpoint, BERTH_STORAGE_S3_REDIRECT: 'true', BERTH_STORAGE_S3_REDIRECT_TTL: '2m' };
  berth = await startBerth({ backend: 'sqlite-fs', env });
  useAuthorization(berth.authorization);
});
after(async () => {
  await berth?.stop();
  await rm(work, { recursive: true, force: true });
});

test('GET of a blob is a 307 to a presigned URL that serves the bytes, ranges included; HEAD is answered by Berth', async () => {
  const data = randomBytes(300_000);
  const digest = await pushBlob(berth.url, 'acme/redirect', data);
  const res = await berth.fetch(`/v2/acme/redirect/blobs/${digest}`, { redirect: 'manual' });
  assert.equal(res.status, 307);
  assert.equal(res.headers.get('docker-content-digest'), digest);
  const location = res.headers.get('location')!;
  assert.ok(location.startsWith(`${endpoint}/`), location);
  assert.match(location, /X-Amz-Expires=120(&|$)/);
  const direct = await fetch(location);
  assert.equal(direct.status, 200);
  assert.equal(sha256(Buffer.from(await direct.arrayBuffer())), digest);

  const ranged = await berth.fetch(`/v2/acme/redirect/blobs/${digest}`, { redirect: 'manual', headers: { range: 'bytes=100-199' } });
  assert.equal(ranged.status, 307);
  const part = await fetch(ranged.headers.get('location')!, { headers: { range: 'bytes=100-199' } });
  assert.equal(part.status, 206);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), data.subarray(100, 200));

  const head = await berth.fetch(`/v2/acme/redirect/blobs/${digest}`, { method: 'HEAD', redirect: 'manual' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(data.length));
  // Access is checked before any redirect: a repository that does not link the blob says BLOB_UNKNOWN.
  assert.equal((await berth.fetch(`/v2/acme/elsewhere/blobs/${digest}`, { redirect: 'manual' })).status, 404);
});

test('skopeo pulls an image through the redirects', async () => {
  const layout = join(work, 'img');
  const image = await writeImageLayout(layout, { layers: [2048, 9 * 1024 * 1024], tag: 'r' });
  const creds = `${berth.user}:${berth.token}`;
  await skopeoCopy(`oci:${layout}:r`, `docker://${berth.host}/acme/redirected:r`, [], { creds });
  const out = join(work, 'out');
  await skopeoCopy(`docker://${berth.host}/acme/redirected:r`, `oci:${out}:r`, [], { creds });
  assert.deepEqual(await summarizeLayout(out, 'r'), summarize(image));
});
