// podman against a running Berth: pull what skopeo pushed, push it under a new name, read that back with skopeo.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { createPodman, skopeoCopy, skopeoInspect, type Podman } from '../helpers/clients.js';
import { writeImageLayout, type BuiltImage } from '../helpers/oci-image.js';

const SOURCE = 'https://github.com/acme/app';
let berth: RunningBerth;
let podman: Podman;
let work: string;
let app: BuiltImage;
/** `tester:TOKEN` (owner of acme) for skopeo; podman itself logs in with `podman login`. */
let creds: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-podman-test-'));
  podman = createPodman();
  berth = await startBerth();
  app = await writeImageLayout(join(work, 'app'), { layers: [2048, 200_000], tag: '1.0', labels: { 'org.opencontainers.image.source': SOURCE } });
  creds = `${berth.user}:${berth.token}`;
  await skopeoCopy(`oci:${join(work, 'app')}:1.0`, `docker://${berth.host}/acme/app:1.0`, [], { creds });
  // As a user would: the token through stdin, stored in podman's (temp) auth.json for every later pull and push.
  await podman.login(berth.host, berth.user, berth.token);
});

after(async () => {
  await berth?.stop();
  await podman?.cleanup();
  await rm(work, { recursive: true, force: true });
  if (berth) await rm(berth.dataDir, { recursive: true, force: true });
});

interface PodmanImage {
  Id: string;
  Digest: string;
  RepoDigests: string[];
  Labels: Record<string, string> | null;
  RootFS: { Layers: string[] };
}

async function inspect(ref: string): Promise<PodmanImage> {
  return (JSON.parse((await podman.run(['image', 'inspect', ref])).stdout) as PodmanImage[])[0]!;
}

test('podman pulls an image that skopeo pushed, with the same digests', async () => {
  const ref = `${berth.host}/acme/app:1.0`;
  const pull = await podman.pull(ref);
  // podman prints the image id, which is the config digest's hex.
  assert.equal(pull.stdout.trim(), app.config.digest.slice('sha256:'.length));
  const image = await inspect(ref);
  assert.equal(image.Digest, app.manifest.digest);
  assert.ok(image.RepoDigests.includes(`${berth.host}/acme/app@${app.manifest.digest}`), image.RepoDigests.join(', '));
  assert.deepEqual(image.RootFS.Layers, app.layers.map((l) => l.diffId));
  assert.equal(image.Labels?.['org.opencontainers.image.source'], SOURCE);
});

test('podman pushes to a new repository and skopeo reads the same image from it', async () => {
  const local = `${berth.host}/acme/app:1.0`;
  await podman.pull(local);
  await podman.push(local, `docker://${berth.host}/acme/podpushed:1`);

  // podman may recompress or rewrite the manifest, but the config (and so the image id and diff_ids) is unchanged.
  const config = await skopeoInspect(`docker://${berth.host}/acme/podpushed:1`, { raw: true, config: true, creds });
  assert.equal(config, app.configBytes.toString('utf8'));
  const info = JSON.parse(await skopeoInspect(`docker://${berth.host}/acme/podpushed:1`, { creds })) as { Labels: Record<string, string>; Layers: string[] };
  assert.equal(info.Labels['org.opencontainers.image.source'], SOURCE);
  assert.equal(info.Layers.length, app.layers.length);
  for (const layer of info.Layers) {
    const head = await berth.fetch(`/v2/acme/podpushed/blobs/${layer}`, { method: 'HEAD' });
    assert.equal(head.status, 200, `layer ${layer} readable in acme/podpushed`);
  }

  // And what podman pushed pulls back completely (every blob present and matching its digest).
  await skopeoCopy(`docker://${berth.host}/acme/podpushed:1`, `oci:${join(work, 'podpushed')}:1`, [], { creds });
});
