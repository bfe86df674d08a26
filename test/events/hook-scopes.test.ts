// Hooks beyond an organization's, with the same GitHub shapes and delivery machinery: one package's
// (/api/v3/berth/packages/{owner}/{name}/hooks), the caller's user account's (/api/v3/berth/user/hooks) and the
// instance's (/api/v3/berth/admin/hooks, admins only). Each gets exactly the events of its scope, signed.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { api, assertGithubError, createToken } from '../helpers/github.js';
import { pushImage, useAuthorization } from '../helpers/http.js';
import { Receiver, signedWith, until } from '../helpers/webhook-receiver.js';

const SECRET = 'scoped-secret';
let berth: RunningBerth;
let rootToken: string;
let bobToken: string;
const rx = { org: new Receiver(), pkg: new Receiver(), user: new Receiver(), instance: new Receiver() };

async function create(path: string, url: string, auth?: string): Promise<{ id: number; type: string; url: string; deliveries_url: string }> {
  const res = await api<{ id: number; type: string; url: string; deliveries_url: string }>(berth, path, {
    method: 'POST', headers: { 'content-type': 'application/json' }, ...(auth ? { auth: `Bearer ${auth}` } : {}),
    body: JSON.stringify({ config: { url, content_type: 'json', secret: SECRET }, events: ['package'] }),
  });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

/** The package names a receiver got `package` events for, each checked against the secret. */
function names(r: Receiver): string[] {
  return r.of('package').map((e) => {
    assert.ok(signedWith(e, SECRET));
    const p = e.body.package as { namespace: string; name: string };
    return `${p.namespace}/${p.name}`;
  }).sort();
}

before(async () => {
  await Promise.all(Object.values(rx).map((r) => r.start()));
  berth = await startBerth({ env: { BERTH_WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true', BERTH_WEBHOOKS_POLL_INTERVAL: '200ms' } });
  useAuthorization(berth.authorization);
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'root', password: 'root-password', isAdmin: true });
    await s.accounts.createUser({ login: 'bob', password: 'bob-password' });
    await s.accounts.addMember('acme', 'bob', 'member');
  });
  rootToken = await createToken(berth, 'root', ['write:packages']);
  bobToken = await createToken(berth, 'bob', ['write:packages']);
  // The package exists before its hook; its push event handed to the hooks of that moment (the org's) first, so
  // the scoped hooks made below do not get it.
  await create('/v3/orgs/acme/hooks', rx.org.url);
  await pushImage(berth.url, 'acme/watched', 'w0', 'v0');
  await until('the first push delivered', () => rx.org.of('package')[0]);
});
after(async () => {
  useAuthorization(null);
  await berth?.stop();
  await Promise.all(Object.values(rx).map((r) => r.stop()));
});

it('package, user and instance hooks each get the events of their scope', async () => {
  const pkg = await create('/v3/berth/packages/acme/watched/hooks', rx.pkg.url);
  assert.equal(pkg.type, 'Package');
  assert.match(pkg.url, /\/api\/v3\/berth\/packages\/acme\/watched\/hooks\/\d+$/);
  const user = await create('/v3/berth/user/hooks', rx.user.url);
  assert.equal(user.type, 'User');
  const instance = await create('/v3/berth/admin/hooks', rx.instance.url, rootToken);
  assert.equal(instance.type, 'Instance');

  await pushImage(berth.url, 'acme/watched', 'w1', 'v1');
  await pushImage(berth.url, 'acme/other', 'o1', 'v1');
  await pushImage(berth.url, `${berth.user}/own`, 'u1', 'v1');
  await until('the instance hook to get all three', () => (rx.instance.of('package').length >= 3 ? true : undefined));
  await until('the package and user hooks to get theirs', () => (rx.pkg.of('package').length >= 1 && rx.user.of('package').length >= 1 ? true : undefined));
  // The worker delivers in rounds: one more round for anything that should not have come.
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(names(rx.instance), ['acme/other', 'acme/watched', `${berth.user}/own`]);
  assert.deepEqual(names(rx.pkg), ['acme/watched']);
  assert.deepEqual(names(rx.user), [`${berth.user}/own`]);

  // The same delivery log and redelivery as an organization's hooks.
  const log = await api<{ id: number; guid: string; status: string }[]>(berth, `/v3/berth/packages/acme/watched/hooks/${pkg.id}/deliveries`);
  assert.equal(log.status, 200, log.text);
  assert.deepEqual(log.body.map((d) => d.status), ['OK']);
  assert.equal(log.body[0]!.guid, rx.pkg.of('package')[0]!.headers['x-github-delivery']);
  const again = await api(berth, `/v3/berth/packages/acme/watched/hooks/${pkg.id}/deliveries/${log.body[0]!.id}/attempts`, { method: 'POST' });
  assert.equal(again.status, 202, again.text);
  await until('the redelivery', () => (rx.pkg.of('package').length === 2 ? true : undefined));

  // Lists stay per scope: the organization's hooks are not the package's.
  const listed = await api<{ id: number }[]>(berth, '/v3/berth/packages/acme/watched/hooks');
  assert.deepEqual(listed.body.map((h) => h.id), [pkg.id]);
  assertGithubError(await api(berth, `/v3/orgs/acme/hooks/${pkg.id}`), 404);
  assertGithubError(await api(berth, `/v3/berth/user/hooks/${instance.id}`), 404);
});

it('only instance admins manage instance hooks; only namespace admins a package\'s', async () => {
  assertGithubError(await api(berth, '/v3/berth/admin/hooks'), 404);
  assertGithubError(await api(berth, '/v3/berth/packages/acme/watched/hooks', { auth: `Bearer ${bobToken}` }), 404);
  assertGithubError(await api(berth, '/v3/berth/packages/acme/missing/hooks'), 404);
  assertGithubError(await api(berth, '/v3/berth/admin/hooks', { auth: null }), 401);
  const listed = await api<{ id: number }[]>(berth, '/v3/berth/admin/hooks', { auth: `Bearer ${rootToken}` });
  assert.equal(listed.status, 200, listed.text);
  assert.equal(listed.body.length, 1);
  // bob's own user hooks: his, empty, and tester's not among them.
  const bobs = await api<unknown[]>(berth, '/v3/berth/user/hooks', { auth: `Bearer ${bobToken}` });
  assert.deepEqual(bobs.body, []);
});
