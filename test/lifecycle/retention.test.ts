// Retention with real images: multi-arch indexes pushed with skopeo, a podman push, buildx-shaped indexes with an
// `unknown/unknown` attestation manifest, an SBOM artifact with a `subject`, cosign-style `.sig` tags, an immutable
// tag. A dry run lists every version with its decision and rule; the real run soft-deletes exactly that; every kept
// tag then pulls with skopeo and podman, nothing kept is dangling, and a deleted version restores like a REST delete.
import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { createPodman, skopeoCopy, type Podman } from '../helpers/clients.js';
import { MEDIA, pushBlob, pushImage, pushManifest, sha256, useAuthorization, type PushedImage } from '../helpers/http.js';
import { summarizeLayout, writeIndexLayout, type BuiltIndex } from '../helpers/oci-image.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const DAY = 86_400_000;
let berth: RunningBerth;
let podman: Podman;
let work: string;
let creds: string;

interface Version { id: number; digest: string; tags: string[]; decision: 'keep' | 'delete'; rule: string; reason: string; image: string }
interface Run { dry_run: boolean; packages: { package: string; kept: number; deleted: number; versions: Version[] }[] }

/** Everything pushed, by role. */
const pushed: Record<string, { digest: string; children?: string[] }> = {};
let keptIndex: BuiltIndex;
let oldIndex: BuiltIndex;

async function api<T = Record<string, unknown>>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await berth.fetch(`/api/v3${path}`, { ...init, headers: { 'content-type': 'application/json', ...init.headers } });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

/** Makes a version look pushed `days` ago (retention reads created_at). */
async function age(digest: string, days: number): Promise<void> {
  await berth.query('UPDATE manifests SET created_at = created_at - ? WHERE digest = ?', days * DAY, digest);
}

/** A buildx-shaped index: one linux/amd64 image and its in-toto attestation manifest listed as unknown/unknown. */
async function pushBuildxIndex(name: string, seed: string, tag: string): Promise<{ digest: string; children: string[] }> {
  const image = await pushImage(berth.url, name, `${seed}-image`);
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://spdx.dev/Document', seed }));
  const layer = { mediaType: 'application/vnd.in-toto+json', digest: await pushBlob(berth.url, name, statement), size: statement.length,
    annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } };
  const configBytes = Buffer.from('{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[]}}');
  const config = { mediaType: MEDIA.ociConfig, digest: await pushBlob(berth.url, name, configBytes), size: configBytes.length };
  const att = await pushManifest(berth.url, name, sha256(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [layer] }))),
    { schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [layer] }, MEDIA.ociManifest);
  const index = {
    schemaVersion: 2, mediaType: MEDIA.ociIndex,
    manifests: [
      { ...image.descriptor, platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: MEDIA.ociManifest, digest: att.digest, size: att.bytes.length, platform: { architecture: 'unknown', os: 'unknown' },
        annotations: { 'vnd.docker.reference.digest': image.digest, 'vnd.docker.reference.type': 'attestation-manifest' } },
    ],
  };
  const pushedIndex = await pushManifest(berth.url, name, tag, index, MEDIA.ociIndex);
  return { digest: pushedIndex.digest, children: [image.digest, att.digest] };
}

/** An OCI 1.1 artifact (an SBOM) whose `subject` is `subject`. */
async function pushReferrer(name: string, subject: string, seed: string): Promise<string> {
  const head = await berth.fetch(`/v2/${name}/manifests/${subject}`, { method: 'HEAD', headers: { accept: `${MEDIA.ociIndex}, ${MEDIA.ociManifest}` } });
  const descriptor = { mediaType: head.headers.get('content-type')!, digest: subject, size: Number(head.headers.get('content-length')) };
  const img: PushedImage = await pushImage(berth.url, name, seed, undefined, { artifactType: 'application/spdx+json', subject: descriptor });
  return img.digest;
}

