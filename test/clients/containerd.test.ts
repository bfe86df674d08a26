// containerd's ctr against a running Berth: pull (and unpack) what skopeo pushed, then tag and push it back.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { ctr, skopeoCopy, skopeoInspect } from '../helpers/clients.js';
import { startContainerd, type ContainerdDaemon } from '../helpers/daemons.js';
import { sha256File, writeImageLayout, writeIndexLayout, type BuiltImage, type BuiltIndex } from '../helpers/oci-image.js';

let berth: RunningBerth;
let containerd: ContainerdDaemon;
let work: string;
let app: BuiltImage;
let multi: BuiltIndex;
/** `tester:TOKEN` (owner of acme): skopeo's --creds and ctr's --user take the same form. */
let creds: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-ctr-test-'));
  // One after the other: if the second fails, the first is already assigned for after() to stop.
  berth = await startBerth();
  containerd = await startContainerd();
  app = await writeImageLayout(join(work, 'app'), { layers: [4096, 150_000], tag: '1.0' });
  multi = await writeIndexLayout(join(work, 'multi'), { layers: [3000], tag: '1' });
  creds = `${berth.user}:${berth.token}`;
  await skopeoCopy(`oci:${join(work, 'app')}:1.0`, `docker://${berth.host}/acme/app:1.0`, [], { creds });
  await skopeoCopy(`oci:${join(work, 'multi')}:1`, `docker://${berth.host}/acme/multi:1`, ['--all'], { creds });
});

after(async () => {
  await containerd?.stop();
  await berth?.stop();
  await rm(work, { recursive: true, force: true });
  if (berth) await rm(berth.dataDir, { recursive: true, force: true });
});

/** The digest `ctr image ls` shows for `ref`. */
async function imageDigest(ref: string): Promise<string | undefined> {
  const out = (await ctr(containerd, ['image', 'ls'])).stdout;
  const line = out.split('\n').find((l) => l.split(/\s+/)[0] === ref);
  return line?.split(/\s+/)[2];
}

test('ctr pulls an image over plain HTTP and unpacks the layers to the bytes that were pushed', async () => {
  const ref = `${berth.host}/acme/app:1.0`;
  // The native snapshotter (plain copies) unpacks anywhere, even where overlayfs cannot be mounted.
  const pull = await ctr(containerd, [
    'image', 'pull', '--plain-http', '--user', creds, '--snapshotter', 'native', '--platform', 'linux/amd64', '--print-chainid', ref,
  ]);
  assert.equal(await imageDigest(ref), app.manifest.digest);
  const content = (await ctr(containerd, ['content', 'ls'])).stdout;
  for (const blob of [app.manifest, app.config, ...app.layers]) {
    assert.match(content, new RegExp(`^${blob.digest}\\s`, 'm'), `content store has ${blob.digest}`);
  }

  // Mount-free look at the unpacked rootfs: a view of the top snapshot is a plain directory with the native driver.
  const chainId = /image chain ID: (sha256:[0-9a-f]{64})/.exec(pull.stdout)?.[1];
  assert.ok(chainId, `no chain id in:\n${pull.stdout}`);
  const mounts = JSON.parse((await ctr(containerd, ['snapshots', '--snapshotter', 'native', 'view', '--mounts', 'rootfs-view', chainId])).stdout) as {
    Source: string;
  }[];
  const rootfs = mounts[0]!.Source;
  for (const layer of app.layers) assert.equal(await sha256File(join(rootfs, layer.file.name)), layer.file.digest, layer.file.name);
});

test('ctr pulls a multi-arch index with --all-platforms', async () => {
  const ref = `${berth.host}/acme/multi:1`;
  await ctr(containerd, ['image', 'pull', '--plain-http', '--user', creds, '--snapshotter', 'native', '--all-platforms', ref]);
  assert.equal(await imageDigest(ref), multi.index.digest);
  for (const image of multi.images) {
    const manifest = await ctr(containerd, ['content', 'get', image.manifest.digest]);
    assert.equal(manifest.stdout, image.manifestBytes.toString('utf8'));
    const config = await ctr(containerd, ['content', 'get', image.config.digest]);
    assert.equal(config.stdout, image.configBytes.toString('utf8'));
  }
});

test('ctr tags and pushes an image to a new repository, and skopeo reads the same manifest from it', async () => {
  const source = `${berth.host}/acme/app:1.0`;
  const target = `${berth.host}/acme/ctrpushed:1`;
  await ctr(containerd, ['image', 'pull', '--plain-http', '--user', creds, '--snapshotter', 'native', '--platform', 'linux/amd64', source]);
  await ctr(containerd, ['image', 'tag', source, target]);
  await ctr(containerd, ['image', 'push', '--plain-http', '--user', creds, target]);

  assert.equal(await skopeoInspect(`docker://${target}`, { raw: true, creds }), app.manifestBytes.toString('utf8'));
  for (const blob of [app.config, ...app.layers]) {
    const head = await berth.fetch(`/v2/acme/ctrpushed/blobs/${blob.digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200, `blob ${blob.digest} in acme/ctrpushed`);
  }
});

test('ctr pushes a whole multi-arch index, byte for byte', async () => {
  const source = `${berth.host}/acme/multi:1`;
  const target = `${berth.host}/acme/ctrmulti:1`;
  await ctr(containerd, ['image', 'pull', '--plain-http', '--user', creds, '--snapshotter', 'native', '--all-platforms', source]);
  await ctr(containerd, ['image', 'tag', source, target]);
  await ctr(containerd, ['image', 'push', '--plain-http', '--user', creds, target]);

  assert.equal(await skopeoInspect(`docker://${target}`, { raw: true, creds }), multi.indexBytes.toString('utf8'));
  for (const image of multi.images) {
    assert.equal(await skopeoInspect(`docker://${berth.host}/acme/ctrmulti@${image.manifest.digest}`, { raw: true, creds }), image.manifestBytes.toString('utf8'));
  }
});
