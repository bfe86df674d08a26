// Immutable tags through the real clients: skopeo and podman pushes of a moved tag are refused with a message they
// print, the same digest may be pushed again, exclusions stay mutable, and /v2, REST and package deletes of what
// a protected tag holds are refused. Only the namespace's admins change the rules.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { ClientError, createPodman, skopeoCopy, skopeoDelete, type Podman } from '../helpers/clients.js';
import { writeImageLayout, writeIndexLayout, type BuiltImage, type BuiltIndex } from '../helpers/oci-image.js';

let berth: RunningBerth;
let podman: Podman;
let work: string;
let creds: string;
let imageA: BuiltImage;
let imageB: BuiltImage;
let multi: BuiltIndex;
let bob: string;
const MESSAGE = 'tag v1.2.0 is immutable in acme/api (rule v*): push a new tag';
const basic = (user: string, secret: string): string => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

async function push(layout: string, tag: string, dest: string): Promise<void> {
  // --all: an index with every platform, not the one matching this machine.
  await skopeoCopy(`oci:${join(work, layout)}:${tag}`, `docker://${berth.host}/${dest}`, ['--all'], { creds });
}

async function refusal(run: Promise<unknown>): Promise<string> {
  const err = await run.then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ClientError, 'the client should have failed');
  return err.stderr + err.stdout;
}

async function digestOf(name: string, tag: string): Promise<string | null> {
  const res = await berth.fetch(`/v2/${name}/manifests/${tag}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' } });
  return res.status === 200 ? res.headers.get('docker-content-digest') : null;
}

async function api(path: string, init: RequestInit & { auth?: string } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await berth.fetch(`/api/v3${path}`, { ...init, headers: { 'content-type': 'application/json', ...init.headers } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-immutable-'));
  podman = createPodman();
  berth = await startBerth();
  creds = `${berth.user}:${berth.token}`;
  imageA = await writeImageLayout(join(work, 'a'), { layers: [1024], tag: 'x' });
  imageB = await writeImageLayout(join(work, 'b'), { layers: [1024], tag: 'x' });
  multi = await writeIndexLayout(join(work, 'multi'), { layers: [512], tag: 'x' });
  bob = await berth.admin(async (s) => {
    const user = await s.accounts.createUser({ login: 'bob' });
    await s.accounts.addMember('acme', 'bob', 'member');
    return basic('bob', (await s.tokens.create({ userId: user.id, note: 't', scopes: ['write:packages', 'delete:packages'], expiresAt: null })).token);
  });
  await podman.login(berth.host, berth.user, berth.token);
  const set = await api('/berth/orgs/acme/immutable-tags', { method: 'PUT', body: JSON.stringify({ patterns: ['v*'], exclude: ['latest', 'main-*'] }) });
  assert.equal(set.status, 200, JSON.stringify(set.body));
});

after(async () => {
  await berth?.stop();
  await podman?.cleanup();
  await rm(work, { recursive: true, force: true });
});

test('a protected tag takes its first push and the same digest again, and refuses another digest (skopeo, podman)', async () => {
  await push('a', 'x', 'acme/api:v1.2.0');
  await push('a', 'x', 'acme/api:v1.2.0'); // a CI retry
  const skopeo = await refusal(push('b', 'x', 'acme/api:v1.2.0'));
  assert.match(skopeo, /denied/i);
  assert.ok(skopeo.includes(MESSAGE), skopeo);
  assert.equal(await digestOf('acme/api', 'v1.2.0'), imageA.manifest.digest);

  await podman.run(['pull', '--tls-verify=false', `${berth.host}/acme/api:v1.2.0`]);
  await push('b', 'x', 'acme/api:other');
  await podman.run(['pull', '--tls-verify=false', `${berth.host}/acme/api:other`]);
  await podman.run(['tag', `${berth.host}/acme/api:other`, `${berth.host}/acme/api:v1.2.0`]);
  const out = await refusal(podman.run(['push', '--tls-verify=false', `${berth.host}/acme/api:v1.2.0`]));
  assert.ok(out.includes(MESSAGE), out);
  assert.equal(await digestOf('acme/api', 'v1.2.0'), imageA.manifest.digest);
});

test('excluded tags (latest, main-*) and tags matching no pattern still move', async () => {
  for (const tag of ['latest', 'main-3f2a', 'edge']) {
    await push('a', 'x', `acme/api:${tag}`);
    await push('b', 'x', `acme/api:${tag}`);
    assert.equal(await digestOf('acme/api', tag), imageB.manifest.digest, tag);
  }
});

test('/v2 deletes of a protected tag or of the version it holds are refused with DENIED', async () => {
  const byTag = await berth.fetch('/v2/acme/api/manifests/v1.2.0', { method: 'DELETE' });
  assert.equal(byTag.status, 403);
  assert.deepEqual((await byTag.json() as { errors: { code: string; message: string }[] }).errors.map((e) => [e.code, e.message]),
    [['DENIED', 'tag v1.2.0 is immutable in acme/api (rule v*): it cannot be deleted']]);
  const byDigest = await berth.fetch(`/v2/acme/api/manifests/${imageA.manifest.digest}`, { method: 'DELETE' });
  assert.equal(byDigest.status, 403);
  assert.match((await byDigest.json() as { errors: { message: string }[] }).errors[0]!.message, /tag v1\.2\.0 is immutable in acme\/api \(rule v\*\): the image it points at cannot be deleted/);
  const skopeo = await refusal(skopeoDelete(`docker://${berth.host}/acme/api:v1.2.0`, { creds }));
  assert.match(skopeo, /immutable in acme\/api/);
  // An unprotected tag is deleted as before.
  assert.equal((await berth.fetch('/v2/acme/api/manifests/edge', { method: 'DELETE' })).status, 202);
  assert.equal(await digestOf('acme/api', 'v1.2.0'), imageA.manifest.digest);
});

