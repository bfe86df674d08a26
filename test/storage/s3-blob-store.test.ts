import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { CreateMultipartUploadCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Digest } from '../../src/oci/digest.js';
import type { UploadHandle } from '../../src/storage/blob-store.js';
import { PART_SIZE, S3BlobStore, type S3BlobStoreOptions } from '../../src/storage/s3/s3-blob-store.js';
import { ensureS3, freshBucket } from '../helpers/s3.js';
import { blobStoreContract } from './blob-store-contract.js';

const s3 = await ensureS3();
const bucket = freshBucket();
const MiB = 1024 * 1024;
let stores = 0;

/** A store on this file's bucket under a prefix of its own, so tests never see each other's keys. */
async function makeStore(extra: Partial<S3BlobStoreOptions> = {}): Promise<S3BlobStore & { prefix: string }> {
  const prefix = `store-${++stores}/`;
  const store = new S3BlobStore({
    endpoint: s3.endpoint, bucket, region: s3.region, prefix, forcePathStyle: true, createBucket: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, ...extra,
  });
  await store.init();
  return Object.assign(store, { prefix: extra.prefix ?? prefix });
}

const client = new S3Client({
  endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
  credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
});
const keysUnder = async (prefix: string): Promise<string[]> =>
  ((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);
const digestOf = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
const read = async (s: Readable): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
};
const piecesOf = (handle: UploadHandle): { key: string; size: number }[] => handle.pieces as { key: string; size: number }[];
/** Splits `data` into a stream of uneven chunks, as a network would. */
const trickle = (data: Buffer): Readable => Readable.from((function* () {
  for (let at = 0, n = 1; at < data.length; at += n, n = (n * 7 + 13) % 300_000 + 1) yield data.subarray(at, at + n);
})());

blobStoreContract('s3', () => makeStore());

