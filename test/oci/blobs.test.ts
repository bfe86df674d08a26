// Pulling, pushing (monolithic) and deleting blobs: distribution-spec "Pulling blobs", "Pushing a blob
// monolithically", "Deleting blobs", plus single byte ranges (RFC 9110 §14).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { truncate } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { assertOciError, pushBlob, registryFetch, sha256, sha512, useAuthorization } from '../helpers/http.js';
import { blobPath, corruptStoredBlob } from '../helpers/stored-blobs.js';

describe('OCI blobs', () => {
  let berth: RunningBerth;
  let url: string;
  const content = Buffer.from('0123456789abcdefghij'); // 20 bytes, easy to slice by eye
  let digest: string;

  before(async () => {
    berth = await startBerth();
    useAuthorization(berth.authorization);
    url = berth.url;
    digest = await pushBlob(url, 'acme/blobs', content);
  });
  after(async () => {
    await berth.stop();
  });

  it('monolithic POST ?digest= is 201 with Location and Docker-Content-Digest, and GET returns the bytes', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const d = sha256(bytes);
    const res = await registryFetch(`${url}/v2/acme/blobs/blobs/uploads/?digest=${d}`, {
      method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: bytes,
    });
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get('location'), `/v2/acme/blobs/blobs/${d}`);
    assert.equal(res.headers.get('docker-content-digest'), d);

    const get = await registryFetch(new URL(res.headers.get('location')!, url));
    assert.equal(get.status, 200);
    const back = Buffer.from(await get.arrayBuffer());
    assert.equal(back.length, bytes.length);
    assert.ok(back.equals(bytes));
    assert.equal(get.headers.get('docker-content-digest'), d);
  });

  it('GET has Content-Length, Docker-Content-Digest, Content-Type and Accept-Ranges', async () => {
    const res = await registryFetch(`${url}/v2/acme/blobs/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(content.length));
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.equal(res.headers.get('etag'), `"${digest}"`);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(content));
  });

  it('HEAD has the same headers and no body', async () => {
    const res = await registryFetch(`${url}/v2/acme/blobs/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(content.length));
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('a zero-byte blob round-trips', async () => {
    const empty = Buffer.alloc(0);
    const d = await pushBlob(url, 'acme/blobs', empty);
    assert.equal(d, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const res = await registryFetch(`${url}/v2/acme/blobs/blobs/${d}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '0');
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  describe('Range requests', () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-4', 0, 4],
      ['bytes=5-9', 5, 9],
      ['bytes=15-', 15, 19],
      ['bytes=-3', 17, 19],
      ['bytes=0-', 0, 19],
      ['bytes=18-1000', 18, 19], // an end past the blob is clamped (RFC 9110 §14.1.1)
      ['bytes=-50', 0, 19], // a suffix longer than the blob is the whole blob
      ['bytes=19-19', 19, 19],
    ];
    for (const [header, start, end] of cases) {
      it(`${header} → 206 bytes ${start}-${end}/20`, async () => {
        const res = await registryFetch(`${url}/v2/acme/blobs/blobs/${digest}`, { headers: { Range: header } });
        assert.equal(res.status, 206);
        assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${content.length}`);
        assert.equal(res.headers.get('content-length'), String(end - start + 1));
        assert.equal(res.headers.get('docker-content-digest'), digest);
        assert.equal(res.headers.get('accept-ranges'), 'bytes');
        const body = Buffer.from(await res.arrayBuffer());
        assert.ok(body.equals(content.subarray(start, end + 1)), `${header}: got ${body.toString()}`);
      });
    }

    it('HEAD with a Range is 206 with the range headers and no body', async () => {
      const res = await registryFetch(`${url}/v2/acme/blobs/blobs/${digest}`, { method: 'HEAD', headers: { Range: 'bytes=2-5' } });
      assert.equal(res.status, 206);
      assert.equal(res.headers.get('content-range'), 'bytes 2-5/20');
      assert.equal(res.headers.get('content-length'), '4');
      assert.equal((await res.arrayBuffer()).byteLength, 0);
    });

    for (const header of ['bytes=20-', 'bytes=25-30', 'bytes=9-3', 'bytes=-0', 'bytes=-', 'bytes=abc', 'bytes=0-1,3-4', 'bytes=1-x']) {
      it(`${header} → 416 with Content-Range: bytes */20`, async () => {
        const res = await registryFetch(`${url}/v2/acme/blobs/blobs/${digest}`, { headers: { Range: header } });
        assert.equal(res.headers.get('content-range'), `bytes */${content.length}`);
        await assertOciError(res, 416, null);
      });
    }

    it('a Range in another unit is ignored: 200 with the whole blob', async () => {
      const res = await registryFetch(`${url}/v2/acme/blobs/blobs/${digest}`, { headers: { Range: 'items=0-1' } });
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(content));
    });

    it('a range of a zero-byte blob is 416', async () => {
      const d = await pushBlob(url, 'acme/blobs', Buffer.alloc(0));
      const res = await registryFetch(`${url}/v2/acme/blobs/blobs/${d}`, { headers: { Range: 'bytes=0-' } });
      assert.equal(res.headers.get('content-range'), 'bytes */0');
      await assertOciError(res, 416, null);
    });
  });

  describe('large blobs (several read buffers)', () => {
    const big = randomBytes(24 * 1024 * 1024 + 5);
    let bigDigest: string;
    before(async () => {
      bigDigest = await pushBlob(url, 'acme/big', big);
    });
    /** The server's open file descriptors on committed blobs. */
    const openBlobFds = (): number => readdirSync(`/proc/${berth.pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${berth.pid}/fd/${fd}`).includes('/blobs/sha');
      } catch {
        return false; // closed meanwhile
      }
    }).length;

    it('full and ranged GETs across buffer boundaries return the right bytes', async () => {
      const full = await registryFetch(`${url}/v2/acme/big/blobs/${bigDigest}`);
      assert.equal(full.status, 200);
      assert.ok(Buffer.from(await full.arrayBuffer()).equals(big));
      for (const [start, end] of [[1, 1024 * 1024], [1024 * 1024 - 3, 5 * 1024 * 1024 + 2], [big.length - 7, big.length - 1]] as const) {
        const res = await registryFetch(`${url}/v2/acme/big/blobs/${bigDigest}`, { headers: { Range: `bytes=${start}-${end}` } });
        assert.equal(res.status, 206);
        assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${big.length}`);
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(big.subarray(start, end + 1)), `bytes=${start}-${end}`);
      }
    });

    // The filesystem store reads each 1 MiB block once for every response that needs it (send-file.ts).
    const onFiles = (): boolean => !berth.metadataEnv.BERTH_STORAGE_S3_BUCKET;

    it('thirty clients at once, full and ranged across block boundaries, each get exactly their bytes', async () => {
      const ranges = [[0, big.length - 1], [1024 * 1024 - 1, 1024 * 1024], [3 * 1024 * 1024 + 17, 9 * 1024 * 1024 - 2], [big.length - 5, big.length - 1]] as const;
      const gets = Array.from({ length: 30 }, async (_, i) => {
        const [start, end] = ranges[i % ranges.length]!;
        const whole = start === 0 && end === big.length - 1;
        const res = await registryFetch(`${url}/v2/acme/big/blobs/${bigDigest}`, whole ? {} : { headers: { Range: `bytes=${start}-${end}` } });
        assert.equal(res.status, whole ? 200 : 206);
        const body = Buffer.from(await res.arrayBuffer());
        assert.ok(body.equals(big.subarray(start, end + 1)), `client ${i}: bytes=${start}-${end}, got ${body.length} bytes`);
      });
      await Promise.all(gets);
    });

    it('forty slow clients of forty blobs, more than the shared budget holds, each get their whole blob', async () => {
      const blobs = Array.from({ length: 40 }, (_, i) => randomBytes(3 * 1024 * 1024 + 1 + i));
      const digests = await Promise.all(blobs.map((b) => pushBlob(url, 'acme/many', b)));
      const bodies = await Promise.all(digests.map((d, i) => new Promise<Buffer>((resolve, reject) => {
        const req = httpGet(`${url}/v2/acme/many/blobs/${d}`, { headers: { authorization: berth.authorization } }, (res) => {
          const chunks: Buffer[] = [];
          res.once('data', (first: Buffer) => {
            chunks.push(first);
            // Slow readers: the server's writes wait on full sockets, its blocks and buffers stay taken.
            res.pause();
            setTimeout(() => {
              res.on('data', (c: Buffer) => chunks.push(c));
              res.resume();
            }, 300 + 10 * i);
          });
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        });
        req.setTimeout(60_000, () => req.destroy(new Error(`blob ${i}: no progress for 60 s`)));
        req.on('error', reject);
      })));
      bodies.forEach((body, i) => assert.ok(body.equals(blobs[i]!), `blob ${i}: ${body.length} of ${blobs[i]!.length} bytes`));
    });

    it('bytes changed on disk are served as they now are: blocks read before are never served for the changed file', async (t) => {
      if (!onFiles()) return t.skip('filesystem store only');
      const first = Buffer.from(await (await registryFetch(`${url}/v2/acme/big/blobs/${bigDigest}`)).arrayBuffer());
      assert.ok(first.equals(big));
      // Without storage.verifyOnRead Berth serves what the store holds; a cache must not hide a change (a repair is one).
      await corruptStoredBlob(berth, bigDigest, 2 * 1024 * 1024 + 10, 4);
      try {
        const changed = Buffer.from(await (await registryFetch(`${url}/v2/acme/big/blobs/${bigDigest}`)).arrayBuffer());
        assert.equal(changed.length, big.length);
        assert.ok(!changed.equals(big), 'the changed bytes, not the blocks read before the change');
        assert.ok(changed.subarray(2 * 1024 * 1024 + 10, 2 * 1024 * 1024 + 14).equals(Buffer.from(big.subarray(2 * 1024 * 1024 + 10, 2 * 1024 * 1024 + 14).map((b) => b ^ 0xff))));
      } finally {
        await corruptStoredBlob(berth, bigDigest, 2 * 1024 * 1024 + 10, 4); // flipped back
      }
      assert.ok(Buffer.from(await (await registryFetch(`${url}/v2/acme/big/blobs/${bigDigest}`)).arrayBuffer()).equals(big));
    });

    it('a file found shorter than its blob cuts off every client reading it, and the server keeps serving', async (t) => {
      if (!onFiles()) return t.skip('filesystem store only');
      const file = blobPath(berth, bigDigest);
      const short = randomBytes(3 * 1024 * 1024 + 1);
      const shortDigest = await pushBlob(url, 'acme/big', short);
      await truncate(blobPath(berth, shortDigest), 2 * 1024 * 1024 + 100);
      const cut = await Promise.all(Array.from({ length: 8 }, async () => {
        const res = await registryFetch(`${url}/v2/acme/big/blobs/${shortDigest}`);
        assert.equal(res.status, 200);
        return res.arrayBuffer().then(() => 'whole', (err: Error) => err.name);
      }));
      assert.deepEqual(cut.filter((r) => r === 'whole'), [], 'no client gets a clean end from a short file');
      const res = await registryFetch(`${url}/v2/acme/big/blobs/${bigDigest}`);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(big), `${file} is still served whole`);
    });

    it('a client that disconnects mid-download leaves the server healthy and the blob file closed', { skip: process.platform !== 'linux' && 'needs /proc' }, async () => {
      const before = openBlobFds();
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = httpGet(`${url}/v2/acme/big/blobs/${bigDigest}`, { headers: { authorization: berth.authorization } }, (res) => {
            assert.equal(res.statusCode, 200);
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          });
          req.on('error', (err) => { if (!req.destroyed) reject(err); });
        });
      }
      const deadline = Date.now() + 5000;
      while (openBlobFds() > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      // At most as many as before: a file the previous test's GET had open may have been closed meanwhile.
      assert.ok(openBlobFds() <= before, `blob files open: ${openBlobFds()}, before the disconnects: ${before}`);
      const res = await registryFetch(`${url}/v2/acme/big/blobs/${bigDigest}`, { headers: { Range: 'bytes=7-20' } });
      assert.equal(res.status, 206);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(big.subarray(7, 21)));
    });
  });

  it('GET and HEAD of an unknown blob are 404 BLOB_UNKNOWN', async () => {
    const unknown = sha256('never pushed');
    const res = await registryFetch(`${url}/v2/acme/blobs/blobs/${unknown}`);
    const error = await assertOciError(res, 404, 'BLOB_UNKNOWN');
    assert.deepEqual(error.detail, { digest: unknown });
    const head = await registryFetch(`${url}/v2/acme/blobs/blobs/${unknown}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
  });

  it('GET of a blob in a repository that does not exist is 404 BLOB_UNKNOWN', async () => {
    await assertOciError(await registryFetch(`${url}/v2/acme/nowhere/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
  });

  it('a blob pushed to repo A is not readable from repo B until B mounts it', async () => {
    const bytes = Buffer.from('private to acme/a');
    const d = await pushBlob(url, 'acme/a', bytes);
    await pushBlob(url, 'acme/b', 'something else, so acme/b exists');

    await assertOciError(await registryFetch(`${url}/v2/acme/b/blobs/${d}`), 404, 'BLOB_UNKNOWN');
    const head = await registryFetch(`${url}/v2/acme/b/blobs/${d}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    // Nor may B learn its size through a range.
    await assertOciError(await registryFetch(`${url}/v2/acme/b/blobs/${d}`, { headers: { Range: 'bytes=0-0' } }), 404, 'BLOB_UNKNOWN');

    const mount = await registryFetch(`${url}/v2/acme/b/blobs/uploads/?mount=${d}&from=acme/a`, { method: 'POST' });
    assert.equal(mount.status, 201, await mount.text());
    assert.equal(mount.headers.get('location'), `/v2/acme/b/blobs/${d}`);
    assert.equal(mount.headers.get('docker-content-digest'), d);

    const res = await registryFetch(`${url}/v2/acme/b/blobs/${d}`);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
  });

  it('DELETE is 202, then the blob is 404 in that repository only', async () => {
    const bytes = Buffer.from('to be deleted');
    const d = await pushBlob(url, 'acme/del', bytes);
    await pushBlob(url, 'acme/keep', bytes);

    const del = await registryFetch(`${url}/v2/acme/del/blobs/${d}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    assert.equal(del.headers.get('docker-distribution-api-version'), 'registry/2.0');
    await del.arrayBuffer();

    await assertOciError(await registryFetch(`${url}/v2/acme/del/blobs/${d}`), 404, 'BLOB_UNKNOWN');
    assert.equal((await registryFetch(`${url}/v2/acme/del/blobs/${d}`, { method: 'HEAD' })).status, 404);
    // Another repository's link to the same bytes is unaffected.
    const other = await registryFetch(`${url}/v2/acme/keep/blobs/${d}`);
    assert.equal(other.status, 200);
    assert.ok(Buffer.from(await other.arrayBuffer()).equals(bytes));

    // Deleting again is 404 BLOB_UNKNOWN; in a repository that does not exist, 404 NAME_UNKNOWN.
    await assertOciError(await registryFetch(`${url}/v2/acme/del/blobs/${d}`, { method: 'DELETE' }), 404, 'BLOB_UNKNOWN');
    await assertOciError(await registryFetch(`${url}/v2/acme/nowhere/blobs/${d}`, { method: 'DELETE' }), 404, 'NAME_UNKNOWN');

    // Pushing the bytes again makes the blob readable again.
    await pushBlob(url, 'acme/del', bytes);
    assert.equal((await registryFetch(`${url}/v2/acme/del/blobs/${d}`, { method: 'HEAD' })).status, 200);
  });

  it('pushing the same blob twice is idempotent', async () => {
    const bytes = Buffer.from('twice');
    const first = await pushBlob(url, 'acme/blobs', bytes);
    const second = await pushBlob(url, 'acme/blobs', bytes);
    assert.equal(first, second);
    const res = await registryFetch(`${url}/v2/acme/blobs/blobs/${first}`);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
  });

  describe('sha512 digests', () => {
    it('monolithic push and pull', async () => {
      const bytes = randomBytes(100_000);
      const d = sha512(bytes);
      await pushBlob(url, 'acme/sha512', bytes, d);
      const res = await registryFetch(`${url}/v2/acme/sha512/blobs/${d}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-content-digest'), d);
      assert.equal(res.headers.get('content-length'), String(bytes.length));
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
      // The same bytes are not addressable by their sha256 digest: nobody pushed that.
      await assertOciError(await registryFetch(`${url}/v2/acme/sha512/blobs/${sha256(bytes)}`), 404, 'BLOB_UNKNOWN');
    });

    it('chunked push and pull, with a range', async () => {
      const bytes = randomBytes(70_000);
      const d = sha512(bytes);
      const start = await registryFetch(`${url}/v2/acme/sha512/blobs/uploads/`, { method: 'POST' });
      assert.equal(start.status, 202);
      let location = start.headers.get('location')!;
      for (const [a, b] of [[0, 30_000], [30_000, 70_000]] as const) {
        const patch = await registryFetch(new URL(location, url), {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${a}-${b - 1}` },
          body: bytes.subarray(a, b),
        });
        assert.equal(patch.status, 202, await patch.text());
        assert.equal(patch.headers.get('range'), `0-${b - 1}`);
        location = patch.headers.get('location')!;
      }
      const put = await registryFetch(new URL(`${location}?digest=${d}`, url), { method: 'PUT' });
      assert.equal(put.status, 201, await put.text());
      assert.equal(put.headers.get('docker-content-digest'), d);
      assert.equal(put.headers.get('location'), `/v2/acme/sha512/blobs/${d}`);

      const res = await registryFetch(`${url}/v2/acme/sha512/blobs/${d}`);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
      const part = await registryFetch(`${url}/v2/acme/sha512/blobs/${d}`, { headers: { Range: 'bytes=100-199' } });
      assert.equal(part.status, 206);
      assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 200)));
    });

    it('a sha512 push with the wrong digest is 400 DIGEST_INVALID and not readable', async () => {
      const bytes = Buffer.from('sha512 mismatch');
      const wrong = sha512('something else');
      const res = await registryFetch(`${url}/v2/acme/sha512/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: bytes });
      await assertOciError(res, 400, 'DIGEST_INVALID');
      await assertOciError(await registryFetch(`${url}/v2/acme/sha512/blobs/${wrong}`), 404, 'BLOB_UNKNOWN');
    });
  });
});
