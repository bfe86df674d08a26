// GET /api/v3/{orgs/{org},user,users/{username}}/packages[/container/{name}]: listing, parameters, pagination and
// visibility, against a seeded Berth (docs "REST API endpoints for packages").
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { api, assertGithubError, createToken } from '../helpers/github.js';
import { pushImage, useAuthorization } from '../helpers/http.js';

interface Pkg { id: number; name: string; visibility: string; version_count: number; url: string; html_url: string; owner: { login: string; type: string } }

let berth: RunningBerth;
let member: string;
let outsider: string;
let alice: string;
const bearer = (token: string): string => `Bearer ${token}`;
const names = (body: Pkg[]): string[] => body.map((p) => p.name);

before(async () => {
  berth = await startBerth();
  useAuthorization(berth.authorization);
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'member' });
    await s.accounts.createUser({ login: 'outsider' });
    await s.accounts.createUser({ login: 'Alice' });
    await s.accounts.addMember('acme', 'member', 'member');
  });
  [member, outsider, alice] = await Promise.all([
    createToken(berth, 'member', ['read:packages']), createToken(berth, 'outsider', ['read:packages']), createToken(berth, 'Alice', ['write:packages']),
  ]);
  for (const name of ['acme/app', 'acme/team/api', 'acme/pub', 'acme/inner', 'acme/secret']) await pushImage(berth.url, name, name, 'v1');
  await pushImage(berth.url, 'acme/app', 'acme/app two', 'v2');
  await berth.admin(async (s) => {
    await s.packages.setVisibility('acme/pub', 'public');
    await s.packages.setVisibility('acme/inner', 'internal');
  });
  useAuthorization(`Basic ${Buffer.from(`Alice:${alice}`).toString('base64')}`);
  await pushImage(berth.url, 'alice/tool', 'alice tool', 'v1');
  await pushImage(berth.url, 'alice/open', 'alice open', 'v1');
  await berth.admin((s) => s.packages.setVisibility('alice/open', 'public'));
  useAuthorization(berth.authorization);
});
after(() => berth.stop());

