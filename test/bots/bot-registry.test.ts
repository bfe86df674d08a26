// Bot accounts through the registry protocols: skopeo login with a bot token, push and pull within its grant, refused
// outside it with a message naming the grant, /token and Basic on /v2, rotation, revocation and expiry.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { ClientError, skopeoCopy, skopeoInspect, skopeoLogin } from '../helpers/clients.js';
import { writeImageLayout } from '../helpers/oci-image.js';

let berth: RunningBerth;
let work: string;
const tokens: string[] = [];

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-bots-'));
  // Refused tokens count as failed logins: the limit must not turn the refusal cases below into 429s.
  berth = await startBerth({ env: { BERTH_AUTH_FAILED_LOGIN_LIMIT: '1000' } });
  await writeImageLayout(join(work, 'img'), { layers: [2048], tag: 'x' });
});

after(async () => {
  // Bot tokens are secrets: never in the server's log.
  const log = berth?.serverLog() ?? '';
  for (const t of tokens) assert.ok(!log.includes(t) && !log.includes(t.slice(10, 30)), 'a bot token appeared in the server log');
  await berth?.stop();
  await rm(work, { recursive: true, force: true });
});

async function createBot(body: Record<string, unknown>): Promise<string> {
  const res = await berth.fetch('/api/v3/berth/orgs/acme/bots', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 201, await res.clone().text());
  const { token } = (await res.json()) as { token: string };
  assert.match(token, /^berth_bot_[0-9A-Za-z]{36}$/);
  tokens.push(token);
  return token;
}

const basic = (user: string, token: string): string => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
type OciErrors = { errors: { code: string; message: string }[] };

async function tokenFor(auth: string, scope: string): Promise<Response> {
  return berth.fetch(`/token?service=${encodeURIComponent(berth.host)}&scope=${encodeURIComponent(scope)}`, { auth });
}
async function refusedMessage(res: Response, status = 401): Promise<string> {
  assert.equal(res.status, status);
  if (status === 401) assert.ok(res.headers.get('www-authenticate'));
  return ((await res.json()) as OciErrors).errors[0]!.message;
}
const pushError = (ref: string, creds: string): Promise<ClientError> =>
  skopeoCopy(`oci:${join(work, 'img')}:x`, `docker://${berth.host}/${ref}`, [], { creds }).then(
    () => assert.fail(`pushing ${ref} must fail`),
    (e: unknown) => { assert.ok(e instanceof ClientError, String(e)); return e; },
  );

describe('a bot that pulls and pushes api and web-* of acme', () => {
  let deployer: string;
  before(async () => {
    deployer = await createBot({ name: 'deployer', packages: ['api', 'web-*'], actions: ['pull', 'push'] });
  });

  it('skopeo login -u acme+deployer --password-stdin, push api and web-app, pull them back', async () => {
    const authfile = join(work, 'auth.json');
    await skopeoLogin(berth.host, 'acme+deployer', deployer, authfile);
    await skopeoCopy(`oci:${join(work, 'img')}:x`, `docker://${berth.host}/acme/api:1.0`, [], { authfile });
    await skopeoCopy(`oci:${join(work, 'img')}:x`, `docker://${berth.host}/acme/web-app:1`, [], { authfile });
    const byBot = JSON.parse(await skopeoInspect(`docker://${berth.host}/acme/web-app:1`, { authfile })) as { Digest: string };
    const byOwner = JSON.parse(await skopeoInspect(`docker://${berth.host}/acme/web-app:1`, { creds: `${berth.user}:${berth.token}` })) as { Digest: string };
    assert.equal(byBot.Digest, byOwner.Digest);
    // Any user name goes with the token, as for personal access tokens.
    await skopeoInspect(`docker://${berth.host}/acme/api:1.0`, { creds: `ci:${deployer}` });
  });

  it('a push outside its packages is refused naming what the bot may push', async () => {
    const err = await pushError('acme/db:1', `acme+deployer:${deployer}`);
    assert.match(err.stderr, /bot acme\+deployer may only push api, web-\* in acme/);
    // Another organization's namespace: the same words.
    const other = await pushError('tester/api:1', `acme+deployer:${deployer}`);
    assert.match(other.stderr, /bot acme\+deployer may only push api, web-\* in acme/);
  });

  it('Basic on /v2: tags of its packages; delete is not among its actions (403 naming them)', async () => {
    const tags = await berth.fetch('/v2/acme/api/tags/list', { auth: basic('acme+deployer', deployer) });
    assert.equal(tags.status, 200);
    assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, ['1.0']);
    const del = await berth.fetch('/v2/acme/api/manifests/1.0', { method: 'DELETE', auth: basic('acme+deployer', deployer) });
    const message = await refusedMessage(del, 403);
    assert.match(message, /bot acme\+deployer may not delete: it may only pull, push api, web-\* in acme/);
  });
});