/** A cosign-style signature: an image manifest tagged `sha256-<hex of subject>.sig`. */
async function pushCosignSignature(name: string, subject: string, seed: string): Promise<string> {
  return (await pushImage(berth.url, name, seed, `sha256-${subject.slice('sha256:'.length)}.sig`)).digest;
}

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [builtCli(), ...args, '--data', berth.dataDir], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...berth.metadataEnv, BERTH_LOG_LEVEL: 'warn' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-retention-'));
  podman = createPodman();
  berth = await startBerth({ env: { BERTH_RETENTION_INTERVAL: '0' } });
  useAuthorization(berth.authorization);
  creds = `${berth.user}:${berth.token}`;
  await podman.login(berth.host, berth.user, berth.token);
  const name = 'acme/app';

  keptIndex = await writeIndexLayout(join(work, 'kept'), { layers: [1024], tag: 'x' });
  oldIndex = await writeIndexLayout(join(work, 'old'), { layers: [1024], tag: 'x' });
  await skopeoCopy(`oci:${join(work, 'old')}:x`, `docker://${berth.host}/${name}:v0.9.0`, ['--all'], { creds });
  await skopeoCopy(`oci:${join(work, 'kept')}:x`, `docker://${berth.host}/${name}:v1.0.0`, ['--all'], { creds });
  pushed.kept = { digest: keptIndex.index.digest, children: keptIndex.images.map((i) => i.manifest.digest) };
  pushed.old = { digest: oldIndex.index.digest, children: oldIndex.images.map((i) => i.manifest.digest) };
  // podman: pull one platform of v1.0.0 and push it as v1.5.0, converted to a Docker schema 2 manifest (a digest of its own).
  await podman.pull(`${berth.host}/${name}:v1.0.0`);
  await podman.run(['push', '--tls-verify=false', '--format', 'v2s2', `${berth.host}/${name}:v1.0.0`, `docker://${berth.host}/${name}:v1.5.0`]);
  const v15 = await berth.fetch(`/v2/${name}/manifests/v1.5.0`, { method: 'HEAD', headers: { accept: `${MEDIA.ociManifest}, ${MEDIA.dockerManifest}` } });
  pushed.podman = { digest: v15.headers.get('docker-content-digest')! };

  pushed.buildxKept = await pushBuildxIndex(name, 'buildx-kept', 'latest');
  pushed.buildxOld = await pushBuildxIndex(name, 'buildx-old', 'main-old');
  pushed.sbomKept = { digest: await pushReferrer(name, pushed.kept.digest, 'sbom-kept') };
  pushed.sbomOld = { digest: await pushReferrer(name, pushed.old.digest, 'sbom-old') };
  pushed.sigKept = { digest: await pushCosignSignature(name, pushed.kept.digest, 'sig-kept') };
  pushed.sigOld = { digest: await pushCosignSignature(name, pushed.old.digest, 'sig-old') };
  pushed.untagged = { digest: (await pushImage(berth.url, name, 'untagged')).digest };
  pushed.frozen = { digest: (await pushImage(berth.url, name, 'frozen', 'v0.1.0')).digest };

  // Everything but v1.0.0 (and what follows it) and v1.5.0 was pushed 30 days ago.
  for (const key of ['old', 'buildxKept', 'buildxOld', 'sbomOld', 'sigOld', 'untagged', 'frozen']) {
    for (const d of [pushed[key]!.digest, ...(pushed[key]!.children ?? [])]) await age(d, 30);
  }
  const immutable = await api('/berth/packages/acme/app/immutable-tags', { method: 'PUT', body: JSON.stringify({ patterns: ['v0.1.*'] }) });
  assert.equal(immutable.status, 200);
  // Namespace defaults, and the package's own rules on top (keep_tags add up; its delete rule replaces the org's).
  assert.equal((await api('/berth/orgs/acme/retention', { method: 'PUT', body: JSON.stringify({ keep_tags: ['latest'], delete_untagged_after: '30d' }) })).status, 200);
  const set = await api('/berth/packages/acme/app/retention', {
    method: 'PUT', body: JSON.stringify({ keep_tags: ['semver:>=1.0 <2'], delete_untagged_after: '7d', delete_not_pulled_for: '14d' }),
  });
  assert.equal(set.status, 200, JSON.stringify(set.body));
});

after(async () => {
  useAuthorization(null);
  await berth?.stop();
  await podman?.cleanup();
  await rm(work, { recursive: true, force: true });
});

function byDigest(run: Run): Map<string, Version> {
  return new Map(run.packages[0]!.versions.map((v) => [v.digest, v]));
}

