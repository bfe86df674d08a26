// GC's link removal against a manifest push on PostgreSQL (READ COMMITTED): the push checks its blob links, GC
// deletes a link no committed manifest references yet, the push commits a manifest whose blob is gone. Both take
// the repository row lock first, so they serialise. The interleaving is forced, not hoped for: the test holds the
// repository row lock itself while the push and GC start, then lets go.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startBerth, testBackend, type RunningBerth } from '../helpers/berth.js';
import { MEDIA, pushBlob, registryFetch, sha256, useAuthorization } from '../helpers/http.js';
import { holdLocks, lockWaiters as waitingForLocks, until } from '../helpers/pg-locks.js';

const skip = testBackend() === 'sqlite-fs' ? 'SQLite runs one transaction at a time: the interleaving needs PostgreSQL' : false;
let berth: RunningBerth;

before(async () => {
  if (skip) return;
  berth = await startBerth();
  useAuthorization(berth.authorization);
});
after(async () => { if (!skip) await berth.stop(); });

const lockWaiters = (): Promise<number> => waitingForLocks(berth.metadataUrl);

test('a manifest push and gc removing its (old) blob links serialise: the pushed image stays complete', { skip }, async () => {
  const name = 'acme/gc-manifest-race';
  const layer = randomBytes(8192);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const blobs = [await pushBlob(berth.url, name, config), await pushBlob(berth.url, name, layer)];
  // Uploaded long ago and never referenced: exactly what gc (grace 0) removes.
  await berth.query('update repository_blobs set created_at = 0');
  const [repo] = await berth.query<{ id: number }>('select id from repositories where name = ?', name);

  const holder = await holdLocks(berth.metadataUrl, (c) => c.query('select id from repositories where id = $1 for update', [repo!.id]));
  let put: Promise<Response> | undefined;
  let gc: Promise<unknown> | undefined;
  try {

    const manifest = {
      schemaVersion: 2, mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: blobs[0], size: config.length },
      layers: [{ mediaType: MEDIA.ociLayer, digest: blobs[1], size: layer.length }],
    };
    put = registryFetch(`${berth.url}/v2/${name}/manifests/v1`, {
      method: 'PUT', headers: { 'content-type': MEDIA.ociManifest }, body: JSON.stringify(manifest),
    });
    await until('the push to wait for the repository row', async () => (await lockWaiters()) >= 1);
    gc = berth.admin((s) => s.gc.run({ dryRun: false, graceMs: 0 }));
    // Fixed: gc waits for the row too. Unfixed: gc does not wait; it unlinks and deletes the blobs at once.
    let gcDone = false;
    void gc.then(() => { gcDone = true; }, () => { gcDone = true; });
    await until('gc to wait for the repository row or finish', async () => gcDone || (await lockWaiters()) >= 2);
  } finally {
    await holder.release();
  }
  const res = await put!;
  assert.equal(res.status, 201, await res.text());
  await gc;

  for (const digest of blobs) {
    const blob = await registryFetch(`${berth.url}/v2/${name}/blobs/${digest}`);
    assert.equal(blob.status, 200, `blob ${digest} of the pushed manifest is still there`);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), digest);
  }
  const links = await berth.query<{ n: number }>('select count(*) as n from repository_blobs where repository_id = ?', repo!.id);
  assert.equal(Number(links[0]!.n), 2, 'both links kept: the manifest references them');
});
