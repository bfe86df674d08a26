// dockerd configured with `registry-mirrors` pointing at Berth pulls Docker Hub style names (`library/…`) through the
// default mirror; the CNCF registry stands in for Docker Hub on loopback.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { docker, skopeoCopy } from '../helpers/clients.js';
import { startDocker, type DockerDaemon } from '../helpers/daemons.js';
import { writeImageLayout } from '../helpers/oci-image.js';
import { startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.js';

let upstream: UpstreamRegistry;
let berth: RunningBerth;
let daemon: DockerDaemon;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-mirror-docker-'));
  upstream = await startUpstreamRegistry();
  berth = await startBerth({
    env: {
      BERTH_MIRROR_UPSTREAMS_HUB_URL: upstream.url,
      BERTH_MIRROR_UPSTREAMS_HUB_USERNAME: upstream.username,
      BERTH_MIRROR_UPSTREAMS_HUB_PASSWORD: upstream.password,
      BERTH_MIRROR_UPSTREAMS_HUB_DEFAULT: 'true',
      // A node-wide mirror: the daemon pulls without credentials for it.
      BERTH_MIRROR_ACCESS: 'public',
    },
  });
  // Docker trusts plain HTTP on 127.0.0.0/8, mirrors included.
  daemon = await startDocker({ daemonConfig: { 'registry-mirrors': [berth.url] } });
});

after(async () => {
  await daemon?.stop();
  await berth?.stop();
  await upstream?.stop();
  await rm(work, { recursive: true, force: true });
});

test('docker pull of a Docker Hub name goes through the registry mirror and lands in the default mirror\'s namespace', async () => {
  const layout = join(work, 'image');
  const built = await writeImageLayout(layout, { layers: [40_000, 2000], tag: '1' });
  await skopeoCopy(`oci:${layout}:1`, `docker://${upstream.host}/library/mirrortest:1`, [], { creds: upstream.creds });

  await docker(daemon, ['pull', 'mirrortest:1']);
  const [image] = JSON.parse((await docker(daemon, ['image', 'inspect', 'mirrortest:1'])).stdout) as { RepoDigests: string[] }[];
  assert.ok(image!.RepoDigests.includes(`mirrortest@${built.manifest.digest}`), `RepoDigests ${image!.RepoDigests.join(', ')}`);
  // The requests reached Berth (docker has no other way to the "Hub" here), and Berth fetched each blob once.
  for (const blob of [built.config, ...built.layers]) assert.equal(upstream.served('GET', `/v2/library/mirrortest/blobs/${blob.digest}`), 1);
  const cached = await berth.query<{ name: string }>('select name from repositories where name = ?', 'hub/library/mirrortest');
  assert.equal(cached.length, 1);

  // The namespace form pulls the same cached image, without asking the upstream for blobs again.
  await docker(daemon, ['pull', `${berth.host}/hub/library/mirrortest:1`]);
  for (const blob of built.layers) assert.equal(upstream.served('GET', `/v2/library/mirrortest/blobs/${blob.digest}`), 1);
});
