// containerd's hosts.toml mirror configuration (the README's snippets): docker.io names through Berth as the default
// mirror, and another registry's names through a mirror namespace with override_path.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { ctr, skopeoCopy } from '../helpers/clients.js';
import { startContainerd, type ContainerdDaemon } from '../helpers/daemons.js';
import { writeImageLayout, type BuiltImage } from '../helpers/oci-image.js';
import { startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.js';

let upstream: UpstreamRegistry;
let berth: RunningBerth;
let containerd: ContainerdDaemon;
let work: string;
let hostsDir: string;
let image: BuiltImage;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-mirror-ctr-'));
  upstream = await startUpstreamRegistry();
  const env: Record<string, string> = { BERTH_MIRROR_ACCESS: 'public', BERTH_MIRROR_UPSTREAMS_HUB_DEFAULT: 'true' };
  // The CNCF registry plays both Docker Hub (default mirror) and a second registry (namespace `other`).
  for (const ns of ['HUB', 'OTHER']) {
    Object.assign(env, {
      [`BERTH_MIRROR_UPSTREAMS_${ns}_URL`]: upstream.url,
      [`BERTH_MIRROR_UPSTREAMS_${ns}_USERNAME`]: upstream.username,
      [`BERTH_MIRROR_UPSTREAMS_${ns}_PASSWORD`]: upstream.password,
    });
  }
  berth = await startBerth({ env });
  containerd = await startContainerd();
  image = await writeImageLayout(join(work, 'layout'), { layers: [30_000], tag: '1' });
  await skopeoCopy(`oci:${join(work, 'layout')}:1`, `docker://${upstream.host}/library/ctrtest:1`, [], { creds: upstream.creds });
  hostsDir = join(work, 'certs.d');
  for (const [registry, server, host] of [
    ['docker.io', 'https://registry-1.docker.io', `[host."${berth.url}"]\n  capabilities = ["pull", "resolve"]\n`],
    ['ghcr.io', 'https://ghcr.io', `[host."${berth.url}/v2/other"]\n  capabilities = ["pull", "resolve"]\n  override_path = true\n`],
  ] as const) {
    mkdirSync(join(hostsDir, registry), { recursive: true });
    writeFileSync(join(hostsDir, registry, 'hosts.toml'), `server = "${server}"\n${host}`);
  }
});

after(async () => {
  await containerd?.stop();
  await berth?.stop();
  await upstream?.stop();
  await rm(work, { recursive: true, force: true });
});

async function pull(ref: string): Promise<string | undefined> {
  await ctr(containerd, ['image', 'pull', '--hosts-dir', hostsDir, '--snapshotter', 'native', '--platform', 'linux/amd64', ref]);
  const out = (await ctr(containerd, ['image', 'ls'])).stdout;
  return out.split('\n').find((l) => l.split(/\s+/)[0] === ref)?.split(/\s+/)[2];
}

test('ctr pulls docker.io/library/… through Berth as the default mirror', async () => {
  assert.equal(await pull('docker.io/library/ctrtest:1'), image.manifest.digest);
  assert.equal((await berth.query('select id from repositories where name = ?', 'hub/library/ctrtest')).length, 1);
});

test('ctr pulls another registry\'s names through a mirror namespace with override_path', async () => {
  assert.equal(await pull('ghcr.io/library/ctrtest:1'), image.manifest.digest);
  assert.equal((await berth.query('select id from repositories where name = ?', 'other/library/ctrtest')).length, 1);
});
