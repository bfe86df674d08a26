// The Docker engine against an immutable tag: `docker push` of another digest under it fails and prints the rule.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { ClientError, docker, dockerLogin, skopeoCopy } from '../helpers/clients.js';
import { startDocker, type DockerDaemon } from '../helpers/daemons.js';
import { writeImageLayout } from '../helpers/oci-image.js';

let berth: RunningBerth;
let daemon: DockerDaemon;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-immutable-docker-'));
  berth = await startBerth();
  daemon = await startDocker();
  await dockerLogin(daemon, berth.host, berth.user, berth.token);
  const creds = `${berth.user}:${berth.token}`;
  for (const [name, tag] of [['a', 'v1.2.0'], ['b', 'other']] as const) {
    await writeImageLayout(join(work, name), { layers: [1024], tag: 'x' });
    await skopeoCopy(`oci:${join(work, name)}:x`, `docker://${berth.host}/acme/api:${tag}`, [], { creds });
  }
  const res = await berth.fetch('/api/v3/berth/orgs/acme/immutable-tags', {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ patterns: ['v*'], exclude: ['latest'] }),
  });
  assert.equal(res.status, 200);
});

after(async () => {
  await daemon?.stop();
  await berth?.stop();
  await rm(work, { recursive: true, force: true });
});

test('docker push of another image under an immutable tag is refused with the rule; the same image pushes again', async () => {
  const ref = (tag: string): string => `${berth.host}/acme/api:${tag}`;
  await docker(daemon, ['pull', ref('other')]);
  // Docker pushes its own (schema 2) manifest: a new digest for v3.0.0 the first time, the same one on a retry.
  await docker(daemon, ['tag', ref('other'), ref('v3.0.0')]);
  await docker(daemon, ['push', ref('v3.0.0')]);
  await docker(daemon, ['push', ref('v3.0.0')]);
  await docker(daemon, ['tag', ref('other'), ref('v1.2.0')]);
  const err = await docker(daemon, ['push', ref('v1.2.0')]).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ClientError, 'docker push should fail');
  const out = err.stdout + err.stderr;
  assert.ok(out.includes('tag v1.2.0 is immutable in acme/api (rule v*): push a new tag'), out);
  await docker(daemon, ['tag', ref('other'), ref('latest')]);
  await docker(daemon, ['push', ref('latest')]);
});