describe('a pull-only bot', () => {
  let reader: string;
  before(async () => {
    reader = await createBot({ name: 'reader', packages: ['api'], actions: ['pull'] });
    // A private package of acme the bot's grant names (and one it does not).
    await skopeoCopy(`oci:${join(work, 'img')}:x`, `docker://${berth.host}/acme/secret:1`, [], { creds: `${berth.user}:${berth.token}` });
    await skopeoCopy(`oci:${join(work, 'img')}:x`, `docker://${berth.host}/acme/api:2.0`, [], { creds: `${berth.user}:${berth.token}` });
  });

  it('pulls its private package with skopeo; cannot push it', async () => {
    const vis = await berth.query<{ visibility: string }>('select visibility from repositories where name = ?', 'acme/api');
    assert.equal(vis[0]!.visibility, 'private');
    const pulled = JSON.parse(await skopeoInspect(`docker://${berth.host}/acme/api:2.0`, { creds: `acme+reader:${reader}` })) as { Digest: string };
    assert.match(pulled.Digest, /^sha256:/);
    const err = await pushError('acme/api:3', `acme+reader:${reader}`);
    assert.match(err.stderr, /bot acme\+reader may not push: it may only pull api in acme/);
  });

  it('/token grants the asked actions its grant covers, a subset; nothing on packages it does not name', async () => {
    const res = await tokenFor(basic('acme+reader', reader), 'repository:acme/api:pull,push');
    assert.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; access: unknown };
    assert.equal(claims.sub, 'acme+reader');
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'acme/api', actions: ['pull'] }]);
    const other = await tokenFor(basic('acme+reader', reader), 'repository:acme/secret:pull');
    const access = (JSON.parse(Buffer.from(((await other.json()) as { token: string }).token.split('.')[1]!, 'base64url').toString()) as { access: unknown }).access;
    assert.deepEqual(access, [{ type: 'repository', name: 'acme/secret', actions: [] }]);
    // A package outside its grant is, for reads, as one that does not exist (ghcr.io's answer to everyone).
    const secret = await berth.fetch('/v2/acme/secret/tags/list', { auth: basic('acme+reader', reader) });
    assert.equal(secret.status, 404);
    assert.equal(((await secret.json()) as OciErrors).errors[0]!.code, 'NAME_UNKNOWN');
  });
});

