// Rate limits on /api (docs "Rate limits for the REST API"): per token and per anonymous client address, the
// X-RateLimit-* headers on every response, GitHub's 403 when used up, and GET /rate_limit (which is free).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { api, assertGithubError, createToken, type ApiResponse } from '../helpers/github.js';

let berth: RunningBerth;
const WINDOW_S = 3600;

before(async () => {
  berth = await startBerth({
    env: {
      BERTH_API_RATE_LIMIT_ANONYMOUS: '3', BERTH_API_RATE_LIMIT_AUTHENTICATED: '5',
      // The test client is the proxy: X-Forwarded-For then tells anonymous clients apart.
      BERTH_SERVER_TRUSTED_PROXIES: '127.0.0.1',
    },
  });
});
after(() => berth.stop());

const from = (ip: string): Record<string, string> => ({ 'X-Forwarded-For': ip });

function assertHeaders(res: ApiResponse, limit: number, used: number, resource = 'core'): void {
  assert.equal(res.headers.get('x-ratelimit-limit'), String(limit));
  assert.equal(res.headers.get('x-ratelimit-used'), String(used));
  assert.equal(res.headers.get('x-ratelimit-remaining'), String(limit - used));
  assert.equal(res.headers.get('x-ratelimit-resource'), resource);
  const reset = Number(res.headers.get('x-ratelimit-reset'));
  const expected = Date.now() / 1000 + WINDOW_S;
  assert.ok(Math.abs(reset - expected) < 30, `reset ${reset} is about an hour from now (${expected})`);
}

describe('anonymous clients', () => {
  it('count per address, on every response, and get GitHub\'s 403 when the limit is used up', async () => {
    assertHeaders(await api(berth, '/v3/users/tester', { auth: null, headers: from('10.9.0.1') }), 3, 1);
    assertHeaders(await api(berth, '/v3/no/such/route', { auth: null, headers: from('10.9.0.1') }), 3, 2);
    assertHeaders(await api(berth, '/v3/orgs/acme/packages?package_type=container', { auth: null, headers: from('10.9.0.1') }), 3, 3);
    const over = await api<{ documentation_url: string }>(berth, '/v3/users/tester', { auth: null, headers: from('10.9.0.1') });
    assertGithubError(over, 403, 'API rate limit exceeded for 10.9.0.1. (But here\'s the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)');
    assert.equal(over.body.documentation_url, 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api');
    assertHeaders(over, 3, 3);
    assert.equal(over.headers.get('x-ratelimit-remaining'), '0');

    assertHeaders(await api(berth, '/v3/users/tester', { auth: null, headers: from('10.9.0.2') }), 3, 1, 'core');
  });

  it('do not spend anything on GET /rate_limit, which reports the buckets', async () => {
    const res = await api<{ resources: Record<string, { limit: number; used: number; remaining: number; reset: number }>; rate: { remaining: number } }>(
      berth, '/v3/rate_limit', { auth: null, headers: from('10.9.0.1') });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body.resources).sort(), ['core', 'graphql']);
    assert.equal(res.body.resources.core!.limit, 3);
    assert.equal(res.body.resources.core!.used, 3);
    assert.equal(res.body.resources.core!.remaining, 0);
    assert.equal(res.body.rate.remaining, 0);
    assertHeaders(res, 3, 3);
    assert.equal((await api(berth, '/v3/rate_limit', { auth: null, headers: from('10.9.0.1') })).status, 200);
  });

  it('are counted by address when their credentials are refused', async () => {
    const bad = await api(berth, '/v3/user', { auth: 'Bearer wrong', headers: from('10.9.0.3') });
    assertGithubError(bad, 401, 'Bad credentials');
    assertHeaders(bad, 3, 1);
  });
});

describe('tokens', () => {
  it('count per token, with the authenticated limit', async () => {
    const token = await createToken(berth, 'tester', ['read:packages']);
    for (let used = 1; used <= 5; used++) {
      const res = await api(berth, '/v3/user', { auth: `token ${token}`, headers: from('10.9.0.1') });
      assert.equal(res.status, 200, 'a token is not held to its address\'s anonymous limit');
      assertHeaders(res, 5, used);
    }
    const over = await api(berth, '/v3/user', { auth: `token ${token}` });
    assertGithubError(over, 403, /^API rate limit exceeded for user ID \d+\.$/);
    assert.equal(over.headers.get('x-ratelimit-remaining'), '0');
    const other = await api(berth, '/v3/user', { auth: `token ${await createToken(berth, 'tester', ['read:packages'])}` });
    assertHeaders(other, 5, 1);
  });

  it('count GraphQL in its own bucket', async () => {
    const token = await createToken(berth, 'tester', ['read:packages']);
    await api(berth, '/v3/user', { auth: `token ${token}` });
    const res = await api(berth, '/graphql', {
      method: 'POST', auth: `token ${token}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ viewer { login } }' }),
    });
    assert.equal(res.status, 200, res.text);
    assertHeaders(res, 5, 1, 'graphql');
  });
});