const EXPECTED: [key: string, decision: 'keep' | 'delete', rule: string, childRule?: string][] = [
  ['kept', 'keep', 'keep_tags', 'part_of_image'],
  ['podman', 'keep', 'keep_tags'],
  ['buildxKept', 'keep', 'keep_tags', 'part_of_image'],
  ['sbomKept', 'keep', 'part_of_image'],
  ['sigKept', 'keep', 'part_of_image'],
  ['frozen', 'keep', 'immutable_tags'],
  ['old', 'delete', 'delete_not_pulled_for', 'part_of_image'],
  ['buildxOld', 'delete', 'delete_not_pulled_for', 'part_of_image'],
  ['sbomOld', 'delete', 'part_of_image'],
  ['sigOld', 'delete', 'part_of_image'],
  ['untagged', 'delete', 'delete_untagged_after'],
];
let dry: Run;

test('a dry run lists every version with its decision and deciding rule, and changes nothing', async () => {
  const res = await api<Run>('/berth/packages/acme/app/retention/runs?dry_run=true', { method: 'POST' });
  assert.equal(res.status, 200);
  dry = res.body;
  assert.equal(dry.dry_run, true);
  const decisions = byDigest(dry);
  const total = EXPECTED.reduce((n, [key]) => n + 1 + (pushed[key]!.children?.length ?? 0), 0);
  assert.equal(decisions.size, total, 'one entry per active version');
  for (const [key, decision, rule, childRule] of EXPECTED) {
    const d = decisions.get(pushed[key]!.digest)!;
    assert.deepEqual([d.decision, d.rule], [decision, rule], `${key}: ${d.reason}`);
    for (const child of pushed[key]!.children ?? []) {
      assert.deepEqual([decisions.get(child)!.decision, decisions.get(child)!.rule, decisions.get(child)!.image], [decision, childRule, pushed[key]!.digest], `${key} child`);
    }
  }
  assert.match(decisions.get(pushed.kept!.digest)!.reason, /tag v1\.0\.0 matches semver:>=1\.0 <2/);
  assert.match(decisions.get(pushed.frozen!.digest)!.reason, /tag v0\.1\.0 is immutable \(rule v0\.1\.\*\)/);
  assert.equal((await berth.fetch('/v2/acme/app/manifests/v0.9.0', { method: 'HEAD' })).status, 200, 'a dry run deletes nothing');

  // The CLI plans the same (JSON), from another process on the same data.
  const out = cli('retention', 'run', 'acme/app', '--dry-run', '--json');
  assert.equal(out.status, 0, out.stderr);
  const cliRun = JSON.parse(out.stdout) as { packages: { versions: Version[] }[] };
  assert.deepEqual(cliRun.packages[0]!.versions.map((v) => [v.digest, v.decision, v.rule]).sort(),
    dry.packages[0]!.versions.map((v) => [v.digest, v.decision, v.rule]).sort());
  const shown = cli('retention', 'show', 'acme/app');
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /acme\/app: keep_tags=semver:>=1\.0 <2 delete_untagged_after=7d delete_not_pulled_for=14d/);
  assert.match(shown.stdout, /acme \(defaults\): keep_tags=latest delete_untagged_after=30d/);
});

test('proposed rules can be previewed without saving them; real runs need delete:packages', async () => {
  const preview = await api<Run>('/berth/packages/acme/app/retention/runs?dry_run=true', { method: 'POST', body: JSON.stringify({ retention: { keep_most_recent: 100 } }) });
  assert.equal(preview.status, 200);
  assert.ok(preview.body.packages[0]!.versions.every((v) => v.decision === 'keep'));
  assert.equal((await api('/berth/packages/acme/app/retention')).body.retention !== undefined, true);
  const bad = await api('/berth/packages/acme/app/retention', { method: 'PUT', body: JSON.stringify({ keep_most_recent: 'all' }) });
  assert.equal(bad.status, 422);
  const readOnly = await berth.admin(async (s) => (await s.tokens.create({ userId: (await s.accounts.getUser('tester')).id, note: 'ro', scopes: ['write:packages'], expiresAt: null })).token);
  const refused = await api('/berth/packages/acme/app/retention/runs?dry_run=false', { method: 'POST', headers: { authorization: `Bearer ${readOnly}` } });
  assert.equal(refused.status, 403);
});

