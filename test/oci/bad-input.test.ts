// Hostile and broken input: every bad request gets the right 4xx with an OCI body, leaves nothing behind, and the
// server never answers 500 and stays healthy.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { MEDIA, assertHealthy, assertOciError, assertRawOciError, pushBlob, pushImage, rawRequest, registryFetch, sha256, useAuthorization } from '../helpers/http.js';

describe('OCI bad input', () => {
  let berth: RunningBerth;
  let url: string;

  before(async () => {
    berth = await startBerth();
    useAuthorization(berth.authorization);
    url = berth.url;
  });
  afterEach(async () => {
    await assertHealthy(url);
  });
  after(async () => {
    await berth.stop();
  });

  async function startSession(name: string): Promise<string> {
    const res = await registryFetch(`${url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(res.status, 202);
    return res.headers.get('location')!;
  }

  async function rangeOf(location: string): Promise<string | null> {
    const res = await registryFetch(new URL(location, url));
    assert.equal(res.status, 204);
    return res.headers.get('range');
  }

  async function catalog(): Promise<string[]> {
    const res = await registryFetch(`${url}/v2/_catalog?n=10000`);
    return ((await res.json()) as { repositories: string[] }).repositories;
  }

  /**
   * Sends the head of a request whose body is `declared` bytes long, writes `sent` of them, then cuts the
   * connection, as a client that crashes or loses its network would.
   */
  async function disconnectMidBody(method: string, path: string, declared: number, sent: Buffer): Promise<void> {
    const { hostname, port } = new URL(url);
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: hostname, port, method, path, agent: false,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': declared },
      });
      req.on('error', () => resolve());
      req.on('response', (res) => {
        res.resume();
        resolve();
      });
      req.on('close', () => resolve());
      req.write(sent, () => {
        setTimeout(() => req.destroy(), 150);
      });
    });
    // Give the server a moment to notice the reset and clean up.
    await sleep(200);
  }

  describe('manifests', () => {
    it('malformed JSON is 400 MANIFEST_INVALID and creates nothing', async () => {
      const bodies = [
        '{', '{"schemaVersion":2,"config":', 'null', 'true', '12', '\u0000\u0001', '{"schemaVersion":"2"}',
        '['.repeat(100_000), '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000),
        `{"schemaVersion":2,"mediaType":"${MEDIA.ociManifest}","config":null,"layers":[]}`,
        `{"schemaVersion":2,"mediaType":"${MEDIA.ociIndex}","manifests":[null]}`,
        `{"schemaVersion":2,"mediaType":"${MEDIA.ociIndex}","manifests":[{"mediaType":"x","digest":"sha256:1","size":1}]}`,
      ];
      for (const body of bodies) {
        const res = await registryFetch(`${url}/v2/acme/badjson/manifests/latest`, { method: 'PUT', headers: { 'Content-Type': MEDIA.ociManifest }, body });
        await assertOciError(res, 400, 'MANIFEST_INVALID');
      }
      await assertOciError(await registryFetch(`${url}/v2/acme/badjson/manifests/latest`), 404, 'NAME_UNKNOWN');
      assert.ok(!(await catalog()).includes('acme/badjson'));
    });

    it('a manifest body in the wrong encoding (UTF-16) is 400 MANIFEST_INVALID', async () => {
      const body = Buffer.from('{"schemaVersion":2}', 'utf16le');
      const res = await registryFetch(`${url}/v2/acme/badjson/manifests/latest`, { method: 'PUT', headers: { 'Content-Type': MEDIA.ociManifest }, body });
      await assertOciError(res, 400, 'MANIFEST_INVALID');
    });

    it('a manifest whose digest does not match the URL is 400 DIGEST_INVALID and creates nothing', async () => {
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [] });
      const res = await registryFetch(`${url}/v2/acme/baddigest/manifests/${sha256('other')}`, { method: 'PUT', headers: { 'Content-Type': MEDIA.ociIndex }, body });
      await assertOciError(res, 400, 'DIGEST_INVALID');
      assert.ok(!(await catalog()).includes('acme/baddigest'));
    });

    it('a manifest over the limit is 413 and creates nothing, with or without Content-Length', async () => {
      const body = Buffer.alloc(4 * 1024 * 1024 + 10, 0x20);
      const res = await registryFetch(`${url}/v2/acme/huge/manifests/latest`, { method: 'PUT', headers: { 'Content-Type': MEDIA.ociManifest }, body });
      await assertOciError(res, 413, null);
      const chunked = await rawRequest(url, {
        method: 'PUT', path: '/v2/acme/huge/manifests/latest', body, chunked: true, headers: { 'Content-Type': MEDIA.ociManifest },
      });
      assertRawOciError(chunked, 413, null);
      // A Content-Length that announces too much is refused before the body is read.
      const liar = await disconnectAfterHeaders('PUT', '/v2/acme/huge/manifests/latest', 100 * 1024 * 1024);
      assertRawOciError(liar, 413, null);
      assert.ok(!(await catalog()).includes('acme/huge'));
    });

    async function disconnectAfterHeaders(method: string, path: string, declared: number): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
      const { hostname, port } = new URL(url);
      return new Promise((resolve, reject) => {
        const req = httpRequest({ host: hostname, port, method, path, agent: false, headers: { 'Content-Type': MEDIA.ociManifest, 'Content-Length': declared, authorization: berth.authorization } });
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
            req.destroy();
          });
        });
        req.on('error', reject);
        req.write(Buffer.alloc(1024, 0x20));
      });
    }

    it('garbage digests (and bytes that are no URL) as references are 400, never 500', async () => {
      const refs = ['sha256:xyz', 'md5:d41d8cd98f00b204e9800998ecf8427e', 'sha256:', ':', `sha256:${'0'.repeat(63)}`,
        `sha256:${'0'.repeat(65)}`, `sha512:${'0'.repeat(64)}`, `sha256:${'f'.repeat(4000)}`, '%ff%fe'];
      for (const ref of refs) {
        for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
          const res = await rawRequest(url, { method, path: `/v2/acme/app/manifests/${ref}`, body: method === 'PUT' ? '{}' : undefined });
          assert.ok(res.status === 400, `${method} ${ref.slice(0, 40)}: ${res.status}`);
          if (method !== 'HEAD') assertRawOciError(res, 400, null);
        }
      }
    });

    it('a reference that is neither tag nor digest names no manifest: 404 to read or delete, 400 to push', async () => {
      for (const ref of ['.INVALID_MANIFEST_NAME', '-x', 'x'.repeat(129), 'x'.repeat(4000), '%00', 'a%20b']) {
        for (const method of ['GET', 'HEAD', 'DELETE']) {
          const res = await rawRequest(url, { method, path: `/v2/acme/app/manifests/${ref}` });
          if (method === 'HEAD') assert.equal(res.status, 404, `HEAD ${ref.slice(0, 40)}`);
          else assertRawOciError(res, 404, 'MANIFEST_UNKNOWN');
        }
        const put = await rawRequest(url, { method: 'PUT', path: `/v2/acme/app/manifests/${ref}`, headers: { 'Content-Type': MEDIA.ociManifest }, body: '{}' });
        assertRawOciError(put, 400, 'MANIFEST_INVALID');
      }
    });
  });

  describe('blobs', () => {
    it('garbage digests in blob URLs and ?digest= are 400 DIGEST_INVALID', async () => {
      const digests = ['sha256:xyz', 'md5:d41d8cd98f00b204e9800998ecf8427e', 'sha256:', 'nothing', `sha256:${'A'.repeat(64)}`,
        `sha256:${'0'.repeat(5000)}`, `${'x'.repeat(3000)}:${'0'.repeat(64)}`, 'sha256%3Axyz'];
      for (const d of digests) {
        for (const method of ['GET', 'DELETE']) {
          const res = await rawRequest(url, { method, path: `/v2/acme/app/blobs/${d}` });
          assertRawOciError(res, 400, 'DIGEST_INVALID');
        }
        const post = await rawRequest(url, { method: 'POST', path: `/v2/acme/garbage/blobs/uploads/?digest=${d}`, body: 'bytes' });
        assertRawOciError(post, 400, 'DIGEST_INVALID');
        const mount = await rawRequest(url, { method: 'POST', path: `/v2/acme/garbage/blobs/uploads/?mount=${d}&from=acme/app` });
        assertRawOciError(mount, 400, 'DIGEST_INVALID');
        const referrers = await rawRequest(url, { method: 'GET', path: `/v2/acme/app/referrers/${d}` });
        assertRawOciError(referrers, 400, 'DIGEST_INVALID');
      }
    });

    it('a monolithic push with the wrong digest is 400 DIGEST_INVALID and leaves no blob, session or scratch data', async () => {
      const before = await berth.scratchUploads();
      const bytes = randomBytes(64 * 1024);
      const wrong = sha256('something else');
      const res = await registryFetch(`${url}/v2/acme/wrongdigest/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: bytes });
      const error = await assertOciError(res, 400, 'DIGEST_INVALID');
      assert.deepEqual(error.detail, { expected: wrong, actual: sha256(bytes) });
      await assertOciError(await registryFetch(`${url}/v2/acme/wrongdigest/blobs/${wrong}`), 404, 'BLOB_UNKNOWN');
      await assertOciError(await registryFetch(`${url}/v2/acme/wrongdigest/blobs/${sha256(bytes)}`), 404, 'BLOB_UNKNOWN');
      assert.deepEqual(await berth.scratchUploads(), before);
    });

    it('a monolithic push cut off mid-body leaves no blob and no scratch data', async () => {
      const before = await berth.scratchUploads();
      const bytes = randomBytes(200_000);
      await disconnectMidBody('POST', `/v2/acme/cutoff/blobs/uploads/?digest=${sha256(bytes)}`, bytes.length, bytes.subarray(0, 100_000));
      await assertOciError(await registryFetch(`${url}/v2/acme/cutoff/blobs/${sha256(bytes)}`), 404, 'BLOB_UNKNOWN');
      assert.deepEqual(await berth.scratchUploads(), before);
      // The same push, complete this time, works.
      await pushBlob(url, 'acme/cutoff', bytes);
    });
  });

  describe('upload sessions', () => {
    it('Content-Length that disagrees with Content-Range is 416 BLOB_UPLOAD_INVALID, offset unchanged', async () => {
      const location = await startSession('acme/chunks');
      const first = await registryFetch(new URL(location, url), { method: 'PATCH', headers: { 'Content-Range': '0-9' }, body: Buffer.alloc(10, 1) });
      assert.equal(first.status, 202);
      // The body is 5 bytes; the range claims 10.
      const res = await registryFetch(new URL(location, url), { method: 'PATCH', headers: { 'Content-Range': '10-19' }, body: Buffer.alloc(5, 2) });
      assert.equal(res.headers.get('range'), '0-9');
      await assertOciError(res, 416, 'BLOB_UPLOAD_INVALID');
      assert.equal(await rangeOf(location), '0-9');
      // Same check on the closing PUT's final chunk.
      const put = await registryFetch(new URL(`${location}?digest=${sha256(Buffer.alloc(15))}`, url), {
        method: 'PUT', headers: { 'Content-Range': '10-19' }, body: Buffer.alloc(5, 2),
      });
      await assertOciError(put, 416, 'BLOB_UPLOAD_INVALID');
      assert.equal(await rangeOf(location), '0-9');
    });

    it('a malformed Content-Range is 416 BLOB_UPLOAD_INVALID', async () => {
      const location = await startSession('acme/chunks');
      for (const range of ['abc', '5-2', '0-', '-5', 'bytes 0-x', '0-1-2', '99999999999999999999-99999999999999999999']) {
        const res = await registryFetch(new URL(location, url), { method: 'PATCH', headers: { 'Content-Range': range }, body: Buffer.from('x') });
        assert.equal(res.headers.get('range'), '0-0', range);
        await assertOciError(res, 416, 'BLOB_UPLOAD_INVALID');
      }
      assert.equal(await rangeOf(location), '0-0');
    });

    it('out-of-order chunks are 416 and change nothing; the upload still completes correctly', async () => {
      const bytes = randomBytes(30_000);
      const location = await startSession('acme/chunks');
      const patch = (a: number, b: number): Promise<Response> => registryFetch(new URL(location, url), {
        method: 'PATCH', headers: { 'Content-Range': `${a}-${b - 1}` }, body: bytes.subarray(a, b),
      });
      assert.equal((await patch(0, 10_000)).status, 202);
      for (const [a, b] of [[20_000, 30_000], [5_000, 15_000], [0, 10_000], [10_001, 20_000]] as const) {
        await assertOciError(await patch(a, b), 416, 'BLOB_UPLOAD_INVALID');
      }
      assert.equal(await rangeOf(location), '0-9999');
      // A final chunk in the closing PUT that is out of order is refused the same way.
      const badPut = await registryFetch(new URL(`${location}?digest=${sha256(bytes)}`, url), {
        method: 'PUT', headers: { 'Content-Range': '20000-29999' }, body: bytes.subarray(20_000),
      });
      await assertOciError(badPut, 416, 'BLOB_UPLOAD_INVALID');
      assert.equal(await rangeOf(location), '0-9999');

      assert.equal((await patch(10_000, 20_000)).status, 202);
      const put = await registryFetch(new URL(`${location}?digest=${sha256(bytes)}`, url), {
        method: 'PUT', headers: { 'Content-Range': '20000-29999' }, body: bytes.subarray(20_000),
      });
      assert.equal(put.status, 201, await put.text());
      const back = await registryFetch(`${url}/v2/acme/chunks/blobs/${sha256(bytes)}`);
      assert.ok(Buffer.from(await back.arrayBuffer()).equals(bytes));
    });

    it('a client that disconnects mid-PATCH: the server stays up and the session offset is unchanged', async () => {
      const bytes = randomBytes(400_000);
      const location = await startSession('acme/disconnect');
      const id = location.split('/').at(-1)!;
      const first = await registryFetch(new URL(location, url), { method: 'PATCH', headers: { 'Content-Range': '0-99999' }, body: bytes.subarray(0, 100_000) });
      assert.equal(first.status, 202);

      await disconnectMidBody('PATCH', location, 300_000, bytes.subarray(100_000, 250_000));
      await assertHealthy(url);
      assert.equal(await rangeOf(location), '0-99999');
      // The scratch data ends at the acknowledged offset: partial bytes were dropped.
      assert.equal(await berth.scratchBytes(id), 100_000);

      // The client resumes from the reported offset and finishes; the blob is exactly right.
      let res: Response | undefined;
      for (let attempt = 0; attempt < 20; attempt++) {
        res = await registryFetch(new URL(location, url), { method: 'PATCH', headers: { 'Content-Range': '100000-399999' }, body: bytes.subarray(100_000) });
        if (res.status !== 400) break;
        await res.arrayBuffer(); // the aborted request may still hold the session for a moment
        await sleep(100);
      }
      assert.equal(res!.status, 202, await res!.text());
      const put = await registryFetch(new URL(`${location}?digest=${sha256(bytes)}`, url), { method: 'PUT' });
      assert.equal(put.status, 201, await put.text());
      const back = await registryFetch(`${url}/v2/acme/disconnect/blobs/${sha256(bytes)}`);
      assert.ok(Buffer.from(await back.arrayBuffer()).equals(bytes));
    });

    it('a client that disconnects mid-PUT: the blob is not committed and the session is intact', async () => {
      const bytes = randomBytes(200_000);
      const location = await startSession('acme/disconnect');
      await disconnectMidBody('PUT', `${location}?digest=${sha256(bytes)}`, bytes.length, bytes.subarray(0, 50_000));
      await assertOciError(await registryFetch(`${url}/v2/acme/disconnect/blobs/${sha256(bytes)}`), 404, 'BLOB_UNKNOWN');
      assert.equal(await rangeOf(location), '0-0');
    });

    it('two writers on one session at once: one wins, the other gets a 4xx, and the data is consistent', async () => {
      const bytes = randomBytes(2_000_000);
      const location = await startSession('acme/race');
      const send = (): Promise<Response> => registryFetch(new URL(location, url), { method: 'PATCH', headers: { 'Content-Range': `0-${bytes.length - 1}` }, body: bytes });
      const results = await Promise.all([send(), send()]);
      const statuses = results.map((r) => r.status).sort();
      for (const r of results) await r.arrayBuffer();
      assert.ok(statuses.includes(202), `statuses ${statuses.join()}`);
      for (const s of statuses) assert.ok(s === 202 || (s >= 400 && s < 500), `statuses ${statuses.join()}`);
      const put = await registryFetch(new URL(`${location}?digest=${sha256(bytes)}`, url), { method: 'PUT' });
      assert.equal(put.status, 201, await put.text());
    });

    it('garbage upload ids and digests never reach the filesystem', async () => {
      for (const id of ['..%2F..%2Fberth.db', '%2e%2e', 'a'.repeat(2000), '00000000-0000-0000-0000-00000000000g']) {
        for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
          const res = await rawRequest(url, { method, path: `/v2/acme/app/blobs/uploads/${id}`, body: method === 'PATCH' ? 'x' : undefined });
          assertRawOciError(res, 404, 'BLOB_UPLOAD_UNKNOWN');
        }
      }
    });
  });

  describe('listings', () => {
    it('a huge n is capped, not an error', async () => {
      await pushImage(url, 'acme/listme', 'listme', 'v1');
      for (const n of ['99999999999999999999999999', '1'.repeat(400), '10001']) {
        const tags = await registryFetch(`${url}/v2/acme/listme/tags/list?n=${n}`);
        assert.equal(tags.status, 200);
        assert.deepEqual(await tags.json(), { name: 'acme/listme', tags: ['v1'] });
        const cat = await registryFetch(`${url}/v2/_catalog?n=${n}`);
        assert.equal(cat.status, 200);
        assert.ok(((await cat.json()) as { repositories: string[] }).repositories.includes('acme/listme'));
      }
    });

    it('garbage n is 400 and a weird last is harmless', async () => {
      for (const n of ['-1', 'NaN', 'Infinity', '1;DROP TABLE tags', '%00']) {
        await assertOciError(await registryFetch(`${url}/v2/acme/listme/tags/list?n=${n}`), 400, null);
      }
      for (const last of ["' OR 1=1 --", 'z'.repeat(3000), '%00', '%ff']) {
        const res = await registryFetch(`${url}/v2/acme/listme/tags/list?last=${last}`);
        assert.equal(res.status, 200, last.slice(0, 20));
        await res.arrayBuffer();
      }
    });

    it('repeated query parameters do not confuse the server', async () => {
      const res = await registryFetch(`${url}/v2/acme/listme/tags/list?n=1&n=abc&last=&last=x`);
      assert.ok(res.status === 200 || res.status === 400, String(res.status));
      await res.arrayBuffer();
    });
  });

  describe('names', () => {
    it('bad repository names are 400 NAME_INVALID on every endpoint and create nothing', async () => {
      const names = ['Acme/app', 'acme/App', 'app', 'acme/../etc', 'acme/%2e%2e', 'acme//app', 'acme/app/', '/acme/app', 'acme/a%2Fb',
        'acme/-app', 'acme/app-', 'acme/a..b', 'acme/a___b', `acme/${'a'.repeat(260)}`, 'acme/app%00', 'acme/\u00e9', 'acme/a b'];
      const d = sha256('x');
      for (const name of names) {
        const encoded = name.replace(/ /g, '%20').replace(/\u00e9/g, '%C3%A9');
        for (const [method, path] of [
          ['GET', `/v2/${encoded}/tags/list`],
          ['GET', `/v2/${encoded}/manifests/latest`],
          ['PUT', `/v2/${encoded}/manifests/latest`],
          ['GET', `/v2/${encoded}/blobs/${d}`],
          ['POST', `/v2/${encoded}/blobs/uploads/`],
          ['POST', `/v2/${encoded}/blobs/uploads/?digest=${d}`],
          ['GET', `/v2/${encoded}/referrers/${d}`],
        ] as const) {
          const res = await rawRequest(url, { method, path, body: method === 'GET' ? undefined : 'x' });
          assert.ok(res.status === 400 || res.status === 404, `${method} ${path}: ${res.status}`);
          assertRawOciError(res, res.status, res.status === 400 ? 'NAME_INVALID' : null);
        }
      }
      const repos = await catalog();
      for (const r of repos) assert.match(r, /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$/);
    });
  });

  it('odd Content-Types: none or a wrong one still push; an unparsable one is 415 UNSUPPORTED', async () => {
    const bytes = Buffer.from('odd headers');
    for (const contentType of [undefined, 'text/plain', 'application/json', 'multipart/form-data; boundary=x', 'application/octet-stream; charset=nonsense']) {
      const headers: Record<string, string> = {};
      if (contentType !== undefined) headers['Content-Type'] = contentType;
      const res = await rawRequest(url, { method: 'POST', path: `/v2/acme/odd/blobs/uploads/?digest=${sha256(bytes)}`, body: bytes, headers });
      assert.equal(res.status, 201, `${contentType}: ${res.status} ${res.body.toString()}`);
    }
    // A Content-Type that is not a media type at all is refused by the framework, still as an OCI error.
    const res = await rawRequest(url, { method: 'POST', path: `/v2/acme/odd/blobs/uploads/?digest=${sha256(bytes)}`, body: bytes, headers: { 'Content-Type': ';;;' } });
    assertRawOciError(res, 415, 'UNSUPPORTED');
  });

  it('the server answered no 500 during this file and is still healthy', async () => {
    // Every test above asserted its own status; this checks the server is still fully functional afterwards.
    const image = await pushImage(url, 'acme/after', 'after everything', 'v1');
    const res = await registryFetch(`${url}/v2/acme/after/manifests/v1`);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(image.bytes));
  });
});
