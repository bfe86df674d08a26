// SIGKILL at awkward moments of an upload: nothing partial becomes readable, nothing acknowledged is lost, and
// the session can be resumed from the offset the server reports after the restart.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';

let berth: RunningBerth;
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

before(async () => { berth = await startBerth(); });
after(async () => berth.stop());

/** Starts a PATCH that sends `sent` bytes and then stalls, as a client whose connection hangs would. */
function stalledPatch(location: string, sent: Buffer): Promise<void> {
  const { hostname, port } = new URL(berth.url);
  return new Promise((resolve) => {
    const req = request({ host: hostname, port, method: 'PATCH', path: location, headers: { authorization: berth.authorization, 'transfer-encoding': 'chunked' } });
    req.on('error', () => resolve());
    req.write(sent, () => setTimeout(resolve, 300));
  });
}

/** Every blob in the server's blob store (directory or bucket) with the sha256 of its content. */
async function storedBlobs(): Promise<{ digest: string; actual: string }[]> {
  const store = await berth.blobStore();
  const out: { digest: string; actual: string }[] = [];
  for await (const blob of store.list()) {
    const hash = createHash('sha256');
    for await (const chunk of await store.read(blob.digest)) hash.update(chunk as Buffer);
    out.push({ digest: blob.digest, actual: `sha256:${hash.digest('hex')}` });
  }
  return out;
}

test('a PATCH cut off by a crash: the acknowledged offset survives and the upload completes after restart', async () => {
  const first = randomBytes(1024 * 1024);
  const start = await berth.fetch('/v2/acme/crash/blobs/uploads/', { method: 'POST' });
  const location = start.headers.get('location')!;
  const acked = await berth.fetch(location, { method: 'PATCH', body: first, headers: { 'content-range': `0-${first.length - 1}` } });
  assert.equal(acked.status, 202);

  // 8 MiB more arrive, unacknowledged, then the server dies.
  await stalledPatch(location, randomBytes(8 * 1024 * 1024));
  await berth.kill();
  await berth.restart();

  const status = await berth.fetch(location);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), `0-${first.length - 1}`, 'only acknowledged bytes count');

  const rest = randomBytes(1024);
  const whole = Buffer.concat([first, rest]);
  const done = await berth.fetch(`${location}?digest=${sha(whole)}`, {
    method: 'PUT', body: rest, headers: { 'content-range': `${first.length}-${whole.length - 1}` },
  });
  assert.equal(done.status, 201, await done.text());
  const pulled = Buffer.from(await (await berth.fetch(`/v2/acme/crash/blobs/${sha(whole)}`)).arrayBuffer());
  assert.ok(pulled.equals(whole));
});

test('a monolithic upload cut off by a crash leaves no readable blob and no partial file in the blob store', async () => {
  const body = randomBytes(16 * 1024 * 1024);
  const { hostname, port } = new URL(berth.url);
  await new Promise<void>((resolve) => {
    const req = request({
      host: hostname, port, method: 'POST', path: `/v2/acme/crash/blobs/uploads/?digest=${sha(body)}`,
      headers: { authorization: berth.authorization, 'content-length': body.length },
    });
    req.on('error', () => resolve());
    req.write(body.subarray(0, 4 * 1024 * 1024), () => setTimeout(resolve, 300));
  });
  await berth.kill();
  await berth.restart();
  const head = await berth.fetch(`/v2/acme/crash/blobs/${sha(body)}`, { method: 'HEAD' });
  assert.equal(head.status, 404);
  for (const { digest, actual } of await storedBlobs()) {
    assert.equal(actual, digest, 'every stored blob is complete and matches its name');
  }
});
