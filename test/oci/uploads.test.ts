// Blob upload sessions: distribution-spec "Pushing a blob in chunks", "Pushing a blob monolithically" (POST then
// PUT), "Mounting a blob from another repository", upload status and cancellation.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { assertOciError, assertRawOciError, headerValue, pushBlob, rawRequest, registryFetch, sha256, sha512, useAuthorization } from '../helpers/http.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('OCI blob uploads', () => {
  let berth: RunningBerth;
  let url: string;

  before(async () => {
    berth = await startBerth();
    useAuthorization(berth.authorization);
    url = berth.url;
  });
  after(async () => {
    await berth.stop();
  });

  /** POST a new session; asserts the 202 and returns its Location. */
  async function startSession(name: string): Promise<string> {
    const res = await registryFetch(`${url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(res.status, 202, await res.text());
    return res.headers.get('location')!;
  }

  async function patch(location: string, body: Buffer, range?: string): Promise<Response> {
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (range !== undefined) headers['Content-Range'] = range;
    return registryFetch(new URL(location, url), { method: 'PATCH', headers, body });
  }

  async function uploadStatus(location: string): Promise<Response> {
    return registryFetch(new URL(location, url));
  }

  async function readBlob(name: string, digest: string): Promise<Buffer> {
    const res = await registryFetch(`${url}/v2/${name}/blobs/${digest}`);
    assert.equal(res.status, 200, `blob ${digest} in ${name}`);
    return Buffer.from(await res.arrayBuffer());
  }

  it('POST starts a session: 202 with Location, Range 0-0, Docker-Upload-UUID and OCI-Chunk-Min-Length', async () => {
    const res = await registryFetch(`${url}/v2/acme/up/blobs/uploads/`, { method: 'POST' });
    assert.equal(res.status, 202);
    const id = res.headers.get('docker-upload-uuid');
    assert.match(id ?? '', UUID);
    assert.equal(res.headers.get('location'), `/v2/acme/up/blobs/uploads/${id}`);
    assert.equal(res.headers.get('range'), '0-0');
    assert.equal(res.headers.get('content-length'), '0');
    assert.match(res.headers.get('oci-chunk-min-length') ?? '', /^\d+$/);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    // The session exists: its status is readable.
    const status = await uploadStatus(res.headers.get('location')!);
    assert.equal(status.status, 204);
  });

  it('POST without a trailing slash starts a session too', async () => {
    const res = await registryFetch(`${url}/v2/acme/up/blobs/uploads`, { method: 'POST' });
    assert.equal(res.status, 202);
    assert.match(res.headers.get('location') ?? '', /^\/v2\/acme\/up\/blobs\/uploads\//);
  });

  it('chunked PATCHes in order are 202 with an inclusive Range; PUT ?digest= completes the blob', async () => {
    const bytes = randomBytes(50_000);
    const digest = sha256(bytes);
    let location = await startSession('acme/up');
    const bounds = [0, 10_000, 25_000, 50_000];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const [a, b] = [bounds[i]!, bounds[i + 1]!];
      const res = await patch(location, bytes.subarray(a, b), `${a}-${b - 1}`);
      assert.equal(res.status, 202, await res.text());
      assert.equal(res.headers.get('range'), `0-${b - 1}`);
      assert.match(res.headers.get('docker-upload-uuid') ?? '', UUID);
      assert.equal(res.headers.get('content-length'), '0');
      location = res.headers.get('location')!;
      assert.match(location, /^\/v2\/acme\/up\/blobs\/uploads\//);

      const status = await uploadStatus(location);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), `0-${b - 1}`);
      assert.equal(status.headers.get('location'), location);
    }
    const put = await registryFetch(new URL(`${location}?digest=${digest}`, url), { method: 'PUT' });
    assert.equal(put.status, 201, await put.text());
    assert.equal(put.headers.get('location'), `/v2/acme/up/blobs/${digest}`);
    assert.equal(put.headers.get('docker-content-digest'), digest);
    assert.ok((await readBlob('acme/up', digest)).equals(bytes));
    // The session is closed.
    await assertOciError(await uploadStatus(location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('PATCH without Content-Range appends (the streamed upload style)', async () => {
    const bytes = randomBytes(20_000);
    let location = await startSession('acme/up');
    let res = await patch(location, bytes.subarray(0, 8_000));
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('range'), '0-7999');
    location = res.headers.get('location')!;
    res = await patch(location, bytes.subarray(8_000));
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('range'), '0-19999');
    location = res.headers.get('location')!;
    const put = await registryFetch(new URL(`${location}?digest=${sha256(bytes)}`, url), { method: 'PUT' });
    assert.equal(put.status, 201);
    assert.ok((await readBlob('acme/up', sha256(bytes))).equals(bytes));
  });

  it('a streamed PATCH without Content-Length (chunked transfer encoding, fetch stream) is 202', async () => {
    const bytes = randomBytes(200_000);
    const location = await startSession('acme/up');
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 32_768) controller.enqueue(bytes.subarray(i, i + 32_768));
        controller.close();
      },
    });
    const res = await registryFetch(new URL(location, url), {
      method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: stream, duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 202, await res.text());
    assert.equal(res.headers.get('range'), `0-${bytes.length - 1}`);
    const put = await registryFetch(new URL(`${res.headers.get('location')}?digest=${sha256(bytes)}`, url), { method: 'PUT' });
    assert.equal(put.status, 201);
    assert.ok((await readBlob('acme/up', sha256(bytes))).equals(bytes));
  });

  it('a streamed PATCH through node:http with Transfer-Encoding: chunked is 202', async () => {
    const bytes = randomBytes(30_000);
    const location = await startSession('acme/up');
    const res = await rawRequest(url, { method: 'PATCH', path: location, body: bytes, chunked: true, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(res.status, 202, res.body.toString());
    assert.equal(headerValue(res.headers, 'range'), `0-${bytes.length - 1}`);
    const put = await registryFetch(new URL(`${location}?digest=${sha256(bytes)}`, url), { method: 'PUT' });
    assert.equal(put.status, 201);
    assert.ok((await readBlob('acme/up', sha256(bytes))).equals(bytes));
  });

  it('POST then PUT with the whole body (monolithic in two steps) is 201', async () => {
    const bytes = Buffer.from('monolithic via PUT');
    const digest = sha256(bytes);
    const location = await startSession('acme/up');
    const put = await registryFetch(new URL(`${location}?digest=${digest}`, url), {
      method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: bytes,
    });
    assert.equal(put.status, 201, await put.text());
    assert.equal(put.headers.get('location'), `/v2/acme/up/blobs/${digest}`);
    assert.equal(put.headers.get('docker-content-digest'), digest);
    assert.ok((await readBlob('acme/up', digest)).equals(bytes));
  });

  it('PUT with a final chunk after PATCHes is 201', async () => {
    const bytes = randomBytes(9_000);
    const digest = sha256(bytes);
    const location = await startSession('acme/up');
    const res = await patch(location, bytes.subarray(0, 4_000), '0-3999');
    assert.equal(res.status, 202);
    const put = await registryFetch(new URL(`${res.headers.get('location')}?digest=${digest}`, url), {
      method: 'PUT', headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '4000-8999' }, body: bytes.subarray(4_000),
    });
    assert.equal(put.status, 201, await put.text());
    assert.equal(put.headers.get('docker-content-digest'), digest);
    assert.ok((await readBlob('acme/up', digest)).equals(bytes));
  });

  it('an out-of-order chunk is 416 BLOB_UPLOAD_INVALID with the current Range, and the session is intact', async () => {
    const bytes = randomBytes(3_000);
    const location = await startSession('acme/up');
    assert.equal((await patch(location, bytes.subarray(0, 1_000), '0-999')).status, 202);

    // A gap, a repeat of the first chunk and an overlap are all out of order.
    for (const [a, b] of [[2_000, 2_999], [0, 999], [500, 1_499]] as const) {
      const res = await patch(location, bytes.subarray(a, b + 1), `${a}-${b}`);
      assert.equal(res.headers.get('range'), '0-999', `${a}-${b}`);
      const error = await assertOciError(res, 416, 'BLOB_UPLOAD_INVALID');
      assert.deepEqual(error.detail, { offset: 1_000 });
    }
    const status = await uploadStatus(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-999');

    // The session continues from where it was.
    assert.equal((await patch(location, bytes.subarray(1_000), '1000-2999')).status, 202);
    const put = await registryFetch(new URL(`${location}?digest=${sha256(bytes)}`, url), { method: 'PUT' });
    assert.equal(put.status, 201);
    assert.ok((await readBlob('acme/up', sha256(bytes))).equals(bytes));
  });

  it('a first chunk that does not start at 0 is 416 with Range 0-0', async () => {
    const location = await startSession('acme/up');
    const res = await patch(location, Buffer.from('abc'), '5-7');
    assert.equal(res.headers.get('range'), '0-0');
    await assertOciError(res, 416, 'BLOB_UPLOAD_INVALID');
  });

  it('GET on a session is 204 with Location, Range and Docker-Upload-UUID', async () => {
    const location = await startSession('acme/up');
    const empty = await uploadStatus(location);
    assert.equal(empty.status, 204);
    assert.equal(empty.headers.get('range'), '0-0');
    assert.equal(empty.headers.get('location'), location);
    assert.equal(empty.headers.get('docker-upload-uuid'), location.split('/').at(-1));
    await patch(location, Buffer.alloc(10, 1), '0-9');
    const res = await uploadStatus(location);
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('range'), '0-9');
  });

  it('DELETE cancels a session: 204, then 404 BLOB_UPLOAD_UNKNOWN for every operation on it', async () => {
    const location = await startSession('acme/up');
    await patch(location, Buffer.from('some data'), '0-8');
    const del = await registryFetch(new URL(location, url), { method: 'DELETE' });
    assert.equal(del.status, 204);
    await del.arrayBuffer();

    await assertOciError(await uploadStatus(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    await assertOciError(await patch(location, Buffer.from('more'), '9-12'), 404, 'BLOB_UPLOAD_UNKNOWN');
    await assertOciError(await registryFetch(new URL(`${location}?digest=${sha256('some data')}`, url), { method: 'PUT' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    await assertOciError(await registryFetch(new URL(location, url), { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    // Its scratch data is gone.
    assert.ok(!(await berth.scratchUploads()).includes(location.split('/').at(-1)!));
    await assertOciError(await registryFetch(`${url}/v2/acme/up/blobs/${sha256('some data')}`), 404, 'BLOB_UNKNOWN');
  });

  it('a wrong digest at PUT is 400 DIGEST_INVALID; the blob is not readable and the session is gone', async () => {
    const bytes = Buffer.from('the real content');
    const wrong = sha256('not the content');
    const location = await startSession('acme/up');
    await patch(location, bytes, `0-${bytes.length - 1}`);
    const put = await registryFetch(new URL(`${location}?digest=${wrong}`, url), { method: 'PUT' });
    const error = await assertOciError(put, 400, 'DIGEST_INVALID');
    assert.deepEqual(error.detail, { expected: wrong, actual: sha256(bytes) });

    await assertOciError(await registryFetch(`${url}/v2/acme/up/blobs/${wrong}`), 404, 'BLOB_UNKNOWN');
    await assertOciError(await registryFetch(`${url}/v2/acme/up/blobs/${sha256(bytes)}`), 404, 'BLOB_UNKNOWN');
    await assertOciError(await uploadStatus(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    assert.ok(!(await berth.scratchUploads()).includes(location.split('/').at(-1)!));
  });

  it('PUT without ?digest is 400 DIGEST_INVALID and leaves the session open', async () => {
    const location = await startSession('acme/up');
    await patch(location, Buffer.from('abc'), '0-2');
    await assertOciError(await registryFetch(new URL(location, url), { method: 'PUT' }), 400, 'DIGEST_INVALID');
    const status = await uploadStatus(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-2');
  });

  it('PUT with a malformed ?digest is 400 DIGEST_INVALID', async () => {
    const location = await startSession('acme/up');
    for (const digest of ['sha256:xyz', 'md5:d41d8cd98f00b204e9800998ecf8427e', 'nonsense', '']) {
      await assertOciError(await registryFetch(new URL(`${location}?digest=${encodeURIComponent(digest)}`, url), { method: 'PUT' }), 400, 'DIGEST_INVALID');
    }
  });

  it('an upload id that is not a UUID is 404 BLOB_UPLOAD_UNKNOWN', async () => {
    for (const id of ['not-a-uuid', '12345', 'ABCDEF01-2345-6789-ABCD-EF0123456789', '..', '%2e%2e']) {
      for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
        const res = await rawRequest(url, { method, path: `/v2/acme/up/blobs/uploads/${id}?digest=${sha256('x')}`, body: method === 'PATCH' ? 'x' : undefined });
        assertRawOciError(res, 404, 'BLOB_UPLOAD_UNKNOWN');
      }
    }
  });

  it('a well-formed but unknown upload id is 404 BLOB_UPLOAD_UNKNOWN', async () => {
    await assertOciError(await registryFetch(`${url}/v2/acme/up/blobs/uploads/00000000-0000-4000-8000-000000000000`), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('an upload id used under a different repository name is 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const location = await startSession('acme/up');
    const id = location.split('/').at(-1)!;
    await pushBlob(url, 'acme/other', 'so acme/other exists');
    const bytes = Buffer.from('cross-repo');
    await assertOciError(await registryFetch(`${url}/v2/acme/other/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
    await assertOciError(await patch(`/v2/acme/other/blobs/uploads/${id}`, bytes, '0-9'), 404, 'BLOB_UPLOAD_UNKNOWN');
    await assertOciError(await registryFetch(`${url}/v2/acme/other/blobs/uploads/${id}?digest=${sha256(bytes)}`, { method: 'PUT', body: bytes }), 404, 'BLOB_UPLOAD_UNKNOWN');
    await assertOciError(await registryFetch(`${url}/v2/acme/other/blobs/uploads/${id}`, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    await assertOciError(await registryFetch(`${url}/v2/acme/nowhere/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
    // The session under its own name is untouched.
    const status = await uploadStatus(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-0');
  });

  describe('cross-repository mount', () => {
    it('?mount=&from= of a blob the source has is 201 with Location and Docker-Content-Digest', async () => {
      const bytes = Buffer.from('mount me');
      const digest = await pushBlob(url, 'acme/source', bytes);
      const res = await registryFetch(`${url}/v2/acme/target/blobs/uploads/?mount=${digest}&from=acme/source`, { method: 'POST' });
      assert.equal(res.status, 201, await res.text());
      assert.equal(res.headers.get('location'), `/v2/acme/target/blobs/${digest}`);
      assert.equal(res.headers.get('docker-content-digest'), digest);
      assert.ok((await readBlob('acme/target', digest)).equals(bytes));
    });

    it('mount of an unknown digest falls back to a session: 202 with Location', async () => {
      const res = await registryFetch(`${url}/v2/acme/target/blobs/uploads/?mount=${sha256('nobody has this')}&from=acme/source`, { method: 'POST' });
      assert.equal(res.status, 202);
      const location = res.headers.get('location')!;
      assert.match(location, /^\/v2\/acme\/target\/blobs\/uploads\/[0-9a-f-]{36}$/);
      // The fallback session is a real one: finish it.
      const bytes = Buffer.from('uploaded instead');
      const put = await registryFetch(new URL(`${location}?digest=${sha256(bytes)}`, url), { method: 'PUT', body: bytes });
      assert.equal(put.status, 201);
      assert.ok((await readBlob('acme/target', sha256(bytes))).equals(bytes));
    });

    it('mount from a repository that lacks the blob is 202, and the blob stays unreadable in the target', async () => {
      const digest = await pushBlob(url, 'acme/has', 'only acme/has has this');
      await pushBlob(url, 'acme/lacks', 'acme/lacks exists');
      const res = await registryFetch(`${url}/v2/acme/target2/blobs/uploads/?mount=${digest}&from=acme/lacks`, { method: 'POST' });
      assert.equal(res.status, 202);
      assert.match(res.headers.get('location') ?? '', /\/blobs\/uploads\//);
      await assertOciError(await registryFetch(`${url}/v2/acme/target2/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
      // An unknown source repository, or an invalid `from`, falls back the same way.
      for (const from of ['acme/does-not-exist', 'NotAName', '']) {
        const r = await registryFetch(`${url}/v2/acme/target2/blobs/uploads/?mount=${digest}&from=${encodeURIComponent(from)}`, { method: 'POST' });
        assert.equal(r.status, 202, `from=${from}`);
        await r.arrayBuffer();
      }
      await assertOciError(await registryFetch(`${url}/v2/acme/target2/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    });

    it('mount without from is 201 when the registry knows the blob', async () => {
      const bytes = Buffer.from('mount without from');
      const digest = await pushBlob(url, 'acme/somewhere', bytes);
      const res = await registryFetch(`${url}/v2/acme/target3/blobs/uploads/?mount=${digest}`, { method: 'POST' });
      assert.equal(res.status, 201, await res.text());
      assert.equal(res.headers.get('docker-content-digest'), digest);
      assert.ok((await readBlob('acme/target3', digest)).equals(bytes));
    });

    it('mount without from of an unknown blob is 202', async () => {
      const res = await registryFetch(`${url}/v2/acme/target3/blobs/uploads/?mount=${sha256('unknown everywhere')}`, { method: 'POST' });
      assert.equal(res.status, 202);
      await res.arrayBuffer();
    });

    it('mount with a malformed digest is 400 DIGEST_INVALID', async () => {
      await assertOciError(await registryFetch(`${url}/v2/acme/target3/blobs/uploads/?mount=sha256:xyz&from=acme/source`, { method: 'POST' }), 400, 'DIGEST_INVALID');
    });

    it('mount of a sha512 blob is 201', async () => {
      const bytes = Buffer.from('sha512 mount');
      const digest = await pushBlob(url, 'acme/source', bytes, sha512(bytes));
      const res = await registryFetch(`${url}/v2/acme/target4/blobs/uploads/?mount=${digest}&from=acme/source`, { method: 'POST' });
      assert.equal(res.status, 201);
      assert.ok((await readBlob('acme/target4', digest)).equals(bytes));
    });
  });

  it('concurrent uploads of different blobs into the same repository do not interfere', async () => {
    const blobs = Array.from({ length: 6 }, () => randomBytes(40_000));
    await Promise.all(blobs.map(async (bytes) => {
      const location = await startSession('acme/concurrent');
      const first = await patch(location, bytes.subarray(0, 20_000), '0-19999');
      assert.equal(first.status, 202);
      const second = await patch(location, bytes.subarray(20_000), '20000-39999');
      assert.equal(second.status, 202);
      const put = await registryFetch(new URL(`${location}?digest=${sha256(bytes)}`, url), { method: 'PUT' });
      assert.equal(put.status, 201);
    }));
    for (const bytes of blobs) assert.ok((await readBlob('acme/concurrent', sha256(bytes))).equals(bytes));
  });

  it('a session survives a restart and can be completed after it (re-hashed from storage)', async () => {
    const bytes = randomBytes(100_000);
    const location = await startSession('acme/restart');
    assert.equal((await patch(location, bytes.subarray(0, 60_000), '0-59999')).status, 202);

    // A second session, to be finished with sha512 after the restart.
    const loc512 = await startSession('acme/restart');
    assert.equal((await patch(loc512, bytes.subarray(0, 1_000), '0-999')).status, 202);

    await berth.restart();

    const status = await uploadStatus(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-59999');
    assert.equal((await patch(location, bytes.subarray(60_000), '60000-99999')).status, 202);
    const put = await registryFetch(new URL(`${location}?digest=${sha256(bytes)}`, url), { method: 'PUT' });
    assert.equal(put.status, 201, await put.text());
    assert.ok((await readBlob('acme/restart', sha256(bytes))).equals(bytes));

    const put512 = await registryFetch(new URL(`${loc512}?digest=${sha512(bytes.subarray(0, 1_000))}`, url), { method: 'PUT' });
    assert.equal(put512.status, 201, await put512.text());
    assert.ok((await readBlob('acme/restart', sha512(bytes.subarray(0, 1_000)))).equals(bytes.subarray(0, 1_000)));
  });

  it('each chunk saves the sha256 so far; another process finishing the session verifies with it, not by re-reading', async () => {
    const bytes = randomBytes(200_000);
    const location = await startSession('acme/handover');
    const id = new URL(location, url).pathname.split('/').at(-1)!;
    assert.equal((await patch(location, bytes.subarray(0, 70_000), '0-69999')).status, 202);
    assert.equal((await patch(location, bytes.subarray(70_000), '70000-199999')).status, 202);
    const [row] = await berth.query<{ sha256: string | null }>('select sha256 from uploads where id = ?', id);
    assert.equal(row?.sha256, sha256(bytes).slice('sha256:'.length));

    // The second session's saved value is replaced by another content's: a process without the live hash then
    // believes the column (which only Berth writes), so the true digest no longer matches. This shows the column
    // is what a handed-over session is checked against; a wrong column can only refuse, never publish bytes.
    const other = await startSession('acme/handover');
    const otherId = new URL(other, url).pathname.split('/').at(-1)!;
    assert.equal((await patch(other, bytes.subarray(0, 1_000), '0-999')).status, 202);
    await berth.query('update uploads set sha256 = ? where id = ?', sha256('something else').slice('sha256:'.length), otherId);

    await berth.restart();
    const put = await registryFetch(new URL(`${location}?digest=${sha256(bytes)}`, url), { method: 'PUT' });
    assert.equal(put.status, 201, await put.text());
    assert.ok((await readBlob('acme/handover', sha256(bytes))).equals(bytes));
    await assertOciError(await registryFetch(new URL(`${other}?digest=${sha256(bytes.subarray(0, 1_000))}`, url), { method: 'PUT' }), 400, 'DIGEST_INVALID');
  });

  it('a session is completed with a wrong digest after a restart: 400 DIGEST_INVALID, nothing readable', async () => {
    const bytes = Buffer.from('restart then wrong digest');
    const location = await startSession('acme/restart');
    await patch(location, bytes, `0-${bytes.length - 1}`);
    await berth.restart();
    const wrong = sha256('other');
    await assertOciError(await registryFetch(new URL(`${location}?digest=${wrong}`, url), { method: 'PUT' }), 400, 'DIGEST_INVALID');
    await assertOciError(await registryFetch(`${url}/v2/acme/restart/blobs/${wrong}`), 404, 'BLOB_UNKNOWN');
    await assertOciError(await uploadStatus(location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });
});