describe('rotated, revoked and expired bot tokens', () => {
  it('rotation: the old token is refused on /token and /v2 (and registry tokens issued from it); the new one works', async () => {
    const old = await createBot({ name: 'rotor', packages: ['api'], actions: ['pull'] });
    const issued = (await (await tokenFor(basic('x', old), 'repository:acme/api:pull')).json()) as { token: string };
    assert.equal((await berth.fetch('/v2/acme/api/tags/list', { auth: `Bearer ${issued.token}` })).status, 200);
    const rotated = await berth.fetch('/api/v3/berth/orgs/acme/bots/rotor/rotate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(rotated.status, 200);
    const fresh = ((await rotated.json()) as { token: string }).token;
    tokens.push(fresh);
    assert.notEqual(fresh, old);
    assert.match(await refusedMessage(await tokenFor(basic('x', old), 'repository:acme/api:pull')), /bot token is not valid: the bot was revoked or its token rotated/);
    assert.match(await refusedMessage(await berth.fetch('/v2/acme/api/tags/list', { auth: basic('x', old) })), /bot token is not valid/);
    assert.equal((await berth.fetch('/v2/acme/api/tags/list', { auth: `Bearer ${issued.token}` })).status, 401);
    assert.equal((await tokenFor(basic('x', fresh), 'repository:acme/api:pull')).status, 200);
    assert.equal((await berth.fetch('/v2/acme/api/tags/list', { auth: basic('x', fresh) })).status, 200);
    await skopeoInspect(`docker://${berth.host}/acme/api:1.0`, { creds: `acme+rotor:${fresh}` });
  });

  it('revocation: the token and registry tokens issued from it are refused at once', async () => {
    const token = await createBot({ name: 'gone', packages: ['api'], actions: ['pull'] });
    const issued = (await (await tokenFor(basic('x', token), 'repository:acme/api:pull')).json()) as { token: string };
    assert.equal((await berth.fetch('/api/v3/berth/orgs/acme/bots/gone', { method: 'DELETE' })).status, 204);
    assert.match(await refusedMessage(await tokenFor(basic('acme+gone', token), 'repository:acme/api:pull')), /bot token is not valid/);
    assert.equal((await berth.fetch('/v2/acme/api/tags/list', { auth: basic('acme+gone', token) })).status, 401);
    assert.equal((await berth.fetch('/v2/acme/api/tags/list', { auth: `Bearer ${issued.token}` })).status, 401);
    // OAuth2 POST /token (containerd) as well.
    const post = await berth.fetch('/token', {
      method: 'POST', auth: null, headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: 'acme+gone', password: token, service: berth.host, scope: 'repository:acme/api:pull' }).toString(),
    });
    assert.equal(post.status, 401);
  });

  it('expiry: an expired bot token is refused saying so; a bad expiry is refused at creation', async () => {
    const token = await createBot({ name: 'temp', packages: ['api'], actions: ['pull'], expires_at: new Date(Date.now() + 86_400_000).toISOString() });
    assert.equal((await tokenFor(basic('x', token), 'repository:acme/api:pull')).status, 200);
    await berth.query('update bots set expires_at = ? where name = ?', Date.now() - 1000, 'temp');
    assert.match(await refusedMessage(await tokenFor(basic('x', token), 'repository:acme/api:pull')), /bot token has expired; an owner of the organization can rotate it/);
    assert.match(await refusedMessage(await berth.fetch('/v2/acme/api/tags/list', { auth: basic('x', token) })), /bot token has expired/);
    const past = await berth.fetch('/api/v3/berth/orgs/acme/bots', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'late', packages: ['api'], actions: ['pull'], expires_at: '2001-01-01' }),
    });
    assert.equal(past.status, 422);
    assert.match(((await past.json()) as { message: string }).message, /expires_at: the expiry is in the past/);
  });

  it('a mistyped bot token is not a valid Berth token', async () => {
    const message = await refusedMessage(await tokenFor(basic('acme+deployer', 'berth_bot_nope'), 'repository:acme/api:pull'));
    assert.match(message, /not a valid Berth token/);
  });
});

describe('the REST API with a bot token', () => {
  it('lists and reads the packages its grant names (globs included), nothing else; changes nothing', async () => {
    const token = await createBot({ name: 'lister', packages: ['api', 'web-*'], actions: ['pull'] });
    const auth = `Bearer ${token}`;
    const list = await berth.fetch('/api/v3/orgs/acme/packages?package_type=container', { auth });
    assert.equal(list.status, 200);
    assert.deepEqual(((await list.json()) as { name: string }[]).map((p) => p.name).sort(), ['api', 'web-app']);
    const one = await berth.fetch('/api/v3/orgs/acme/packages/container/web-app', { auth: `token ${token}` });
    assert.equal(one.status, 200);
    const versions = await berth.fetch('/api/v3/orgs/acme/packages/container/api/versions', { auth: basic('acme+lister', token) });
    assert.equal(versions.status, 200);
    assert.ok(((await versions.json()) as unknown[]).length >= 1);
    assert.equal((await berth.fetch('/api/v3/orgs/acme/packages/container/secret', { auth })).status, 404);
    const del = await berth.fetch('/api/v3/orgs/acme/packages/container/api', { method: 'DELETE', auth });
    assert.equal(del.status, 403);
    assert.match(((await del.json()) as { message: string }).message, /Bot acme\+lister may only read packages through the REST API \(it cannot delete packages\)/);
    assert.equal((await berth.fetch('/api/v3/user', { auth })).status, 403);
    // A pull-less bot reads only what anyone may.
    const pusher = await createBot({ name: 'pusher', packages: ['api'], actions: ['push'] });
    const none = await berth.fetch('/api/v3/orgs/acme/packages?package_type=container', { auth: `Bearer ${pusher}` });
    assert.deepEqual(await none.json(), []);
  });
});