test('s3: appends of odd sizes are re-cut into full pieces and commit as a multipart upload of 3+ parts', async () => {
  const store = await makeStore();
  const sizes = [1, 3 * MiB, 9 * MiB, 100 * 1024, 5 * MiB + 3, 1];
  const data = randomBytes(sizes.reduce((a, b) => a + b, 0));
  let handle = await store.startUpload('odd');
  let size = 0;
  for (const n of sizes) {
    ({ handle, size } = await store.appendUpload('odd', handle, size, trickle(data.subarray(size, size + n))));
    const pieces = piecesOf(handle);
    assert.ok(pieces.slice(0, -1).every((p) => p.size === PART_SIZE), 'every piece but the last is full');
    assert.equal(pieces.reduce((a, p) => a + p.size, 0), size);
    // The prefix holds the handle's pieces plus at most the short piece this append rewrote, which the next
    // append deletes (only once its caller stored this handle, so a crash never loses acknowledged bytes).
    const replaced = (handle.replaced ?? []) as string[];
    assert.ok(replaced.length <= 1);
    assert.deepEqual((await keysUnder(`${store.prefix}uploads/odd/`)).sort(), [...pieces.map((p) => p.key), ...replaced].sort());
  }
  assert.equal(size, data.length);
  assert.equal(piecesOf(handle).length, 3);
  // Re-hash from storage, as a replica without the live hash does before committing.
  const digest = digestOf(data);
  assert.equal(digestOf(await read(await store.readUpload('odd', handle))), digest);
  await store.commitUpload('odd', handle, digest);
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${store.prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}` }));
  assert.match(head.ETag ?? '', /-3"$/, 'a multipart object of 3 parts');
  assert.equal((await store.stat(digest))?.size, data.length);
  assert.ok(digestOf(await read(await store.read(digest))) === digest);
  // Ranges inside one part and across part boundaries.
  for (const [start, end] of [[0, 0], [PART_SIZE - 10, PART_SIZE + 10], [2 * PART_SIZE - 1, data.length - 1], [12_345, 3 * MiB]] as const) {
    assert.deepEqual(await read(await store.read(digest, { start, end })), data.subarray(start, end + 1), `range ${start}-${end}`);
  }
  const listed = [];
  for await (const b of store.list()) listed.push(b);
  assert.deepEqual(listed.map((b) => [b.digest, b.size]), [[digest, data.length]]);
  await store.abortUpload('odd', handle);
  assert.deepEqual(await keysUnder(`${store.prefix}uploads/`), []);
});

test('s3: a session continues on another store instance (another replica) from its handle alone', async () => {
  const first = await makeStore();
  const data = randomBytes(PART_SIZE + 5 * MiB);
  let handle = await first.startUpload('moved');
  ({ handle } = await first.appendUpload('moved', handle, 0, Readable.from([data.subarray(0, 2 * MiB)])));
  const stored = JSON.parse(JSON.stringify(handle)) as UploadHandle;
  first.close();
  const second = await makeStore({ prefix: first.prefix });
  const r = await second.appendUpload('moved', stored, 2 * MiB, trickle(data.subarray(2 * MiB)));
  assert.equal(r.size, data.length);
  assert.equal(digestOf(await read(await second.readUpload('moved', r.handle))), digestOf(data));
  await second.commitUpload('moved', r.handle, digestOf(data));
  assert.equal((await second.stat(digestOf(data)))?.size, data.length);
});

test('s3: a failed append spanning pieces leaves the handle whole and no extra objects', async () => {
  const store = await makeStore();
  const first = randomBytes(3 * MiB);
  let handle = await store.startUpload('cut');
  ({ handle } = await store.appendUpload('cut', handle, 0, Readable.from([first])));
  const before = await keysUnder(`${store.prefix}uploads/cut/`);
  let sent = 0;
  const broken = new Readable({
    read() {
      if (sent >= 10 * MiB) return void this.destroy(new Error('client went away'));
      sent += MiB;
      this.push(randomBytes(MiB));
    },
  });
  await assert.rejects(store.appendUpload('cut', handle, first.length, broken), /client went away/);
  assert.deepEqual(await keysUnder(`${store.prefix}uploads/cut/`), before);
  const rest = randomBytes(6 * MiB);
  const done = await store.appendUpload('cut', handle, first.length, Readable.from([rest]));
  assert.deepEqual(await read(await store.readUpload('cut', done.handle)), Buffer.concat([first, rest]));
});

test('s3: abortUpload removes every object of the upload, also those its handle does not name', async () => {
  const store = await makeStore();
  let handle = await store.startUpload('gone');
  ({ handle } = await store.appendUpload('gone', handle, 0, Readable.from([randomBytes(PART_SIZE + 10)])));
  // What a process killed in the middle of an append leaves behind.
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${store.prefix}uploads/gone/000009-deadbeef`, Body: 'stray' }));
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${store.prefix}uploads/other/000000-00000000`, Body: 'keep' }));
  assert.equal((await keysUnder(`${store.prefix}uploads/gone/`)).length, 3);
  const ids = [];
  for await (const u of store.listUploads()) ids.push(u.uploadId);
  assert.deepEqual(ids, ['gone', 'other']);
  await store.abortUpload('gone', {});
  assert.deepEqual(await keysUnder(`${store.prefix}uploads/gone/`), []);
  assert.deepEqual(await keysUnder(`${store.prefix}uploads/other/`), [`${store.prefix}uploads/other/000000-00000000`]);
});

test('s3: presigned URLs serve the blob to plain fetch, honour ranges and expire; redirects only when configured', async () => {
  const store = await makeStore();
  const data = randomBytes(100_000);
  const digest = digestOf(data);
  const h = await store.startUpload('signed');
  const r = await store.appendUpload('signed', h, 0, Readable.from([data]));
  await store.commitUpload('signed', r.handle, digest);
  assert.equal(await store.redirectUrl(digest), null, 'no redirects unless configured');

  const url = await store.presignedUrl(digest, 60);
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), data);
  const part = await fetch(url, { headers: { range: 'bytes=10-19' } });
  assert.equal(part.status, 206);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), data.subarray(10, 20));

  const redirecting = await makeStore({ prefix: store.prefix, redirectTtlSeconds: 1 });
  const short = await redirecting.redirectUrl(digest);
  assert.ok(short);
  assert.equal((await fetch(short)).status, 200);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal((await fetch(short)).status, 403, 'expired');
});

test('s3: init creates a missing bucket when allowed and names it when not', async () => {
  const name = freshBucket();
  const opts = {
    endpoint: s3.endpoint, bucket: name, region: s3.region, prefix: '', forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
  await assert.rejects(new S3BlobStore({ ...opts, createBucket: false }).init(), new RegExp(`S3 bucket ${name} does not exist`));
  await new S3BlobStore({ ...opts, createBucket: true }).init();
  await new S3BlobStore({ ...opts, createBucket: false }).init();
  const wrong = new S3BlobStore({ ...opts, createBucket: false, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'wrong' } });
  await assert.rejects(wrong.init(), /access denied|cannot reach/);
});

test('s3: purgeAbandoned aborts multipart uploads a crashed commit left, but never young ones', async () => {
  const store = await makeStore();
  const key = `${store.prefix}blobs/sha256/ab/${'ab'.padEnd(64, '0')}`;
  await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const open = async (): Promise<number> =>
    ((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${store.prefix}blobs/` }))).Uploads ?? []).length;
  assert.equal(await store.purgeAbandoned(Date.now() + 60_000), 0, 'younger than an hour: a commit in progress');
  assert.equal(await open(), 1);
  const eager = await makeStore({ prefix: store.prefix, abandonedAfterMs: 0 });
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.equal(await eager.purgeAbandoned(Date.now()), 1);
  assert.equal(await open(), 0);
});