test('the real run soft-deletes what the dry run listed; kept tags pull with skopeo and podman; nothing kept dangles', async () => {
  const res = await api<Run>('/berth/packages/acme/app/retention/runs?dry_run=false', { method: 'POST' });
  assert.equal(res.status, 201);
  assert.deepEqual(res.body.packages[0]!.versions.map((v) => [v.digest, v.decision]).sort(), dry.packages[0]!.versions.map((v) => [v.digest, v.decision]).sort());

  for (const [key, decision] of EXPECTED) {
    for (const d of [pushed[key]!.digest, ...(pushed[key]!.children ?? [])]) {
      const head = await berth.fetch(`/v2/acme/app/manifests/${d}`, { method: 'HEAD', headers: { accept: `${MEDIA.ociIndex}, ${MEDIA.ociManifest}, ${MEDIA.dockerManifest}` } });
      assert.equal(head.status, decision === 'keep' ? 200 : 404, `${key} ${d}`);
    }
  }
  const tags = (await (await berth.fetch('/v2/acme/app/tags/list')).json() as { tags: string[] }).tags;
  assert.deepEqual(tags.sort(), ['latest', `sha256-${pushed.kept!.digest.slice(7)}.sig`, 'v0.1.0', 'v1.0.0', 'v1.5.0'].sort());

  // Every kept tag pulls completely with skopeo (all platforms) and with podman.
  for (const tag of tags) {
    const dir = join(work, `pull-${tag}`);
    await skopeoCopy(`docker://${berth.host}/acme/app:${tag}`, `oci:${dir}:${tag}`, ['--all'], { creds });
    await summarizeLayout(dir, tag);
  }
  const multi = await summarizeLayout(join(work, 'pull-v1.0.0'), 'v1.0.0');
  assert.deepEqual(multi.manifests?.map((m) => m.digest), pushed.kept!.children);
  // podman unpacks layers: the images built from real tar layers (pushImage's stand-in layers are no tar archives).
  for (const tag of ['v1.0.0', 'v1.5.0']) await podman.pull(`${berth.host}/acme/app:${tag}`);

  // Nothing kept points at a deleted version: index children and referrer subjects of every active manifest.
  const dangling = await berth.query(
    `SELECT m.digest, r.digest AS missing FROM manifests m JOIN manifest_references r ON r.manifest_id = m.id AND r.kind = 'manifest'
     WHERE m.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM manifests c WHERE c.repository_id = m.repository_id AND c.digest = r.digest AND c.deleted_at IS NULL)
     UNION ALL
     SELECT m.digest, m.subject_digest FROM manifests m WHERE m.deleted_at IS NULL AND m.subject_digest IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest AND s.deleted_at IS NULL)`);
  assert.deepEqual(dangling, []);
  const referrers = await (await berth.fetch(`/v2/acme/app/referrers/${pushed.kept!.digest}`)).json() as { manifests: { digest: string }[] };
  assert.deepEqual(referrers.manifests.map((m) => m.digest), [pushed.sbomKept!.digest]);
});

test('a version deleted by retention is restorable as a REST delete is, with its tag', async () => {
  const deleted = await api<{ id: number; name: string; metadata: { container: { tags: string[] } } }[]>('/orgs/acme/packages/container/app/versions?state=deleted&per_page=100');
  const old = deleted.body.find((v) => v.name === pushed.old!.digest)!;
  assert.deepEqual(old.metadata.container.tags, ['v0.9.0']);
  for (const d of [pushed.old!.digest, ...pushed.old!.children!]) {
    const id = deleted.body.find((v) => v.name === d)!.id;
    assert.equal((await api(`/orgs/acme/packages/container/app/versions/${id}/restore`, { method: 'POST' })).status, 204);
  }
  await skopeoCopy(`docker://${berth.host}/acme/app:v0.9.0`, `oci:${join(work, 'restored')}:v0.9.0`, ['--all'], { creds });
  assert.deepEqual((await summarizeLayout(join(work, 'restored'), 'v0.9.0')).digest, oldIndex.index.digest);
});

test('only namespace admins see, change or run retention', async () => {
  const bob = await berth.admin(async (s) => {
    const user = await s.accounts.createUser({ login: 'bob' });
    await s.accounts.addMember('acme', 'bob', 'member');
    return (await s.tokens.create({ userId: user.id, note: 't', scopes: ['write:packages', 'delete:packages'], expiresAt: null })).token;
  });
  for (const [method, path] of [['GET', '/berth/orgs/acme/retention'], ['PUT', '/berth/orgs/acme/retention'], ['POST', '/berth/orgs/acme/retention/runs?dry_run=true']] as const) {
    const res = await api(path, { method, headers: { authorization: `Bearer ${bob}` }, ...(method === 'PUT' ? { body: '{}' } : {}) });
    assert.equal(res.status, 403, `${method} ${path}`);
  }
});
