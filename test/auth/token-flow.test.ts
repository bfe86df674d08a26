import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { generateKeyPair, SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';

let berth: RunningBerth;
const basic = (user: string, secret: string): string => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function token(auth: string | null, ...scopes: string[]): Promise<Response> {
  const q = new URLSearchParams({ service: berth.host });
  for (const s of scopes) q.append('scope', s);
  return berth.fetch(`/token?${q}`, { auth });
}

async function bearer(auth: string | null, ...scopes: string[]): Promise<string> {
  const res = await token(auth, ...scopes);
  assert.equal(res.status, 200);
  return `Bearer ${((await res.json()) as { token: string }).token}`;
}

async function newToken(user: string, scopes: string[], opts: { expiresAt?: number | null; ciPackage?: string } = {}): Promise<string> {
  return berth.admin(async (s) => (await s.tokens.create({
    userId: (await s.accounts.getUser(user)).id, note: 'test', scopes, expiresAt: opts.expiresAt ?? null,
    ...(opts.ciPackage ? { kind: 'ci' as const, repositoryLimit: opts.ciPackage } : {}),
  })).token);
}

/** Pushes a one-layer image to `name:tag` with the given authorization (Basic or Bearer). */
async function pushImage(auth: string, name: string, tag: string): Promise<Response> {
  const layer = Buffer.from(`layer of ${name}`);
  const config = Buffer.from('{}');
  for (const blob of [layer, config]) {
    const res = await berth.fetch(`/v2/${name}/blobs/uploads/?digest=${sha(blob)}`, { method: 'POST', body: blob, auth });
    if (res.status !== 201) return res;
  }
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
  }));
  return berth.fetch(`/v2/${name}/manifests/${tag}`, {
    method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, auth,
  });
}

async function ociCode(res: Response): Promise<string> {
  return ((await res.json()) as { errors: { code: string; message: string }[] }).errors[0]!.code;
}

before(async () => {
  // 10 failures: the refusal test below fails 8 times (/token and Basic on /v2 count against the same address).
  berth = await startBerth({ env: { BERTH_AUTH_FAILED_LOGIN_LIMIT: '10', BERTH_AUTH_FAILED_LOGIN_WINDOW: '10s' } });
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'reader' });
    await s.accounts.createUser({ login: 'member' });
    await s.accounts.createUser({ login: 'teamwriter' });
    await s.accounts.createUser({ login: 'outsider' });
    await s.accounts.addMember('acme', 'member', 'member');
    await s.accounts.addMember('acme', 'teamwriter', 'member');
    await s.accounts.createTeam('acme', 'builders');
    await s.accounts.addTeamMember('acme', 'builders', 'teamwriter');
  });
  assert.equal((await pushImage(berth.authorization, 'acme/app', '1.0')).status, 201);
  assert.equal((await pushImage(berth.authorization, 'acme/public', '1.0')).status, 201);
  await berth.admin((s) => s.packages.setVisibility('acme/public', 'public'));
});
after(async () => berth.stop());

test('unauthenticated /v2/ gets 401 with a Bearer challenge naming the realm and service', async () => {
  const res = await berth.fetch('/v2/', { auth: null });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
  assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${berth.url}/token",service="${berth.host}"`);
  assert.equal(await ociCode(res), 'UNAUTHORIZED');
});

test('repository endpoints challenge with the repository scope', async () => {
  const res = await berth.fetch('/v2/acme/app/manifests/1.0', { auth: null });
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate')!, /scope="repository:acme\/app:pull"/);
  const push = await berth.fetch('/v2/acme/app/blobs/uploads/', { method: 'POST', auth: null });
  assert.match(push.headers.get('www-authenticate')!, /scope="repository:acme\/app:pull,push"/);
});