test('REST deletes of a protected version, of a platform manifest of a protected index, and of the package are refused', async () => {
  await push('multi', 'x', 'acme/api:v2.0.0');
  const versions = (await api('/orgs/acme/packages/container/api/versions?per_page=100')).body as unknown as { id: number; name: string }[];
  const idOf = (digest: string): number => versions.find((v) => v.name === digest)!.id;
  for (const digest of [imageA.manifest.digest, multi.images[0]!.manifest.digest]) {
    const res = await api(`/orgs/acme/packages/container/api/versions/${idOf(digest)}`, { method: 'DELETE' });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.match(String(res.body.message), /is immutable in acme\/api \(rule v\*\): the image it points at cannot be deleted/);
  }
  const pkg = await api('/orgs/acme/packages/container/api', { method: 'DELETE' });
  assert.equal(pkg.status, 403);
  assert.match(String(pkg.body.message), /tag v1\.2\.0 is immutable/);
  // A version no protected tag holds is deleted as before.
  assert.equal((await api(`/orgs/acme/packages/container/api/versions/${idOf(imageB.manifest.digest)}`, { method: 'DELETE' })).status, 204);
  assert.equal(await digestOf('acme/api', 'v2.0.0'), multi.index.digest);
});

test('package rules add patterns to the organization\'s; only namespace admins read or change them; bad rules get 422', async () => {
  await push('a', 'x', 'acme/web:stable');
  const set = await api('/berth/packages/acme/web/immutable-tags', { method: 'PUT', body: JSON.stringify({ patterns: ['stable'] }) });
  assert.equal(set.status, 200);
  assert.ok((await refusal(push('b', 'x', 'acme/web:stable'))).includes('tag stable is immutable in acme/web (rule stable): push a new tag'));
  const got = await api('/berth/packages/acme/web/immutable-tags');
  assert.deepEqual(got.body, { immutable_tags: { patterns: ['stable'], exclude: [] }, namespace_immutable_tags: { patterns: ['v*'], exclude: ['latest', 'main-*'] } });

  // bob is a member of acme with push rights on what he creates, but no owner: no rule changes.
  for (const [method, path] of [['PUT', '/berth/orgs/acme/immutable-tags'], ['GET', '/berth/orgs/acme/immutable-tags']] as const) {
    const res = await api(path, { method, headers: { authorization: bob }, ...(method === 'PUT' ? { body: '{"patterns":[]}' } : {}) });
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.match(String(res.body.message), /Only admins of acme/);
  }
  const bad = await api('/berth/orgs/acme/immutable-tags', { method: 'PUT', body: JSON.stringify({ patterns: ['v/1'] }) });
  assert.equal(bad.status, 422);
  assert.match(String(bad.body.message), /immutable_tags.patterns\[0\]/);
  assert.equal((await api('/berth/orgs/nobody/immutable-tags')).status, 404);

  // Removing the rules makes the tags mutable again.
  assert.equal((await api('/berth/packages/acme/web/immutable-tags', { method: 'PUT', body: '{"patterns":[]}' })).status, 200);
  await push('b', 'x', 'acme/web:stable');
  assert.equal(await digestOf('acme/web', 'stable'), imageB.manifest.digest);
});