describe('list packages', () => {
  it('lists an organization\'s packages by name, as package objects', async () => {
    const res = await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(names(res.body), ['app', 'inner', 'pub', 'secret', 'team/api']);
    const app = res.body[0]!;
    assert.equal(app.version_count, 2);
    assert.equal(app.visibility, 'private');
    assert.equal(app.owner.login, 'acme');
    assert.equal(app.owner.type, 'Organization');
    assert.equal(res.body[4]!.url, `${berth.url}/api/v3/orgs/acme/packages/container/team%2Fapi`);
    assert.equal(res.body[4]!.html_url, `${berth.url}/orgs/acme/packages/container/package/team%2Fapi`);
    assert.equal(res.headers.get('x-accepted-oauth-scopes'), 'read:packages');
    assert.equal(res.headers.get('link'), null, 'one page: no Link header');
  });

  it('shows each caller only what it may read: members see internal, outsiders only public', async () => {
    assert.deepEqual(names((await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container', { auth: bearer(member) })).body), ['inner', 'pub']);
    assert.deepEqual(names((await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container', { auth: bearer(outsider) })).body), ['pub']);
    await berth.admin(async (s) => s.packages.grant('acme/secret', { type: 'user', id: (await s.accounts.getUser('member')).id }, 'read'));
    assert.deepEqual(names((await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container', { auth: bearer(member) })).body), ['inner', 'pub', 'secret']);
  });

  it('filters by visibility', async () => {
    assert.deepEqual(names((await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container&visibility=public')).body), ['pub']);
    assert.deepEqual(names((await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container&visibility=internal')).body), ['inner']);
    assertGithubError(await api(berth, '/v3/orgs/acme/packages?package_type=container&visibility=secret'), 422, /^Invalid request\.\n\n"secret" is not a valid visibility/);
  });

  it('requires package_type: missing or unknown is 422, another GitHub type is 400 (Berth holds containers only)', async () => {
    assertGithubError(await api(berth, '/v3/orgs/acme/packages'), 422, 'Invalid request.\n\n"package_type" wasn\'t supplied.');
    assertGithubError(await api(berth, '/v3/orgs/acme/packages?package_type=rpm'), 422, /"rpm" is not a valid package_type/);
    assertGithubError(await api(berth, '/v3/orgs/acme/packages?package_type=npm'), 400, /container packages only/);
    assertGithubError(await api(berth, '/v3/user/packages?package_type=docker'), 400, /container packages only/);
  });

  it('paginates with per_page and page, and GitHub\'s Link header', async () => {
    const base = `${berth.url}/api/v3/orgs/acme/packages?package_type=container&per_page=2`;
    const first = await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container&per_page=2');
    assert.deepEqual(names(first.body), ['app', 'inner']);
    assert.equal(first.headers.get('link'), `<${base}&page=2>; rel="next", <${base}&page=3>; rel="last"`);
    const second = await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container&per_page=2&page=2');
    assert.deepEqual(names(second.body), ['pub', 'secret']);
    assert.equal(second.headers.get('link'),
      `<${base}&page=1>; rel="prev", <${base}&page=3>; rel="next", <${base}&page=3>; rel="last", <${base}&page=1>; rel="first"`);
    const last = await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container&per_page=2&page=3');
    assert.deepEqual(names(last.body), ['team/api']);
    assert.equal(last.headers.get('link'), `<${base}&page=2>; rel="prev", <${base}&page=1>; rel="first"`);
    const beyond = await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container&per_page=2&page=9');
    assert.deepEqual(beyond.body, []);
    assert.match(beyond.headers.get('link') ?? '', /page=3>; rel="prev"/);
  });

  it('defaults to 30 per page, caps per_page at 100 and refuses past the 10,000th item', async () => {
    const big = await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container&per_page=1000');
    assert.equal(big.body.length, 5);
    assert.equal(big.headers.get('link'), null);
    const odd = await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container&per_page=abc&page=-1');
    assert.equal(odd.body.length, 5, 'malformed values fall back to the defaults');
    assertGithubError(await api(berth, '/v3/orgs/acme/packages?package_type=container&per_page=100&page=101'), 400,
      'The value of `per_page` multiplied by `page` cannot be greater than 10000.');
    assert.equal((await api(berth, '/v3/orgs/acme/packages?package_type=container&per_page=100&page=100')).status, 200);
  });

  it('lists a user\'s packages: others see the public ones, the user all of them (also as /user/packages)', async () => {
    assert.deepEqual(names((await api<Pkg[]>(berth, '/v3/users/alice/packages?package_type=container')).body), ['open']);
    assert.deepEqual(names((await api<Pkg[]>(berth, '/v3/users/Alice/packages?package_type=container', { auth: bearer(alice) })).body), ['open', 'tool']);
    const mine = await api<Pkg[]>(berth, '/v3/user/packages?package_type=container', { auth: bearer(alice) });
    assert.deepEqual(names(mine.body), ['open', 'tool']);
    assert.equal(mine.body[0]!.owner.login, 'Alice');
    assert.equal(mine.body[0]!.owner.type, 'User');
    assert.equal(mine.body[0]!.url, `${berth.url}/api/v3/users/Alice/packages/container/open`);
    assert.equal(mine.body[0]!.html_url, `${berth.url}/users/Alice/packages/container/package/open`);
  });

  it('404s for owners that do not exist or are of the other kind; 401 without credentials', async () => {
    assertGithubError(await api(berth, '/v3/orgs/nobody/packages?package_type=container'), 404, 'Not Found');
    assertGithubError(await api(berth, '/v3/orgs/alice/packages?package_type=container'), 404, 'Not Found');
    assertGithubError(await api(berth, '/v3/users/acme/packages?package_type=container'), 404, 'Not Found');
    assertGithubError(await api(berth, '/v3/orgs/acme/packages?package_type=container', { auth: null }), 401, 'Requires authentication');
    assertGithubError(await api(berth, '/v3/user/packages?package_type=container', { auth: null }), 401, 'Requires authentication');
  });
});

describe('get a package', () => {
  it('gets a package by name; nested names arrive encoded as %2F', async () => {
    const res = await api<Pkg>(berth, '/v3/orgs/acme/packages/container/team%2Fapi');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.name, 'team/api');
    assert.equal(res.body.version_count, 1);
    const list = await api<Pkg[]>(berth, '/v3/orgs/acme/packages?package_type=container');
    assert.equal(res.body.id, list.body.find((p) => p.name === 'team/api')!.id, 'stable ids');
    const user = await api<Pkg>(berth, '/v3/user/packages/container/tool', { auth: bearer(alice) });
    assert.equal(user.body.name, 'tool');
    assert.equal((await api<Pkg>(berth, '/v3/users/alice/packages/container/open', { auth: bearer(outsider) })).status, 200);
  });

  it('answers 404 "Package not found." for missing packages, private ones the caller cannot read and other types', async () => {
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/nothing'), 404, 'Package not found.');
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/app', { auth: bearer(outsider) }), 404, 'Package not found.');
    assertGithubError(await api(berth, '/v3/users/alice/packages/container/tool', { auth: bearer(outsider) }), 404, 'Package not found.');
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/npm/app'), 404, 'Package not found.');
    // Unencoded slashes are another path, as on GitHub.
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/team/api'), 404, 'Not Found');
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/inner', { auth: bearer(member) })).status, 200);
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/pub', { auth: bearer(outsider) })).status, 200);
  });

  it('documents each error with the docs section of its endpoint', async () => {
    const res = await api<{ documentation_url: string }>(berth, '/v3/orgs/acme/packages/container/nothing');
    assert.equal(res.body.documentation_url, 'https://docs.github.com/rest/packages/packages#get-a-package-for-an-organization');
  });
});
