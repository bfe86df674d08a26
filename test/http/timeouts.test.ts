// Timeouts and the per-client connection cap (issue 12.4), over raw sockets against servers configured with small
// limits: trickled bodies and headers are cut off with a 408 in the surface's shape; a blob upload that keeps
// moving outlives the request timeout while one that stalls is cut after the idle timeout (its session intact);
// a client that stops reading a download is dropped; one address cannot open more connections than the cap while
// other clients and /livez keep working, and a trusted proxy is exempt.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { assertHealthy, pushBlob, registryFetch, sha256, useAuthorization } from '../helpers/http.js';
import { openConnection, requestHead, waitFor, type ParsedResponse, type RawConnection } from '../helpers/raw-socket.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `body` `step` bytes at a time every `everyMs` until done or the server closes; returns bytes written. */
async function trickle(conn: RawConnection, body: Buffer, step: number, everyMs: number): Promise<number> {
  let sent = 0;
  while (sent < body.length && !conn.isClosed()) {
    try {
      await conn.write(body.subarray(sent, sent + step));
    } catch {
      break;
    }
    sent += step;
    await sleep(everyMs);
  }
  return Math.min(sent, body.length);
}

function json(res: ParsedResponse): Record<string, unknown> {
  return JSON.parse(res.body.toString()) as Record<string, unknown>;
}

function firstOciCode(res: ParsedResponse): string {
  return ((json(res).errors as { code: string }[])[0]!).code;
}

