// Issue 12.11's HTTP items: X-Content-Type-Options: nosniff on every surface; Strict-Transport-Security only when
// the client came over HTTPS (Berth's own TLS, or a trusted proxy's X-Forwarded-Proto), never over plain HTTP or on
// an untrusted client's say-so; a warning at start when Berth listens beyond loopback without server.publicUrl
// (the Host header then decides realms and audiences). Over TLS the edge limits apply too (a trickled body is cut).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { runTool } from '../helpers/clients.js';
import { pushBlob, registryFetch, useAuthorization } from '../helpers/http.js';
import { parseResponses, requestHead } from '../helpers/raw-socket.js';

const PUBLIC_URL_WARNING = 'server.publicUrl is not set';

describe('security headers over plain HTTP', () => {
  let berth: RunningBerth;

  before(async () => {
    // Trusts 127.0.0.1 as a proxy: requests from this process may claim X-Forwarded-Proto; 127.0.0.2 may not.
    berth = await startBerth({ env: { BERTH_SERVER_TRUSTED_PROXIES: '127.0.0.1' } });
    useAuthorization(berth.authorization);
  });
  after(async () => {
    await berth?.stop();
  });

  it('nosniff on /v2 (errors and blobs), /api, /token and the UI; no HSTS over plain HTTP', async () => {
    const digest = await pushBlob(berth.url, 'acme/h', '<html><script>alert(1)</script></html>');
    const responses = [
      await registryFetch(`${berth.url}/v2/`),
      await registryFetch(`${berth.url}/v2/acme/h/blobs/${digest}`),
      await registryFetch(`${berth.url}/v2/acme/h/manifests/missing`),
      await berth.fetch('/api/v3/'),
      await berth.fetch('/api/v3/nothing-here'),
      await berth.fetch('/token?scope=repository:acme/h:pull'),
      await berth.fetch('/login', { auth: null }),
      await berth.fetch('/livez'),
    ];
    for (const res of responses) {
      await res.arrayBuffer();
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', res.url);
      assert.equal(res.headers.get('strict-transport-security'), null, res.url);
    }
  });

  it('HSTS when a trusted proxy says the client came over HTTPS, not when an untrusted client says so', async () => {
    const proxied = await berth.fetch('/v2/', { headers: { 'X-Forwarded-Proto': 'https' } });
    assert.match(proxied.headers.get('strict-transport-security') ?? '', /^max-age=\d{7,}/);
    const ui = await berth.fetch('/login', { auth: null, headers: { 'X-Forwarded-Proto': 'https' } });
    assert.match(ui.headers.get('strict-transport-security') ?? '', /^max-age=/);

    const { hostname, port } = new URL(berth.url);
    const socket = netConnect({ host: hostname, port: Number(port), localAddress: '127.0.0.2' });
    const data: Buffer[] = [];
    socket.on('data', (c: Buffer) => data.push(c));
    socket.write(requestHead('GET', '/livez', { 'X-Forwarded-Proto': 'https', Connection: 'close' }));
    await new Promise((resolve) => socket.on('close', resolve));
    const [res] = parseResponses(Buffer.concat(data));
    assert.equal(res?.status, 200);
    assert.equal(res.headers['strict-transport-security'], undefined, 'an untrusted client cannot ask for HSTS');
  });

  it('no publicUrl warning when listening on loopback', () => {
    assert.doesNotMatch(berth.serverLog(), new RegExp(PUBLIC_URL_WARNING));
  });
});

describe('security headers over TLS, listening on all interfaces', () => {
  let berth: RunningBerth;

  before(async () => {
    const work = mkdtempSync(join(tmpdir(), 'berth-tls-'));
    const cert = join(work, 'cert.pem');
    const key = join(work, 'key.pem');
    await runTool('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost']);
    berth = await startBerth({
      env: { BERTH_SERVER_TLS_CERT: cert, BERTH_SERVER_TLS_KEY: key, BERTH_SERVER_HOST: '0.0.0.0', BERTH_SERVER_REQUEST_TIMEOUT: '2s' },
    });
    assert.match(berth.url, /^https:\/\//);
  });
  after(async () => {
    await berth?.stop();
  });

  function get(path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
    const { port } = new URL(berth.url);
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('sends HSTS and nosniff on every surface', async () => {
    for (const path of ['/v2/', '/api/v3/', '/login', '/livez']) {
      const res = await get(path);
      assert.match(String(res.headers['strict-transport-security']), /^max-age=\d{7,}/, path);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', path);
    }
  });

  it('warns at start that server.publicUrl is unset', () => {
    const line = berth.serverLog().split('\n').find((l) => l.includes(PUBLIC_URL_WARNING));
    assert.ok(line, 'a warning in the log');
    assert.match(line, /"level":40/);
  });

  it('cuts a trickled body off over TLS too', async () => {
    const { port } = new URL(berth.url);
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), rejectUnauthorized: false });
    await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    const data: Buffer[] = [];
    socket.on('data', (c: Buffer) => data.push(c));
    socket.on('error', () => undefined);
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(requestHead('POST', '/token', { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': 100 }));
    let sent = 0;
    while (sent < 100 && !socket.destroyed && !socket.writableEnded) {
      socket.write('a');
      sent++;
      await new Promise((r) => setTimeout(r, 250));
    }
    await closed;
    assert.ok(sent < 100, `cut off (${sent}/100 bytes sent)`);
    assert.equal(parseResponses(Buffer.concat(data))[0]?.status, 408);
  });
});
