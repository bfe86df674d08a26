// storage.verifyOnRead: full blob GETs are hashed while they are served. An intact blob comes back whole; one whose
// stored bytes were damaged is cut off before its end (the client sees a failed download, never a clean wrong
// body), logged at error level with its digest, and quarantined (404 until pushed again). fs serves through
// send-file.ts, s3 through the store's stream: the backend matrix covers both paths.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { pushBlob, registryFetch, useAuthorization } from '../helpers/http.js';
import { corruptStoredBlob } from '../helpers/stored-blobs.js';

let berth: RunningBerth;

before(async () => {
  berth = await startBerth({ env: { BERTH_STORAGE_VERIFY_ON_READ: 'true' } });
  useAuthorization(berth.authorization);
});
after(async () => berth?.stop());

const MiB = 1024 * 1024;

interface RawGet {
  readonly status: number | null;
  readonly contentLength: number | null;
  readonly received: number;
  /** The response ended cleanly ('end'), as a complete download does. */
  readonly ended: boolean;
  readonly error: string | null;
}

/** GET through node:http, counting the body's bytes and telling a clean end from a cut connection. */
function rawGet(url: string): Promise<RawGet> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { headers: { authorization: berth.authorization }, agent: false }, (res) => {
      let received = 0;
      let settled = false;
      const done = (ended: boolean, error: string | null): void => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? null, contentLength: Number(res.headers['content-length']), received, ended, error });
      };
      res.on('data', (chunk: Buffer) => { received += chunk.length; });
      res.on('end', () => done(true, null));
      res.on('error', (err) => done(false, err.message));
      res.on('close', () => done(false, 'closed before the end'));
    });
    req.on('error', (err) => resolve({ status: null, contentLength: null, received: 0, ended: false, error: err.message }));
    req.end();
  });
}

/** Waits (bounded) for `check` to hold; the quarantine follows a failed GET in the background. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: still not so after 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('intact blobs are served whole with verification on: empty, one chunk, several chunks, and a range', async () => {
  for (const size of [0, 1000, 3 * MiB + 7]) {
    const bytes = randomBytes(size);
    const digest = await pushBlob(berth.url, 'acme/verified', bytes);
    const res = await registryFetch(`${berth.url}/v2/acme/verified/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes, `${size} bytes`);
    if (size > 0) {
      const ranged = await registryFetch(`${berth.url}/v2/acme/verified/blobs/${digest}`, { headers: { Range: `bytes=0-${size - 1}` } });
      assert.equal(ranged.status, 206);
      assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), bytes, `${size} bytes as a range`);
    }
  }
});

test('a corrupted blob: the GET is cut off before its end, logged at error level, and the blob is quarantined', async () => {
  const large = await pushBlob(berth.url, 'acme/damaged', randomBytes(3 * MiB + 7));
  const small = await pushBlob(berth.url, 'acme/damaged', randomBytes(1000));
  await corruptStoredBlob(berth, large, 10);
  await corruptStoredBlob(berth, small, 10);

  const got = await rawGet(`${berth.url}/v2/acme/damaged/blobs/${large}`);
  assert.equal(got.ended, false, `a clean end would hand the client a wrong body: ${JSON.stringify(got)}`);
  assert.ok(got.received < 3 * MiB + 7, `fewer bytes than Content-Length: ${JSON.stringify(got)}`);
  // A blob of one chunk: none of it goes out. The connection is cut (fs: the check ends with the read), or, when
  // found before the response began (s3: the stream is checked before it is handed to the reply), a 404.
  const outcome = await registryFetch(`${berth.url}/v2/acme/damaged/blobs/${small}`)
    .then(async (res) => `${res.status} ${(await res.arrayBuffer()).byteLength} bytes`, (err: Error) => `failed: ${err.message}`);
  assert.match(outcome, /^(failed: |404 )/, outcome);

  for (const digest of [large, small]) {
    await eventually(`${digest} logged at error level`, async () => berth.logLines()
      .some((l) => l.level === 50 && l.digest === digest && /does not match its digest/.test(String(l.msg))));
    await eventually(`${digest} quarantined`, async () => {
      const res = await registryFetch(`${berth.url}/v2/acme/damaged/blobs/${digest}`, { method: 'HEAD' });
      return res.status === 404;
    });
  }
});
