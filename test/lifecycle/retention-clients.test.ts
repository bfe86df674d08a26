// After a real retention run, the kept multi-arch image still pulls with docker and with containerd's ctr (every
// platform): the run deleted an older image beside it, never a platform manifest or blob of the kept one.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { ctr, docker, dockerLogin, skopeoCopy } from '../helpers/clients.js';
import { startContainerd, startDocker, type ContainerdDaemon, type DockerDaemon } from '../helpers/daemons.js';
import { writeIndexLayout, type BuiltIndex } from '../helpers/oci-image.js';

let berth: RunningBerth;
let daemon: DockerDaemon;
let containerd: ContainerdDaemon;
let work: string;
let creds: string;
let kept: BuiltIndex;
let old: BuiltIndex;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-retention-clients-'));
  berth = await startBerth({ env: { BERTH_RETENTION_INTERVAL: '0' } });
  daemon = await startDocker();
  containerd = await startContainerd();
  await dockerLogin(daemon, berth.host, berth.user, berth.token);
  creds = `${berth.user}:${berth.token}`;
  old = await writeIndexLayout(join(work, 'old'), { layers: [2048], tag: 'x' });
  kept = await writeIndexLayout(join(work, 'kept'), { layers: [2048], tag: 'x' });
  await skopeoCopy(`oci:${join(work, 'old')}:x`, `docker://${berth.host}/acme/tool:0.9`, ['--all'], { creds });
  await skopeoCopy(`oci:${join(work, 'kept')}:x`, `docker://${berth.host}/acme/tool:1.0`, ['--all'], { creds });
  for (const d of [old.index.digest, ...old.images.map((i) => i.manifest.digest)]) {
    await berth.query('UPDATE manifests SET created_at = created_at - ? WHERE digest = ?', 30 * 86_400_000, d);
  }
});

after(async () => {
  await containerd?.stop();
  await daemon?.stop();
  await berth?.stop();
  await rm(work, { recursive: true, force: true });
});

test('a kept multi-arch image pulls with docker and ctr after a run deleted its older sibling', async () => {
  const set = await berth.fetch('/api/v3/berth/packages/acme/tool/retention', {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keep_most_recent: 1, delete_not_pulled_for: '7d' }),
  });
  assert.equal(set.status, 200);
  const run = await berth.fetch('/api/v3/berth/packages/acme/tool/retention/runs?dry_run=false', { method: 'POST' });
  assert.equal(run.status, 201);
  const body = await run.json() as { packages: { deleted: number }[] };
  assert.equal(body.packages[0]!.deleted, 3, 'the old index and its two platform manifests');
  assert.equal((await berth.fetch('/v2/acme/tool/manifests/0.9', { method: 'HEAD' })).status, 404);

  const ref = `${berth.host}/acme/tool:1.0`;
  await docker(daemon, ['pull', ref]);
  const inspected = JSON.parse((await docker(daemon, ['image', 'inspect', ref])).stdout) as { RepoDigests: string[] }[];
  assert.ok(inspected[0]!.RepoDigests.includes(`${berth.host}/acme/tool@${kept.index.digest}`), inspected[0]!.RepoDigests.join(', '));
  await ctr(containerd, ['image', 'pull', '--plain-http', '--user', creds, '--all-platforms', ref]);
  const content = (await ctr(containerd, ['content', 'ls'])).stdout;
  for (const img of kept.images) {
    for (const blob of [img.manifest, img.config, ...img.layers]) assert.match(content, new RegExp(`^${blob.digest}\\s`, 'm'), `ctr fetched ${blob.digest}`);
  }
});