describe('timeouts', () => {
  let berth: RunningBerth;
  const REQUEST_MS = 2000;
  const IDLE_MS = 3000;

  before(async () => {
    berth = await startBerth({
      env: {
        BERTH_SERVER_REQUEST_TIMEOUT: `${REQUEST_MS}ms`, BERTH_SERVER_IDLE_TIMEOUT: `${IDLE_MS}ms`, BERTH_SERVER_HEADERS_TIMEOUT: '2s',
        BERTH_LOG_LEVEL: 'info',
      },
    });
    useAuthorization(berth.authorization);
  });
  after(async () => {
    await berth?.stop();
  });

  it('a POST /token body trickled a byte at a time is cut off with 408 and the token endpoint\'s body', async () => {
    const body = Buffer.from(new URLSearchParams({ grant_type: 'password', username: 'x', password: 'y'.repeat(100) }).toString());
    const conn = await openConnection(berth.url);
    await conn.write(requestHead('POST', '/token', { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length }));
    // At this pace the body would take over 30 s.
    const sent = await trickle(conn, body, 1, 250);
    const { afterMs } = await conn.closedWithin(10_000, 'a trickled /token body');
    assert.ok(sent < body.length, `cut off before the body was complete (${sent}/${body.length} bytes sent)`);
    assert.ok(afterMs >= REQUEST_MS, `not before the request timeout (${afterMs} ms)`);
    const [res] = conn.responses();
    assert.ok(res, `a response: ${conn.received().toString('latin1')}`);
    assert.equal(res.status, 408);
    assert.equal(firstOciCode(res), 'UNSUPPORTED');
  });

  it('a POST /login form trickled a byte at a time is cut off with 408', async () => {
    const body = Buffer.from(`_csrf=x&login=tester&password=${'p'.repeat(150)}`);
    const conn = await openConnection(berth.url);
    await conn.write(requestHead('POST', '/login', { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length }));
    const sent = await trickle(conn, body, 1, 250);
    await conn.closedWithin(10_000, 'a trickled /login body');
    assert.ok(sent < body.length, `cut off (${sent}/${body.length} bytes sent)`);
    assert.equal(conn.responses()[0]?.status, 408);
  });

  it('headers trickled a byte at a time are cut off after the headers timeout', async () => {
    const head = Buffer.from(requestHead('GET', '/livez', { 'X-Padding': 'z'.repeat(200) }));
    const conn = await openConnection(berth.url);
    const sent = await trickle(conn, head, 1, 100);
    await conn.closedWithin(10_000, 'trickled headers');
    assert.ok(sent < head.length, `cut off (${sent}/${head.length} bytes sent)`);
    assert.equal(conn.responses()[0]?.status, 408);
  });

  it('an upload PATCH that keeps sending slowly outlives the request timeout; other pushes are not held up meanwhile', async () => {
    const created = await registryFetch(`${berth.url}/v2/acme/slow/blobs/uploads/`, { method: 'POST' });
    const location = created.headers.get('location')!;
    const chunk = randomBytes(24 * 1024);
    const conn = await openConnection(berth.url);
    await conn.write(requestHead('PATCH', location, {
      Authorization: berth.authorization, 'Content-Type': 'application/octet-stream', 'Content-Length': chunk.length,
    }));
    // 24 pieces 250 ms apart: about 6 s in all, three times the request timeout, never idle for long.
    const slow = trickle(conn, chunk, 1024, 250);
    const other = randomBytes(256 * 1024);
    await pushBlob(berth.url, 'acme/fast', other);
    assert.equal((await registryFetch(`${berth.url}/livez`)).status, 200);
    assert.equal(conn.isClosed(), false, 'the slow upload is still going while the other push finished');
    assert.equal(await slow, chunk.length);
    const res = await conn.response();
    assert.equal(res.status, 202, res.body.toString());
    assert.equal(res.headers.range, `0-${chunk.length - 1}`);
    conn.destroy();
    const put = await registryFetch(new URL(`${location}?digest=${sha256(chunk)}`, berth.url), { method: 'PUT' });
    assert.equal(put.status, 201, await put.text());
  });

  it('an upload that stalls is cut off after the idle timeout with 408 BLOB_UPLOAD_INVALID; the session resumes', async () => {
    const created = await registryFetch(`${berth.url}/v2/acme/stall/blobs/uploads/`, { method: 'POST' });
    const location = created.headers.get('location')!;
    const bytes = randomBytes(64 * 1024);
    const conn = await openConnection(berth.url);
    await conn.write(requestHead('PATCH', location, {
      Authorization: berth.authorization, 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length,
    }));
    await conn.write(bytes.subarray(0, 1000));
    const started = Date.now();
    const { afterMs } = await conn.closedWithin(IDLE_MS + 15_000, 'a stalled upload');
    assert.ok(Date.now() - started >= IDLE_MS - 100, `not before the idle timeout (${afterMs} ms)`);
    const [res] = conn.responses();
    assert.ok(res, `a response: ${conn.received().toString('latin1')}`);
    assert.equal(res.status, 408);
    assert.equal(firstOciCode(res), 'BLOB_UPLOAD_INVALID');
    // The cut chunk was not acknowledged: the session is where it was, and the push can go on from there.
    const status = await registryFetch(new URL(location, berth.url));
    assert.equal(status.headers.get('range'), '0-0');
    const patch = await registryFetch(new URL(location, berth.url), { method: 'PATCH', body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(patch.status, 202, await patch.text());
    const put = await registryFetch(new URL(`${patch.headers.get('location')!}?digest=${sha256(bytes)}`, berth.url), { method: 'PUT' });
    assert.equal(put.status, 201, await put.text());
  });

  it('a client that stops reading a download is dropped after the idle timeout', async () => {
    // More than the loopback socket buffers hold, so the server really waits on the client.
    const blob = randomBytes(48 * 1024 * 1024);
    const digest = await pushBlob(berth.url, 'acme/big', blob);
    const conn = await openConnection(berth.url);
    await conn.write(requestHead('GET', `/v2/acme/big/blobs/${digest}`, { Authorization: berth.authorization }));
    await waitFor(() => conn.received().length > 0, 10_000, 'the response to start');
    conn.socket.pause();
    await waitFor(() => berth.serverLog().includes('the client stopped reading the response'), 30_000, 'the server to drop the connection');
    conn.socket.resume();
    await conn.closedWithin(10_000, 'a dropped download');
    assert.ok(conn.received().length < blob.length, `the transfer was cut (${conn.received().length} of ${blob.length} bytes)`);
  });

  it('a client that reads a download at a limited pace, longer than the idle timeout in all, is not dropped', async () => {
    const blob = randomBytes(40 * 1024 * 1024);
    const digest = await pushBlob(berth.url, 'acme/slow-read', blob);
    const { hostname, port } = new URL(berth.url);
    // Read at 4 MB/s, slower than Berth sends, so its writes keep waiting on this client: paused whenever ahead of
    // that pace. (Berth sees progress whenever the kernel takes more bytes: with loopback's multi-megabyte socket
    // buffers that is every megabyte or so read, so a reader far slower than that per idle timeout looks stalled.)
    const RATE = 4 * 1024 * 1024;
    const socket = netConnect({ host: hostname, port: Number(port) });
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    const started = Date.now();
    let received = 0;
    socket.on('data', (c: Buffer) => {
      received += c.length;
      const ahead = received / RATE * 1000 - (Date.now() - started);
      if (ahead > 0) {
        socket.pause();
        setTimeout(() => socket.resume(), ahead);
      }
    });
    socket.write(requestHead('GET', `/v2/acme/slow-read/blobs/${digest}`, { Authorization: berth.authorization }));
    await waitFor(() => received >= blob.length || socket.destroyed || socket.readableEnded, 60_000, 'the download');
    const tookMs = Date.now() - started;
    socket.destroy();
    assert.ok(received >= blob.length, `the whole blob arrived (${received} of ${blob.length} bytes in ${tookMs} ms)`);
    assert.ok(tookMs > 2 * IDLE_MS, `the download took longer than two idle timeouts (${tookMs} ms)`);
  });

  it('is healthy afterwards, with nothing logged at error level', async () => {
    const lines = berth.serverLog().split('\n').filter((l) => /"level":(50|60)/.test(l));
    assert.deepEqual(lines, []);
    await assertHealthy(berth.url);
  });
});

describe('connections per client address', () => {
  let berth: RunningBerth;
  const CAP = 4;
  // Loopback is 127.0.0.0/8: each address is another client. fetch() in this process uses 127.0.0.1.
  const CLIENT = '127.0.0.4';
  const OTHER = '127.0.0.2';
  const PROXY = '127.0.0.3';

  before(async () => {
    berth = await startBerth({ env: { BERTH_SERVER_MAX_CONNECTIONS_PER_CLIENT: String(CAP), BERTH_SERVER_TRUSTED_PROXIES: PROXY } });
  });
  after(async () => {
    await berth?.stop();
  });

  async function get(conn: RawConnection, path: string, headers: Record<string, string> = {}): Promise<ParsedResponse> {
    const before = conn.responses().length;
    await conn.write(requestHead('GET', path, headers));
    await waitFor(() => conn.responses().length > before || conn.isClosed(), 10_000, `an answer to GET ${path}`);
    const res = conn.responses()[before];
    assert.ok(res, `an answer to GET ${path}: ${conn.received().toString('latin1').slice(-300)}`);
    return res;
  }

  it('refuses connections over the cap with 429 in the surface\'s shape, while other clients and /livez work', async () => {
    const held: RawConnection[] = [];
    for (let i = 0; i < CAP; i++) {
      const conn = await openConnection(berth.url, { localAddress: CLIENT });
      assert.equal((await get(conn, '/livez')).status, 200);
      held.push(conn);
    }
    const over = await openConnection(berth.url, { localAddress: CLIENT });
    const refused = await get(over, '/v2/', { Authorization: berth.authorization });
    assert.equal(refused.status, 429);
    assert.equal(firstOciCode(refused), 'TOOMANYREQUESTS');
    assert.ok(refused.headers['retry-after']);
    await over.closedWithin(10_000, 'a refused connection');

    const api = await openConnection(berth.url, { localAddress: CLIENT });
    const apiRefused = await get(api, '/api/v3/');
    assert.equal(apiRefused.status, 429);
    assert.equal(typeof json(apiRefused).message, 'string');
    assert.equal(json(apiRefused).status, '429');
    await api.closedWithin(10_000, 'a refused connection');

    // A connection over the cap that sends nothing is not kept either.
    const silent = await openConnection(berth.url, { localAddress: CLIENT });
    await silent.closedWithin(15_000, 'a silent connection over the cap');

    // Everyone else is served.
    assert.equal((await registryFetch(`${berth.url}/livez`)).status, 200);
    const other = await openConnection(berth.url, { localAddress: OTHER });
    assert.equal((await get(other, '/v2/', { Authorization: berth.authorization })).status, 200);
    other.destroy();

    // A held connection closed makes room again.
    held.pop()!.destroy();
    await waitFor(async () => {
      const conn = await openConnection(berth.url, { localAddress: CLIENT });
      const status = (await get(conn, '/livez')).status;
      conn.destroy();
      return status === 200;
    }, 10_000, 'a new connection from the capped client to be accepted');
    for (const conn of held) conn.destroy();
  });

  it('does not count connections from a trusted proxy', async () => {
    const conns: RawConnection[] = [];
    for (let i = 0; i < CAP * 2; i++) {
      const conn = await openConnection(berth.url, { localAddress: PROXY });
      assert.equal((await get(conn, '/livez')).status, 200, `connection ${i + 1} through the proxy`);
      conns.push(conn);
    }
    for (const conn of conns) conn.destroy();
  });
});
