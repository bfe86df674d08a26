// One process serving plain HTTP on server.port and HTTPS on server.tls.port (issue 18): gh needs https on 443 while
// docker on a trusted network pushes over HTTP. Both answer every surface from the same data, each with the scheme
// of its own socket (token realms, HSTS only over HTTPS).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { runTool, skopeoCopy } from '../helpers/clients.js';
import { writeImageLayout } from '../helpers/oci-image.js';
import { freePort } from '../helpers/ports.js';

const work = mkdtempSync(join(tmpdir(), 'berth-both-'));
after(() => rmSync(work, { recursive: true, force: true }));
let berth: RunningBerth;
let tlsPort: number;
let ca: Buffer;

before(async () => {
  const cert = join(work, 'cert.pem');
  const key = join(work, 'key.pem');
  await runTool('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
  ca = readFileSync(cert);
  tlsPort = await freePort();
  berth = await startBerth({ env: { BERTH_SERVER_TLS_CERT: cert, BERTH_SERVER_TLS_KEY: key, BERTH_SERVER_TLS_PORT: String(tlsPort) } });
});
after(() => berth?.stop());

/** A request over HTTPS that verifies the server's certificate against the test's own CA (the self-signed cert). */
function overTls(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: tlsPort, path, ca, agent: false, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the server prints both addresses; plain HTTP stays on server.port', async () => {
  assert.match(berth.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  // startBerth returns at the first line; the second may reach the log in a later chunk.
  const https = new RegExp(`^berth listening on https://127\\.0\\.0\\.1:${tlsPort}$`, 'm');
  for (let i = 0; i < 300 && !https.test(berth.serverLog()); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(berth.serverLog(), https);
});

test('both ports answer /v2, /api/v3 and the UI; realms and HSTS follow each socket\'s scheme', async () => {
  const plain = await fetch(`${berth.url}/v2/`);
  assert.equal(plain.status, 401);
  assert.match(plain.headers.get('www-authenticate') ?? '', new RegExp(`realm="${berth.url}/token"`));
  assert.equal(plain.headers.get('strict-transport-security'), null, 'never HSTS over plain HTTP');

  const secure = await overTls('/v2/');
  assert.equal(secure.status, 401);
  assert.match(String(secure.headers['www-authenticate']), new RegExp(`realm="https://127\\.0\\.0\\.1:${tlsPort}/token"`));
  assert.match(String(secure.headers['strict-transport-security']), /^max-age=\d+/);

  const api = await overTls('/api/v3/orgs/acme/packages?package_type=container', { authorization: `Bearer ${berth.token}` });
  assert.equal(api.status, 200, api.body);
  assert.ok(Array.isArray(JSON.parse(api.body)));
  const page = await overTls('/login');
  assert.equal(page.status, 200);
  assert.match(page.body, /<form/);
  assert.equal((await overTls('/livez')).status, 200);
});

test('an image pushed over HTTP is listed and pulled over HTTPS (the same process and data)', async () => {
  const layout = join(work, 'layout');
  const image = await writeImageLayout(layout, { layers: [2048], tag: 'v1' });
  await skopeoCopy(`oci:${layout}:v1`, `docker://${berth.host}/acme/both:1`, [], { creds: `${berth.user}:${berth.token}` });
  const listed = await overTls('/api/v3/orgs/acme/packages/container/both/versions', { authorization: `Bearer ${berth.token}` });
  assert.equal(listed.status, 200, listed.body);
  assert.deepEqual((JSON.parse(listed.body) as { metadata: { container: { tags: string[] } } }[])[0]!.metadata.container.tags, ['1']);
  const certDir = mkdtempSync(join(work, 'certs-'));
  await runTool('cp', [join(work, 'cert.pem'), join(certDir, 'ca.crt')]);
  // TLS verified against the test's CA: this can only succeed over HTTPS.
  const raw = await runTool('skopeo', ['inspect', '--raw', '--cert-dir', certDir, '--creds', `${berth.user}:${berth.token}`, `docker://127.0.0.1:${tlsPort}/acme/both:1`]);
  assert.equal(raw.stdout, image.manifestBytes.toString());
});