test('/token returns a short-lived JWT with the granted subset of each scope', async () => {
  const res = await token(berth.authorization, 'repository:acme/app:pull,push,delete', 'repository:other/thing:pull');
  assert.equal(res.status, 200);
  const body = (await res.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
  assert.equal(body.token, body.access_token);
  assert.equal(body.expires_in, 300);
  assert.ok(Math.abs(Date.parse(body.issued_at) - Date.now()) < 60_000);
  assert.equal(decodeProtectedHeader(body.token).alg, 'ES256');
  const claims = decodeJwt(body.token) as { aud: string; sub: string; access: { name: string; actions: string[] }[] };
  assert.equal(claims.aud, berth.host);
  assert.equal(claims.sub, 'tester');
  assert.deepEqual(claims.access, [
    { type: 'repository', name: 'acme/app', actions: ['pull', 'push', 'delete'] },
    { type: 'repository', name: 'other/thing', actions: [] },
  ]);
});

test('scopes repeated for one repository are merged, as containerd asks when pushing', async () => {
  // containerd sends the challenge's scope and its own: `repository:x:pull repository:x:pull,push`.
  const res = await token(berth.authorization, 'repository:acme/merged:pull', 'repository:acme/merged:pull,push');
  const claims = decodeJwt(((await res.json()) as { token: string }).token) as { access: { name: string; actions: string[] }[] };
  assert.deepEqual(claims.access, [{ type: 'repository', name: 'acme/merged', actions: ['pull', 'push'] }]);
  const auth = await bearer(berth.authorization, 'repository:acme/merged:pull repository:acme/merged:pull,push');
  assert.equal((await pushImage(auth, 'acme/merged', 'v1')).status, 201);
});

test('a write token pushes and pulls through the bearer flow', async () => {
  const auth = await bearer(berth.authorization, 'repository:acme/flow:pull,push');
  assert.equal((await pushImage(auth, 'acme/flow', 'v1')).status, 201);
  const pulled = await berth.fetch('/v2/acme/flow/manifests/v1', { auth });
  assert.equal(pulled.status, 200);
  const ping = await berth.fetch('/v2/', { auth });
  assert.equal(ping.status, 200);
});

test('a read-only token can pull but its push is denied with the GHCR-style error', async () => {
  const readOnly = basic('tester', await newToken('tester', ['read:packages']));
  const auth = await bearer(readOnly, 'repository:acme/app:pull,push');
  assert.equal((await berth.fetch('/v2/acme/app/manifests/1.0', { auth })).status, 200);
  const res = await berth.fetch('/v2/acme/app/blobs/uploads/', { method: 'POST', auth });
  assert.equal(res.status, 403);
  const err = ((await res.json()) as { errors: { code: string; message: string }[] }).errors[0]!;
  assert.equal(err.code, 'DENIED');
  assert.match(err.message, /^permission_denied: write_package: .*write:packages/);
});

test('anonymous clients pull public packages; private ones look like they do not exist', async () => {
  const anon = await bearer(null, 'repository:acme/public:pull', 'repository:acme/app:pull');
  assert.equal((await berth.fetch('/v2/acme/public/manifests/1.0', { auth: anon })).status, 200);
  const priv = await berth.fetch('/v2/acme/app/manifests/1.0', { auth: anon });
  assert.equal(priv.status, 401, 'anonymous callers are asked to log in, not told the package exists');
  const outsider = basic('outsider', await newToken('outsider', ['read:packages']));
  const res = await berth.fetch('/v2/acme/app/manifests/1.0', { auth: await bearer(outsider, 'repository:acme/app:pull') });
  assert.equal(res.status, 404);
  assert.equal(await ociCode(res), 'NAME_UNKNOWN');
  const missing = await berth.fetch('/v2/acme/nothing/manifests/1.0', { auth: await bearer(outsider, 'repository:acme/nothing:pull') });
  assert.equal(missing.status, 404, 'same answer as for a package that does not exist');
});

test('a push the caller may not make is answered alike whether the package exists (private) or not', async () => {
  const outsider = basic('outsider', await newToken('outsider', ['write:packages']));
  const blob = Buffer.from('probe');
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(blob), size: blob.length }, layers: [] });
  /** Every way to push, with the given credentials: [what, status, code, message with the name replaced]. */
  const attempts = async (name: string, auth: (name: string) => Promise<string | null>): Promise<string[]> => {
    const requests: [string, string, RequestInit][] = [
      ['start upload', `/v2/${name}/blobs/uploads/`, { method: 'POST' }],
      ['monolithic upload', `/v2/${name}/blobs/uploads/?digest=${sha(blob)}`, { method: 'POST', body: blob }],
      ['mount', `/v2/${name}/blobs/uploads/?mount=${sha(blob)}&from=acme/public`, { method: 'POST' }],
      ['manifest', `/v2/${name}/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } }],
    ];
    const out: string[] = [];
    for (const [what, path, init] of requests) {
      const res = await berth.fetch(path, { ...init, auth: await auth(name) });
      const text = (await res.text()).split(name).join('NAME');
      out.push(`${what}: ${res.status} ${text} ${(res.headers.get('www-authenticate') ?? '').split(name).join('NAME')}`);
    }
    return out;
  };
  const ways: [string, (name: string) => Promise<string | null>][] = [
    ['outsider bearer', (name) => bearer(outsider, `repository:${name}:pull,push`, 'repository:acme/public:pull')],
    ['outsider basic', async () => outsider],
    ['anonymous bearer', (name) => bearer(null, `repository:${name}:pull,push`)],
    ['no credentials', async () => null],
  ];
  for (const [way, auth] of ways) {
    const existing = await attempts('acme/app', auth);
    assert.deepEqual(await attempts('acme/nothing-here', auth), existing, way);
    if (way.startsWith('outsider')) for (const line of existing) assert.match(line, /: 403 .*"code":"DENIED".*outsider is not a member of the organization acme; ask an owner to add you \(berth org add-member acme outsider/, line);
  }
  // The grants /token gives are alike too.
  const grants = async (name: string): Promise<unknown> => {
    const res = await token(outsider, `repository:${name}:pull,push,delete`);
    return (decodeJwt(((await res.json()) as { token: string }).token) as { access: { actions: string[] }[] }).access[0]!.actions;
  };
  assert.deepEqual(await grants('acme/app'), []);
  assert.deepEqual(await grants('acme/nothing-here'), []);
  assert.equal((await berth.fetch('/v2/acme/app/manifests/1.0')).status, 200, 'the package does exist');
});

test('expired, revoked, unknown and password credentials are refused with a hint', async () => {
  const expired = await newToken('tester', ['read:packages'], { expiresAt: Date.now() + 1500 });
  await new Promise((r) => setTimeout(r, 1600));
  const revoked = await newToken('tester', ['read:packages']);
  await berth.admin(async (s) => {
    const user = await s.accounts.getUser('tester');
    const list = await s.tokens.list(user.id);
    await s.tokens.revoke(user.id, list[0]!.id);
  });
  const cases: [string, RegExp][] = [
    [expired, /expired/],
    [revoked, /revoked/],
    ['berth_pat_000000000000000000000000000000000000', /this is not a valid Berth token/],
    ['tester-password', /passwords are not accepted/],
  ];
  for (const [secret, hint] of cases) {
    const res = await token(basic('tester', secret), 'repository:acme/app:pull');
    assert.equal(res.status, 401, secret);
    const err = ((await res.json()) as { errors: { code: string; message: string }[] }).errors[0]!;
    assert.equal(err.code, 'UNAUTHORIZED');
    assert.match(err.message, hint);
    assert.match(res.headers.get('www-authenticate')!, /^Bearer realm=/);
    // Basic on /v2 itself is told the same (curl -u).
    const direct = await berth.fetch('/v2/acme/app/tags/list', { auth: basic('tester', secret) });
    assert.equal(direct.status, 401);
    assert.equal(((await direct.json()) as { errors: { message: string }[] }).errors[0]!.message, err.message);
  }
});

test('revoking a token stops its registry tokens too', async () => {
  const secret = await newToken('tester', ['read:packages']);
  const auth = await bearer(basic('tester', secret), 'repository:acme/app:pull');
  assert.equal((await berth.fetch('/v2/acme/app/tags/list', { auth })).status, 200);
  await berth.admin(async (s) => {
    const user = await s.accounts.getUser('tester');
    const mine = (await s.tokens.list(user.id)).find((t) => secret.startsWith(t.hint.replace('…', '')));
    await s.tokens.revoke(user.id, mine!.id);
  });
  let status = 200;
  for (let i = 0; i < 30 && status === 200; i++) {
    await new Promise((r) => setTimeout(r, 250));
    status = (await berth.fetch('/v2/acme/app/tags/list', { auth })).status;
  }
  assert.equal(status, 401);
});

test('forged registry tokens are refused: other key, alg none, other audience, expired', async () => {
  const good = await bearer(berth.authorization, 'repository:acme/app:pull');
  const claims = decodeJwt(good.slice(7));
  const kid = decodeProtectedHeader(good.slice(7)).kid!;
  const { privateKey } = await generateKeyPair('ES256');
  const now = Math.floor(Date.now() / 1000);
  const forged = [
    await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey),
    new UnsecuredJWT(claims).encode(),
    `${Buffer.from(JSON.stringify({ alg: 'none', kid })).toString('base64url')}.${good.split('.')[1]}.`,
    await new SignJWT({ ...claims, aud: 'elsewhere' }).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey),
    await new SignJWT({ ...claims, exp: now - 3600, iat: now - 7200, nbf: now - 7200 }).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey),
  ];
  for (const jwt of forged) {
    const res = await berth.fetch('/v2/acme/app/manifests/1.0', { auth: `Bearer ${jwt}` });
    assert.equal(res.status, 401, jwt.slice(0, 40));
  }
  // The genuine token still works, and an audience mismatch on a genuine token is refused too.
  assert.equal((await berth.fetch('/v2/acme/app/manifests/1.0', { auth: good })).status, 200);
  // Same server, addressed by another name: the token's audience (the service it was issued for) does not match.
  const otherHost = await fetch(`http://localhost:${new URL(berth.url).port}/v2/acme/app/manifests/1.0`, { headers: { authorization: good } });
  assert.equal(otherHost.status, 401);
});

test('POST /token accepts the OAuth2 password and refresh_token forms and refuses an anonymous POST', async () => {
  const form = (fields: Record<string, string>): RequestInit & { auth: null } => ({
    method: 'POST', auth: null, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString(),
  });
  const pw = await berth.fetch('/token', form({ grant_type: 'password', username: 'tester', password: berth.token, service: berth.host, scope: 'repository:acme/app:pull', client_id: 'containerd' }));
  assert.equal(pw.status, 200);
  const jwt = ((await pw.json()) as { access_token: string }).access_token;
  assert.equal((await berth.fetch('/v2/acme/app/manifests/1.0', { auth: `Bearer ${jwt}` })).status, 200);
  const refresh = await berth.fetch('/token', form({ grant_type: 'refresh_token', refresh_token: berth.token, service: berth.host, scope: 'repository:acme/app:pull' }));
  assert.equal(refresh.status, 200);
  const anonymous = await berth.fetch('/token', form({ grant_type: 'password', service: berth.host, scope: 'repository:acme/app:pull' }));
  assert.equal(anonymous.status, 401);
});

test('an org member without a role cannot push; a team granted write can; a CI token is limited to its package', async () => {
  const member = basic('member', await newToken('member', ['write:packages']));
  const denied = await pushImage(await bearer(member, 'repository:acme/app:pull,push'), 'acme/app', 'm1');
  assert.equal(denied.status, 403, 'a member without read is told what to check, not that the package exists');
  assert.match(((await denied.json()) as { errors: { message: string }[] }).errors[0]!.message, /you may not push to acme\/app; check the name/);
  await berth.admin(async (s) => s.packages.grant('acme/app', { type: 'user', id: (await s.accounts.getUser('member')).id }, 'read'));
  const readOnlyRole = await pushImage(await bearer(member, 'repository:acme/app:pull,push'), 'acme/app', 'm1');
  assert.equal(readOnlyRole.status, 403);
  assert.equal(await ociCode(readOnlyRole), 'DENIED');

  const writer = basic('teamwriter', await newToken('teamwriter', ['write:packages']));
  assert.equal((await pushImage(await bearer(writer, 'repository:acme/app:pull,push'), 'acme/app', 't1')).status, 403);
  await berth.admin(async (s) => s.packages.grant('acme/app', { type: 'team', id: await s.accounts.teamId('acme', 'builders') }, 'write'));
  assert.equal((await pushImage(await bearer(writer, 'repository:acme/app:pull,push'), 'acme/app', 't1')).status, 201);

  const ci = basic('tester', await newToken('tester', ['write:packages'], { expiresAt: Date.now() + 3_600_000, ciPackage: 'acme/app' }));
  assert.equal((await pushImage(await bearer(ci, 'repository:acme/app:pull,push'), 'acme/app', 'ci1')).status, 201);
  const other = await pushImage(await bearer(ci, 'repository:acme/flow:pull,push'), 'acme/flow', 'ci1');
  assert.equal(other.status, 403);
  assert.match(((await other.json()) as { errors: { message: string }[] }).errors[0]!.message, /this CI token is limited to acme\/app/);
});

test('pushing into a namespace that does not exist, or that is not yours, is denied', async () => {
  const res = await pushImage(await bearer(berth.authorization, 'repository:ghost/app:pull,push'), 'ghost/app', '1');
  assert.equal(res.status, 403);
  assert.match(((await res.json()) as { errors: { message: string }[] }).errors[0]!.message, /permission_denied: write_package: there is no user or organization named ghost; check the name/);
  const outsider = basic('outsider', await newToken('outsider', ['write:packages']));
  assert.equal((await pushImage(await bearer(outsider, 'repository:acme/new:pull,push'), 'acme/new', '1')).status, 403);
  assert.equal((await pushImage(await bearer(outsider, 'repository:outsider/mine:pull,push'), 'outsider/mine', '1')).status, 201);
});

test('a cross-repository mount needs read access on the source', async () => {
  const config = Buffer.from('{}');
  const outsider = basic('outsider', await newToken('outsider', ['write:packages']));
  const auth = await bearer(outsider, 'repository:outsider/copy:pull,push', 'repository:acme/app:pull');
  const res = await berth.fetch(`/v2/outsider/copy/blobs/uploads/?mount=${sha(config)}&from=acme/app`, { method: 'POST', auth });
  assert.equal(res.status, 202, 'falls back to an upload session instead of mounting');
  const mine = await bearer(berth.authorization, 'repository:acme/mounted:pull,push', 'repository:acme/app:pull');
  const ok = await berth.fetch(`/v2/acme/mounted/blobs/uploads/?mount=${sha(config)}&from=acme/app`, { method: 'POST', auth: mine });
  assert.equal(ok.status, 201);
});

test('failed logins are rate limited per client with 429 and Retry-After; valid tokens keep working', async () => {
  let last: Response | undefined;
  for (let i = 0; i < 12 && last?.status !== 429; i++) last = await token(basic('someone', 'berth_pat_000000000000000000000000000000000000'), 'repository:acme/app:pull');
  assert.equal(last!.status, 429);
  assert.ok(Number(last!.headers.get('retry-after')) >= 1);
  assert.equal(await ociCode(last!), 'TOOMANYREQUESTS');
  assert.equal((await token(berth.authorization, 'repository:acme/app:pull')).status, 200);
});

test('organization policy: who may create packages, and the visibility they get', async () => {
  const member = basic('member', await newToken('member', ['write:packages']));
  assert.equal((await pushImage(await bearer(member, 'repository:acme/by-member:pull,push'), 'acme/by-member', '1')).status, 201,
    'members may create packages by default');
  await berth.admin((s) => s.accounts.setOrgPolicy('acme', { membersCanCreate: false, allowedVisibilities: ['private', 'internal'], defaultVisibility: 'internal' }));
  const denied = await pushImage(await bearer(member, 'repository:acme/by-member-2:pull,push'), 'acme/by-member-2', '1');
  assert.equal(denied.status, 403);
  assert.equal((await pushImage(await bearer(berth.authorization, 'repository:acme/internal-one:pull,push'), 'acme/internal-one', '1')).status, 201);
  // Internal: any member of the organization may read it, without a role on the package; outsiders may not.
  const memberRead = basic('member', await newToken('member', ['read:packages']));
  assert.equal((await berth.fetch('/v2/acme/internal-one/manifests/1', { auth: await bearer(memberRead, 'repository:acme/internal-one:pull') })).status, 200);
  const outsider = basic('outsider', await newToken('outsider', ['read:packages']));
  assert.equal((await berth.fetch('/v2/acme/internal-one/manifests/1', { auth: await bearer(outsider, 'repository:acme/internal-one:pull') })).status, 404);
  await assert.rejects(berth.admin((s) => s.accounts.setOrgPolicy('acme', { allowedVisibilities: ['private'], defaultVisibility: 'public' })), /allowed/);
});
