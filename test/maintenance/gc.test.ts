// berth gc: frees exactly the blobs nothing references, dry run first, and never what a concurrent push needs.
import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import type { Digest } from '../../src/oci/digest.js';
import { MEDIA, pushBlob, pushManifest, registryFetch, sha256, useAuthorization } from '../helpers/http.js';

const ROOT = new URL('../..', import.meta.url).pathname;
let berth: RunningBerth;

before(async () => {
  berth = await startBerth();
  useAuthorization(berth.authorization);
});
after(async () => berth.stop());

function gc(...args: string[]): string {
  const r = spawnSync(process.execPath, [builtCli(), 'gc', '--data', berth.dataDir, ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...berth.metadataEnv },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Whether the server's blob store (directory or bucket) holds the bytes of `digest`. */
async function stored(digest: string): Promise<boolean> {
  return (await (await berth.blobStore()).stat(digest as Digest)) !== null;
}

async function pushImage(name: string, layers: Buffer[]): Promise<{ digest: string; blobs: string[] }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, name }));
  const configDigest = await pushBlob(berth.url, name, config);
  const layerDigests: string[] = [];
  for (const l of layers) layerDigests.push(await pushBlob(berth.url, name, l));
  const manifest = {
    schemaVersion: 2, mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: config.length },
    layers: layers.map((l, i) => ({ mediaType: MEDIA.ociLayer, digest: layerDigests[i]!, size: l.length })),
  };
  const pushed = await pushManifest(berth.url, name, 'v1', manifest, MEDIA.ociManifest);
  return { digest: pushed.digest, blobs: [configDigest, ...layerDigests] };
}

test('gc frees exactly the blobs no manifest references; dry run first; shared and referenced blobs stay', async () => {
  const shared = randomBytes(3000);
  const onlyA = randomBytes(5000);
  const a = await pushImage('acme/gc-a', [shared, onlyA]);
  const b = await pushImage('acme/gc-b', [shared, randomBytes(7000)]);
  assert.equal((await registryFetch(`${berth.url}/v2/acme/gc-a/manifests/${a.digest}`, { method: 'DELETE' })).status, 202);

  const young = gc('--delete');
  assert.match(young, /blobs no repository uses: deleted 0/, 'the default grace period spares fresh links');

  const plan = gc('--grace', '0s');
  assert.match(plan, /unreferenced links: would delete 3/);
  const configA = a.blobs[0]!;
  const configSize = Number((await registryFetch(`${berth.url}/v2/acme/gc-a/blobs/${configA}`, { method: 'HEAD' })).headers.get('content-length'));
  const expectedBytes = onlyA.length + configSize;
  assert.match(plan, new RegExp(`blobs no repository uses: would delete 2 \\(${(expectedBytes / 1e6).toFixed(1)} MB\\)`));
  assert.match(plan, /dry run: nothing was changed/);
  for (const d of a.blobs) assert.ok(await stored(d), 'a dry run deletes nothing');

  const done = gc('--delete', '--grace', '0s');
  assert.match(done, /unreferenced links: deleted 3/);
  assert.match(done, /blobs no repository uses: deleted 2/);
  assert.ok(!(await stored(configA)));
  assert.ok(!(await stored(sha256(onlyA))));
  assert.ok(await stored(sha256(shared)), 'a layer image B still uses stays');
  for (const d of b.blobs) {
    const res = await registryFetch(`${berth.url}/v2/acme/gc-b/blobs/${d}`);
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), d);
  }
  assert.equal((await registryFetch(`${berth.url}/v2/acme/gc-b/manifests/v1`)).status, 200);
  assert.match(gc('--grace', '0s'), /would delete 0 \(0\.0 MB\)/, 'nothing left to collect');
});

test('a blob re-pushed while gc deletes it is never lost', async () => {
  const data = randomBytes(64 * 1024);
  const digest = sha256(data);
  let stop = false;
  let runs = 0;
  // GC in this process, against the server's database and files, as an operator's `berth gc --delete` would.
  const collector = (async () => {
    while (!stop) {
      await berth.admin((s) => s.gc.run({ dryRun: false, graceMs: 3_600_000 }));
      runs++;
    }
  })();
  try {
    for (let i = 0; i < 25; i++) {
      // Push, check it is readable (the push was acknowledged), then unlink it so gc wants it again.
      assert.equal(await pushBlob(berth.url, 'acme/gc-race', data), digest);
      const res = await registryFetch(`${berth.url}/v2/acme/gc-race/blobs/${digest}`);
      assert.equal(res.status, 200, `round ${i}`);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest, `round ${i}: bytes intact`);
      assert.ok(await stored(digest), `round ${i}: file present`);
      assert.equal((await registryFetch(`${berth.url}/v2/acme/gc-race/blobs/${digest}`, { method: 'DELETE' })).status, 202);
    }
  } finally {
    stop = true;
    await collector;
  }
  assert.ok(runs > 3, `gc ran concurrently (${runs} runs)`);
});
