// Client mistakes at the HTTP level get the surface's own error body, never Fastify's, never a 500: POST /token
// bodies it cannot take (issue 12.10), and request bodies shorter or longer than their Content-Length on /v2 uploads
// and under /api (issue 11.6), sent byte by byte over raw sockets. None of them is logged at error level.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { assertHealthy, OCI_ERROR_CODES, registryFetch, sha256, useAuthorization } from '../helpers/http.js';
import { openConnection, requestHead, type ParsedResponse } from '../helpers/raw-socket.js';

describe('client errors at the HTTP level', () => {
  let berth: RunningBerth;

  before(async () => {
    berth = await startBerth();
    useAuthorization(berth.authorization);
  });
  after(async () => {
    await berth?.stop();
  });

  /** Server log lines at error level or above (the test server logs warn and up). */
  function errorLines(): string[] {
    return berth.serverLog().split('\n').filter((l) => /"level":(50|60)/.test(l));
  }

  async function assertTokenError(res: Response, message: RegExp): Promise<void> {
    const text = await res.text();
    assert.equal(res.status, 400, text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = JSON.parse(text) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, 'UNSUPPORTED', text);
    assert.match(body.errors[0]!.message, message);
  }

  it('POST /token: an XML body, a 70 KB form, bad JSON and empty JSON are 400 with the token endpoint\'s body', async () => {
    const post = (type: string, body: string) => berth.fetch('/token', { method: 'POST', auth: null, headers: { 'content-type': type }, body });
    await assertTokenError(await post('text/xml', '<grant_type>password</grant_type>'), /application\/x-www-form-urlencoded/);
    await assertTokenError(await post('application/x-www-form-urlencoded', `grant_type=password&username=x&password=${'x'.repeat(70_000)}`), /too large/);
    await assertTokenError(await post('application/json', '{"grant_type":'), /not valid JSON/);
    await assertTokenError(await post('application/json', ''), /not valid JSON/);
    // The endpoint still works, and nothing above was an operator's problem.
    const ok = await berth.fetch('/token', {
      method: 'POST', auth: null, headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: berth.user, password: berth.token, scope: 'repository:acme/x:pull' }).toString(),
    });
    assert.equal(ok.status, 200, await ok.text());
    assert.deepEqual(errorLines(), []);
    await assertHealthy(berth.url);
  });

  /** Sends `head` and `body` in one write; with `halfClose` the client then closes its side, as a client that gave up. */
  async function exchange(head: string, body: Buffer | string, halfClose = false): Promise<{ first: ParsedResponse; all: ParsedResponse[] }> {
    const conn = await openConnection(berth.url);
    await conn.write(Buffer.concat([Buffer.from(head), Buffer.from(body)]));
    if (halfClose) conn.halfClose();
    const first = await conn.response();
    await conn.closedWithin(10_000, 'after an error answer');
    return { first, all: conn.responses() };
  }

  function assertOci(res: ParsedResponse, status: number, code: string): void {
    const text = res.body.toString();
    assert.equal(res.status, status, text);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    const body = JSON.parse(text) as { errors: { code: string; message: string }[] };
    assert.ok(OCI_ERROR_CODES.includes(body.errors[0]!.code), text);
    assert.equal(body.errors[0]!.code, code, text);
  }

  function assertGithub(res: ParsedResponse, status: number): void {
    const text = res.body.toString();
    assert.equal(res.status, status, text);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    const body = JSON.parse(text) as Record<string, unknown>;
    assert.equal(typeof body.message, 'string', text);
    assert.equal(typeof body.documentation_url, 'string', text);
    assert.equal(body.status, String(status));
    assert.equal(body.error, undefined, 'not Fastify\'s body');
  }

  async function startSession(name: string): Promise<string> {
    const res = await registryFetch(`${berth.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(res.status, 202);
    return res.headers.get('location')!;
  }

  it('/v2 monolithic POST with a body shorter than Content-Length (client closes its side): 400 BLOB_UPLOAD_INVALID, nothing stored', async () => {
    const bytes = Buffer.from('short body: half of what was announced');
    const digest = sha256(bytes);
    const head = requestHead('POST', `/v2/acme/short/blobs/uploads/?digest=${digest}`, {
      Authorization: berth.authorization, 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length * 2,
    });
    const { first, all } = await exchange(head, bytes, true);
    assertOci(first, 400, 'BLOB_UPLOAD_INVALID');
    assert.equal(all.length, 1, 'one answer');
    assert.equal((await registryFetch(`${berth.url}/v2/acme/short/blobs/${digest}`, { method: 'HEAD' })).status, 404);
  });

  it('/v2 PUT closing a session with a body shorter than Content-Length: 400 BLOB_UPLOAD_INVALID, the session keeps its offset', async () => {
    const location = await startSession('acme/short-put');
    const bytes = Buffer.from('the final chunk, cut short');
    const head = requestHead('PUT', `${location}?digest=${sha256(bytes)}`, {
      Authorization: berth.authorization, 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length + 100,
    });
    const { first } = await exchange(head, bytes, true);
    assertOci(first, 400, 'BLOB_UPLOAD_INVALID');
    const status = await registryFetch(new URL(location, berth.url));
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-0');
  });

  it('/v2 POST and PUT with a body longer than Content-Length: 400 SIZE_INVALID as the only answer', async () => {
    const bytes = Buffer.from('0123456789');
    const extra = Buffer.from('and then some more bytes');
    const all = Buffer.concat([bytes, extra]);
    const post = requestHead('POST', `/v2/acme/long/blobs/uploads/?digest=${sha256(all)}`, {
      Authorization: berth.authorization, 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length,
    });
    const a = await exchange(post, all);
    assertOci(a.first, 400, 'SIZE_INVALID');
    assert.equal(a.all.length, 1, 'one answer');

    const location = await startSession('acme/long-put');
    const put = requestHead('PUT', `${location}?digest=${sha256(all)}`, {
      Authorization: berth.authorization, 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length,
    });
    const b = await exchange(put, all);
    assertOci(b.first, 400, 'SIZE_INVALID');
    assert.equal(b.all.length, 1, 'one answer');
  });

  it('/v2: a malformed header line is a 400 with an OCI body', async () => {
    const { first } = await exchange('GET /v2/ HTTP/1.1\r\nHost: berth.test\r\nNo colon here\r\n\r\n', '');
    assertOci(first, 400, 'UNSUPPORTED');
  });

  it('/api: bodies shorter or longer than Content-Length get GitHub\'s error shape', async () => {
    const body = '{"query":"{ viewer { login } }"}';
    const short = requestHead('POST', '/api/graphql', { 'Content-Type': 'application/json', 'Content-Length': body.length + 10 });
    assertGithub((await exchange(short, body, true)).first, 400);
    const long = requestHead('POST', '/api/graphql', { 'Content-Type': 'application/json', 'Content-Length': body.length });
    const { first, all } = await exchange(long, `${body}garbage`);
    assertGithub(first, 400);
    assert.equal(all.length, 1, 'one answer');
  });

  it('logged nothing at error level, and the server is healthy', async () => {
    assert.deepEqual(errorLines(), []);
    await assertHealthy(berth.url);
  });
});
