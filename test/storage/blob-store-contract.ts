import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { Digest } from '../../src/oci/digest.js';
import type { BlobStore } from '../../src/storage/blob-store.js';

/**
 * The behaviour every BlobStore driver must have. Each driver's test file calls this with a fresh store, so the
 * filesystem and S3 drivers are held to the same contract.
 */
export function blobStoreContract(name: string, makeStore: () => Promise<BlobStore>): void {
  const digestOf = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
  const read = async (s: Readable): Promise<Buffer> => {
    const parts: Buffer[] = [];
    for await (const c of s) parts.push(c as Buffer);
    return Buffer.concat(parts);
  };

  test(`${name}: an upload is invisible until committed, then readable whole and by range`, async () => {
    const store = await makeStore();
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const digest = digestOf(data);
    let handle = await store.startUpload('u-1');
    ({ handle } = await store.appendUpload('u-1', handle, 0, Readable.from([data.subarray(0, 1_000_000)])));
    assert.equal(await store.stat(digest), null, 'not visible before commit');
    const appended = await store.appendUpload('u-1', handle, 1_000_000, Readable.from([data.subarray(1_000_000)]));
    assert.equal(appended.size, data.length);
    assert.deepEqual(await read(await store.readUpload('u-1', appended.handle)), data);
    await store.commitUpload('u-1', appended.handle, digest);
    assert.equal((await store.stat(digest))?.size, data.length);
    // The scratch data is dropped separately; the blob stays, and committing again is harmless.
    await store.commitUpload('u-1', appended.handle, digest);
    await store.abortUpload('u-1', appended.handle);
    const scratch = [];
    for await (const u of store.listUploads()) scratch.push(u.uploadId);
    assert.ok(!scratch.includes('u-1'));
    assert.deepEqual(await read(await store.read(digest)), data);
    assert.deepEqual(await read(await store.read(digest, { start: 5, end: 104 })), data.subarray(5, 105));
    const listed = [];
    for await (const b of store.list()) listed.push(b.digest);
    assert.ok(listed.includes(digest));
  });

  test(`${name}: a failed append keeps the acknowledged bytes only`, async () => {
    const store = await makeStore();
    const first = randomBytes(1000);
    let handle = await store.startUpload('u-2');
    ({ handle } = await store.appendUpload('u-2', handle, 0, Readable.from([first])));
    const broken = new Readable({ read() { this.push(randomBytes(500)); this.destroy(new Error('client went away')); } });
    await assert.rejects(store.appendUpload('u-2', handle, 1000, broken));
    const rest = randomBytes(10);
    const done = await store.appendUpload('u-2', handle, 1000, Readable.from([rest]));
    assert.equal(done.size, 1010);
    assert.deepEqual(await read(await store.readUpload('u-2', done.handle)), Buffer.concat([first, rest]));
  });

  test(`${name}: abort removes the scratch data; delete removes a blob; commit is idempotent`, async () => {
    const store = await makeStore();
    const h = await store.startUpload('u-3');
    await store.appendUpload('u-3', h, 0, Readable.from([Buffer.from('x')]));
    await store.abortUpload('u-3', h);
    const uploads = [];
    for await (const u of store.listUploads()) uploads.push(u.uploadId);
    assert.ok(!uploads.includes('u-3'));

    const data = Buffer.from('same bytes twice');
    const digest = digestOf(data);
    for (const id of ['u-4', 'u-5']) {
      const hh = await store.startUpload(id);
      const r = await store.appendUpload(id, hh, 0, Readable.from([data]));
      await store.commitUpload(id, r.handle, digest);
    }
    assert.deepEqual(await read(await store.read(digest)), data);
    await store.delete(digest);
    assert.equal(await store.stat(digest), null);
    await assert.rejects(store.read(digest));
  });

  test(`${name}: an empty blob can be stored`, async () => {
    const store = await makeStore();
    const h = await store.startUpload('u-6');
    const digest = digestOf(Buffer.alloc(0));
    await store.commitUpload('u-6', h, digest);
    assert.equal((await store.stat(digest))?.size, 0);
  });

  test(`${name}: a missing blob stats as null and fails to read with ENOENT (BlobService maps it to BLOB_UNKNOWN)`, async () => {
    const store = await makeStore();
    const digest = digestOf(Buffer.from('never stored'));
    assert.equal(await store.stat(digest), null);
    await assert.rejects(store.read(digest), { code: 'ENOENT' });
    await assert.rejects(store.read(digest, { start: 0, end: 3 }), { code: 'ENOENT' });
    await store.delete(digest);
  });

  test(`${name}: listUploads shows an upload holding data, with a recent modification time`, async () => {
    const store = await makeStore();
    const before = Date.now() - 60_000;
    const h = await store.startUpload('u-8');
    await store.appendUpload('u-8', h, 0, Readable.from([randomBytes(10)]));
    const found = [];
    for await (const u of store.listUploads()) if (u.uploadId === 'u-8') found.push(u);
    assert.equal(found.length, 1);
    assert.ok(found[0]!.modifiedAt > before && found[0]!.modifiedAt < Date.now() + 60_000, `modifiedAt ${found[0]!.modifiedAt}`);
    await store.abortUpload('u-8', h);
  });

  test(`${name}: many small appends and an empty one add up, in order`, async () => {
    const store = await makeStore();
    const chunks = [1, 7, 0, 4096, 1, 65_537, 3].map((n) => randomBytes(n));
    let handle = await store.startUpload('u-9');
    let size = 0;
    for (const chunk of chunks) {
      const r = await store.appendUpload('u-9', handle, size, Readable.from(chunk.length ? [chunk] : []));
      ({ handle, size } = r);
    }
    const data = Buffer.concat(chunks);
    assert.equal(size, data.length);
    assert.deepEqual(await read(await store.readUpload('u-9', handle)), data);
    await store.commitUpload('u-9', handle, digestOf(data));
    assert.deepEqual(await read(await store.read(digestOf(data), { start: 8, end: 8 + 4095 })), data.subarray(8, 8 + 4096));
  });

  test(`${name}: openFile, where offered, reads the committed bytes by position and fails for a missing blob`, async (t) => {
    const store = await makeStore();
    if (!store.openFile) return t.skip('optional capability not offered by this driver');
    const data = randomBytes(100_000);
    const digest = digestOf(data);
    const h = await store.startUpload('u-7');
    const r = await store.appendUpload('u-7', h, 0, Readable.from([data]));
    await store.commitUpload('u-7', r.handle, digest);
    const file = await store.openFile(digest);
    try {
      const buf = Buffer.alloc(1000);
      assert.equal((await file.read(buf, 0, 1000, 50_000)).bytesRead, 1000);
      assert.deepEqual(buf, data.subarray(50_000, 51_000));
      assert.equal((await file.read(buf, 0, 1000, 99_990)).bytesRead, 10);
      assert.equal((await file.read(buf, 0, 1000, 100_000)).bytesRead, 0);
    } finally {
      await file.close();
    }
    await assert.rejects(store.openFile(digestOf(Buffer.from('missing'))), { code: 'ENOENT' });
  });
}
