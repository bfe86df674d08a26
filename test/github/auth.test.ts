// Authentication on /api (docs "Authenticating to the REST API"): Bearer, `token` (gh) and Basic carry a personal
// access token; scopes are reported in X-OAuth-Scopes / X-Accepted-OAuth-Scopes; refused tokens are 401.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { api, assertGithubError, createToken } from '../helpers/github.js';
import { pushImage, useAuthorization } from '../helpers/http.js';

let berth: RunningBerth;
const basic = (user: string, secret: string): string => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

before(async () => {
  berth = await startBerth();
  useAuthorization(berth.authorization);
  await pushImage(berth.url, 'acme/app', 'app', 'v1');
  await pushImage(berth.url, 'acme/other', 'other', 'v1');
});
after(() => berth.stop());

describe('credentials', () => {
  it('accepts the token as Bearer, as `token` (what gh sends) and as the Basic password', async () => {
    for (const auth of [`Bearer ${berth.token}`, `token ${berth.token}`, `TOKEN ${berth.token}`, basic('tester', berth.token), basic('anyone', berth.token)]) {
      const res = await api<{ login: string }>(berth, '/v3/user', { auth });
      assert.equal(res.status, 200, `${auth.split(' ')[0]}: ${res.text}`);
      assert.equal(res.body.login, 'tester');
    }
  });

  it('answers 401 "Bad credentials" to unknown, malformed, revoked and expired tokens and disabled users', async () => {
    const expiring = await berth.admin(async (s) => (await s.tokens.create({
      userId: (await s.accounts.getUser('tester')).id, note: 'short', scopes: ['read:packages'], expiresAt: Date.now() + 300,
    })).token);
    const revoked = await createToken(berth, 'tester', ['read:packages']);
    await berth.admin(async (s) => {
      const user = await s.accounts.getUser('tester');
      const [latest] = await s.tokens.list(user.id);
      await s.tokens.revoke(user.id, latest!.id);
    });
    await berth.admin(async (s) => { await s.accounts.createUser({ login: 'leaver' }); });
    const leaver = await createToken(berth, 'leaver', ['read:packages']);
    await berth.admin((s) => s.accounts.setDisabled('leaver', true));
    await new Promise((r) => setTimeout(r, 400));
    for (const auth of [
      'Bearer berth_pat_000000000000000000000000000000000000', 'Bearer not-a-token', basic('tester', 'tester-password'),
      'Digest something', `Bearer ${revoked}`, `Bearer ${expiring}`, `Bearer ${leaver}`,
    ]) {
      const res = await api(berth, '/v3/orgs/acme/packages/container/app', { auth });
      assertGithubError(res, 401, 'Bad credentials');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
      assert.ok(res.headers.get('x-ratelimit-limit'), 'rate-limit headers on a refusal too');
    }
    // Even where anonymous callers are served, bad credentials are an error (as on GitHub).
    assertGithubError(await api(berth, '/v3/users/tester', { auth: 'Bearer nope' }), 401, 'Bad credentials');
  });

  it('answers 401 "Requires authentication" without credentials where a token is needed', async () => {
    const res = await api(berth, '/v3/user', { auth: null });
    assertGithubError(res, 401, 'Requires authentication');
    assert.ok(res.headers.get('www-authenticate'));
    assert.equal((await api(berth, '/v3/users/tester', { auth: null })).status, 200);
  });
});

describe('scope headers', () => {
  it('reports the token\'s scopes (implied ones dropped) and the endpoint\'s accepted scopes', async () => {
    const full = await api(berth, '/v3/orgs/acme/packages/container/app');
    assert.equal(full.headers.get('x-oauth-scopes'), 'delete:packages, write:packages');
    assert.equal(full.headers.get('x-accepted-oauth-scopes'), 'read:packages');
    const read = await api(berth, '/v3/orgs/acme/packages/container/app', { auth: `Bearer ${await createToken(berth, 'tester', ['read:packages'])}` });
    assert.equal(read.headers.get('x-oauth-scopes'), 'read:packages');
    const del = await api(berth, '/v3/orgs/acme/packages/container/nothing', { method: 'DELETE' });
    assert.equal(del.headers.get('x-accepted-oauth-scopes'), 'delete:packages, read:packages');
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/nothing/restore', { method: 'POST' })).headers.get('x-accepted-oauth-scopes'),
      'read:packages, write:packages');
  });

  it('leaves X-OAuth-Scopes off the API root, where gh would demand repo and read:org', async () => {
    const root = await api(berth, '/v3/');
    assert.equal(root.status, 200);
    assert.equal(root.headers.get('x-oauth-scopes'), null);
    assert.equal((await api(berth, '/v3/user')).headers.get('x-oauth-scopes'), 'delete:packages, write:packages');
    assert.equal((await api(berth, '/v3/users/tester', { auth: null })).headers.get('x-oauth-scopes'), null, 'anonymous: no scopes');
  });

  it('refuses a token without the scope an endpoint needs with 403', async () => {
    const writeOnly = `Bearer ${await createToken(berth, 'tester', ['write:packages'])}`;
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/app', { method: 'DELETE', auth: writeOnly }), 403,
      'You need at least read:packages and delete:packages scopes to delete packages; create a token with read:packages, delete:packages.');
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/app', { auth: writeOnly })).status, 200, 'write implies read');
  });

  it('limits a CI token to its own package (other private packages are not found)', async () => {
    const ci = await berth.admin(async (s) => (await s.tokens.create({
      userId: (await s.accounts.getUser('tester')).id, note: 'ci', scopes: ['write:packages'], expiresAt: Date.now() + 3_600_000,
      kind: 'ci', repositoryLimit: 'acme/app',
    })).token);
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/app', { auth: `Bearer ${ci}` })).status, 200);
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/other', { auth: `Bearer ${ci}` }), 404, 'Package not found.');
    const list = await api<{ name: string }[]>(berth, '/v3/orgs/acme/packages?package_type=container', { auth: `Bearer ${ci}` });
    assert.deepEqual(list.body.map((p) => p.name), ['app']);
  });
});

describe('API versions', () => {
  it('accepts X-GitHub-Api-Version 2022-11-28 and 2026-03-10 and refuses others with 400', async () => {
    for (const v of ['2022-11-28', '2026-03-10']) {
      assert.equal((await api(berth, '/v3/user', { headers: { 'X-GitHub-Api-Version': v } })).status, 200);
    }
    assertGithubError(await api(berth, '/v3/user', { headers: { 'X-GitHub-Api-Version': '2099-01-01' } }), 400, /API version 2099-01-01 is not supported/);
  });
});
