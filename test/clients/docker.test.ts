// The Docker engine against a running Berth: build, push, remove, pull back, and pull a multi-arch OCI index.
// Docker trusts plain HTTP for 127.0.0.0/8, so Berth on 127.0.0.1 needs no --insecure-registry.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { ClientError, docker, dockerLogin, skopeoCopy } from '../helpers/clients.js';
import { startDocker, type DockerDaemon } from '../helpers/daemons.js';
import { OCI_INDEX, OCI_MANIFEST, writeIndexLayout } from '../helpers/oci-image.js';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const SOURCE = 'https://github.com/acme/dockerapp';
let berth: RunningBerth;
let daemon: DockerDaemon;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-docker-'));
  // One after the other: if the second fails, the first is already assigned for after() to stop.
  berth = await startBerth();
  daemon = await startDocker();
  // As a user would: `docker login --password-stdin` with a personal access token. The credentials land in the
  // daemon's private CLI config dir (DOCKER_CONFIG, a temp dir of this file), never in ~/.docker.
  await dockerLogin(daemon, berth.host, berth.user, berth.token);
});

after(async () => {
  await daemon?.stop();
  await berth?.stop();
  await rm(work, { recursive: true, force: true });
  if (berth) await rm(berth.dataDir, { recursive: true, force: true });
});

interface DockerImage {
  Id: string;
  RepoDigests: string[];
  Architecture: string;
  Config: { Labels: Record<string, string> | null };
  RootFS: { Layers: string[] };
}

async function inspectImage(ref: string): Promise<DockerImage> {
  const out = await docker(daemon, ['image', 'inspect', ref]);
  return (JSON.parse(out.stdout) as DockerImage[])[0]!;
}

test('docker build, push, rmi and pull round-trip a FROM scratch image through Berth', async () => {
  const context = join(work, 'context');
  await mkdir(context);
  const content = randomBytes(64 * 1024);
  await writeFile(join(context, 'file'), content);
  await writeFile(join(context, 'Dockerfile'), `FROM scratch\nCOPY file /file\nLABEL org.opencontainers.image.source="${SOURCE}"\n`);
  const ref = `${berth.host}/acme/dockerapp:1`;

  // The classic builder: BuildKit would need its own daemon-side setup and is not what is under test.
  await docker(daemon, ['build', '-t', ref, context], { env: { DOCKER_BUILDKIT: '0' } });
  const built = await inspectImage(ref);

  const push = await docker(daemon, ['push', ref]);
  const digest = /digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(push.stdout)?.[1];
  assert.ok(digest, `no digest in docker push output:\n${push.stdout}`);

  // Berth has exactly that manifest, and it points at the image's config (the image id) and layers.
  const res = await berth.fetch(`/v2/acme/dockerapp/manifests/1`, { headers: { Accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('docker-content-digest'), digest);
  assert.equal(res.headers.get('content-type'), DOCKER_MANIFEST);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, digest);
  const manifest = JSON.parse(body.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  assert.equal(manifest.config.digest, built.Id);
  assert.equal(manifest.layers.length, 1);
  for (const blob of [manifest.config, ...manifest.layers]) {
    const head = await berth.fetch(`/v2/acme/dockerapp/blobs/${blob.digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200, `blob ${blob.digest}`);
  }

  await docker(daemon, ['rmi', ref]);
  await assert.rejects(docker(daemon, ['image', 'inspect', ref]), ClientError);

  const pull = await docker(daemon, ['pull', ref]);
  assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
  const pulled = await inspectImage(ref);
  assert.equal(pulled.Id, built.Id);
  assert.deepEqual(pulled.RepoDigests, [`${berth.host}/acme/dockerapp@${digest}`]);
  assert.equal(pulled.Config.Labels?.['org.opencontainers.image.source'], SOURCE);
  assert.deepEqual(pulled.RootFS.Layers, built.RootFS.Layers);

  // The layer unpacked to the very bytes that were built into it.
  const container = (await docker(daemon, ['create', ref, '/file'])).stdout.trim();
  try {
    const out = join(work, 'copied');
    await docker(daemon, ['cp', `${container}:/file`, out]);
    assert.deepEqual(await readFile(out), content);
  } finally {
    await docker(daemon, ['rm', container]);
  }
});

test('docker pulls the host platform out of a multi-arch OCI index pushed with skopeo', async () => {
  const layout = join(work, 'multi');
  const index = await writeIndexLayout(layout, {
    layers: [10_000, 20_000], tag: '1', labels: { 'org.opencontainers.image.source': SOURCE },
  });
  await skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/acme/multi:1`, ['--all'], { creds: `${berth.user}:${berth.token}` });
  const head = await berth.fetch(`/v2/acme/multi/manifests/1`, { method: 'HEAD', headers: { Accept: OCI_INDEX } });
  assert.equal(head.headers.get('docker-content-digest'), index.index.digest);

  const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  const image = index.images.find((img) => img.manifest.platform?.architecture === arch);
  assert.ok(image, `the index has a linux/${arch} image`);
  const ref = `${berth.host}/acme/multi:1`;
  const pull = await docker(daemon, ['pull', ref]);
  assert.match(pull.stdout, new RegExp(`Digest: ${index.index.digest}`));

  const pulled = await inspectImage(ref);
  assert.equal(pulled.Id, image.config.digest);
  assert.equal(pulled.Architecture, arch);
  assert.deepEqual(pulled.RootFS.Layers, image.layers.map((l) => l.diffId));
  assert.deepEqual(pulled.RepoDigests, [`${berth.host}/acme/multi@${index.index.digest}`]);
  assert.equal(pulled.Config.Labels?.['org.opencontainers.image.source'], SOURCE);
});
