// The endpoints around the packages API that clients call (root, users, organizations, GraphQL for gh, docker
// conflicts), and how /api answers what it does not serve: GitHub's 404 and error bodies, never another surface's.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { api, assertGithubError, type ApiResponse } from '../helpers/github.js';
import { rawRequest, registryFetch, useAuthorization } from '../helpers/http.js';

let berth: RunningBerth;

before(async () => {
  berth = await startBerth();
  useAuthorization(berth.authorization);
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'alice', displayName: 'Alice A.', email: 'alice@example.com' });
    await s.accounts.createUser({ login: 'root', isAdmin: true });
  });
});
after(() => berth.stop());

const graphql = (query: unknown, auth?: string | null): Promise<ApiResponse<{ data?: { viewer: { login: string } }; errors?: { message: string }[] }>> =>
  api(berth, '/graphql', { method: 'POST', auth, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ query }) });

describe('meta endpoints', () => {
  it('GET /api/v3/ answers 200 JSON, also anonymously and without the trailing slash', async () => {
    for (const path of ['/v3/', '/v3']) {
      const res = await api<Record<string, string>>(berth, path, { auth: null });
      assert.equal(res.status, 200, res.text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.body.current_user_url, `${berth.url}/api/v3/user`);
    }
  });

  it('GET /user is the token\'s user; GET /users/{username} any account; GET /orgs/{org} organizations only', async () => {
    const me = await api<Record<string, unknown>>(berth, '/v3/user');
    assert.equal(me.body.login, 'tester');
    assert.equal(me.body.type, 'User');
    assert.equal(me.body.site_admin, false);
    assert.match(String(me.body.created_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const alice = await api<Record<string, unknown>>(berth, '/v3/users/ALICE', { auth: null });
    assert.equal(alice.body.login, 'alice');
    assert.equal(alice.body.name, 'Alice A.');
    assert.equal(alice.body.url, `${berth.url}/api/v3/users/alice`);
    const acmeAsUser = await api<Record<string, unknown>>(berth, '/v3/users/acme');
    assert.equal(acmeAsUser.body.type, 'Organization');
    const acme = await api<Record<string, unknown>>(berth, '/v3/orgs/acme', { auth: null });
    assert.equal(acme.status, 200);
    assert.equal(acme.body.login, 'acme');
    assert.equal(acme.body.type, 'Organization');
    assert.equal(acme.body.url, `${berth.url}/api/v3/orgs/acme`);
    assertGithubError(await api(berth, '/v3/orgs/alice'), 404, 'Not Found');
    assertGithubError(await api(berth, '/v3/users/nobody'), 404, 'Not Found');
  });

  it('shows an account\'s e-mail address and site_admin only to the account itself, as GitHub shows e-mail', async () => {
    const rootToken = await berth.admin(async (s) => {
      const root = await s.accounts.createUser({ login: 'boss', isAdmin: true, email: 'boss@example.com' });
      return (await s.tokens.create({ userId: root.id, note: 'test', scopes: ['read:packages'], expiresAt: null })).token;
    });
    for (const auth of [null, undefined]) {
      const boss = await api<Record<string, unknown>>(berth, '/v3/users/boss', { auth });
      assert.equal(boss.status, 200);
      assert.equal(boss.body.email, null, `to ${auth === null ? 'anonymous callers' : 'another user'}`);
      assert.equal(boss.body.site_admin, false);
      const alice = await api<Record<string, unknown>>(berth, '/v3/users/alice', { auth });
      assert.equal(alice.body.email, null);
    }
    for (const path of ['/v3/users/boss', '/v3/user']) {
      const self = await api<Record<string, unknown>>(berth, path, { auth: `Bearer ${rootToken}` });
      assert.equal(self.body.email, 'boss@example.com', path);
      assert.equal(self.body.site_admin, true, path);
    }
  });

  it('answers gh\'s GraphQL query UserCurrent{viewer{login}}, and a GraphQL error for anything else', async () => {
    assert.deepEqual((await graphql('query UserCurrent{viewer{login}}', `token ${berth.token}`)).body, { data: { viewer: { login: 'tester' } } });
    assert.deepEqual((await graphql('{ viewer { login } }')).body, { data: { viewer: { login: 'tester' } } });
    const other = await graphql('{ viewer { repositories(first: 1) { nodes { name } } } }');
    assert.equal(other.status, 200);
    assert.match(other.body.errors?.[0]?.message ?? '', /viewer \{ login \}/);
    assertGithubError(await graphql('{ viewer { login } }', null), 401, 'Requires authentication');
    const broken = await api(berth, '/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":' });
    assertGithubError(broken, 400, 'Problems parsing JSON');
  });

  it('lists no docker conflicts, in all three forms', async () => {
    for (const path of ['/v3/orgs/acme/docker/conflicts', '/v3/user/docker/conflicts', '/v3/users/tester/docker/conflicts']) {
      const res = await api(berth, path);
      assert.equal(res.status, 200, `${path}: ${res.text}`);
      assert.deepEqual(res.body, []);
    }
  });

  it('accepts POST with a JSON Content-Type and no body (gh api -X POST)', async () => {
    const res = await api(berth, '/v3/orgs/acme/packages/container/nothing/restore', { method: 'POST', headers: { 'content-type': 'application/json' } });
    assertGithubError(res, 404, 'Package not found.');
  });
});

describe('what /api does not serve', () => {
  it('answers GitHub\'s 404 for unknown paths, methods and trailing slashes under /api', async () => {
    for (const [method, path] of [['GET', '/v3/nope'], ['GET', '/v4/user'], ['GET', '/v3/user/'], ['PUT', '/v3/user'], ['GET', '/elsewhere']]) {
      const res = await api(berth, path!, { method });
      assertGithubError(res, 404, 'Not Found');
      assert.equal((res.body as { documentation_url: string }).documentation_url, 'https://docs.github.com/rest');
      assert.ok(res.headers.get('x-ratelimit-limit'), 'rate-limit headers on a 404 too');
    }
  });

  it('answers a malformed URL under /api in GitHub\'s shape, and leaves /v2 and other paths to their own handlers', async () => {
    const bad = await rawRequest(berth.url, { method: 'GET', path: '/api/v3/orgs/%E0%A4%A/packages' });
    assert.equal(bad.status, 400, bad.body.toString());
    const body = JSON.parse(bad.body.toString()) as { message: string; status: string };
    assert.equal(body.status, '400');
    const v2 = await registryFetch(`${berth.url}/v2/acme/nothing/tags/list`);
    assert.equal(v2.status, 404);
    assert.deepEqual(Object.keys(await v2.json() as object), ['errors'], '/v2 keeps OCI errors');
    // Elsewhere the web UI answers, with an HTML 404 page rather than a GitHub JSON error.
    const other = await fetch(`${berth.url}/nowhere`);
    assert.equal(other.status, 404);
    assert.match(other.headers.get('content-type') ?? '', /^text\/html/);
    assert.ok(!(await other.text()).includes('documentation_url'), 'paths outside /api are not GitHub\'s');
  });
});
