// A real retention run racing a push on PostgreSQL: the run plans outside its transaction, then locks the
// repository row as a push does. A push that lands in between (here: a tag put on a version the plan deletes, the
// repository's updated_at moved, all under the row lock the test holds) makes the run plan again under the lock,
// so the newly tagged version is kept. The interleaving is forced (test/helpers/pg-locks.ts), not hoped for.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startBerth, testBackend, type RunningBerth } from '../helpers/berth.js';
import { pushImage, useAuthorization } from '../helpers/http.js';
import { holdLocks, lockWaiters, until } from '../helpers/pg-locks.js';

const skip = testBackend() === 'sqlite-fs' ? 'SQLite runs one transaction at a time: the interleaving needs PostgreSQL' : false;
let berth: RunningBerth;

before(async () => {
  if (skip) return;
  berth = await startBerth({ env: { BERTH_RETENTION_INTERVAL: '0' } });
  useAuthorization(berth.authorization);
});
after(async () => {
  useAuthorization(null);
  if (!skip) await berth.stop();
});

test('a tag pushed between the plan and the deletes keeps its version', { skip }, async () => {
  const doomed = await pushImage(berth.url, 'acme/racy', 'doomed');
  const other = await pushImage(berth.url, 'acme/racy', 'other');
  await pushImage(berth.url, 'acme/racy', 'newest', 'latest');
  await berth.query('UPDATE manifests SET created_at = created_at - ? WHERE digest IN (?, ?)', 30 * 86_400_000, doomed.digest, other.digest);
  const set = await berth.fetch('/api/v3/berth/packages/acme/racy/retention', {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ delete_untagged_after: '7d' }),
  });
  assert.equal(set.status, 200);

  const [repo] = await berth.query<{ id: number }>("SELECT id FROM repositories WHERE name = 'acme/racy'");
  const holder = await holdLocks(berth.metadataUrl, (c) => c.query('SELECT id FROM repositories WHERE id = $1 FOR UPDATE', [repo!.id]));
  let run: Promise<Response> | undefined;
  try {
    run = berth.fetch('/api/v3/berth/packages/acme/racy/retention/runs?dry_run=false', { method: 'POST' });
    await until('the run to wait for the repository row', async () => (await lockWaiters(berth.metadataUrl)) >= 1, 60_000);
    // What a manifest push of `doomed` under a new tag does under the same lock.
    await holder.query("INSERT INTO tags (repository_id, name, manifest_id, updated_at) SELECT $1, 'rescued', id, 1 FROM manifests WHERE digest = $2", [repo!.id, doomed.digest]);
    await holder.query('UPDATE repositories SET updated_at = updated_at + 1 WHERE id = $1', [repo!.id]);
  } finally {
    await holder.release();
  }
  const res = await run!;
  assert.equal(res.status, 201);
  const body = await res.json() as { packages: { versions: { digest: string; decision: string }[] }[] };
  const decisions = Object.fromEntries(body.packages[0]!.versions.map((v) => [v.digest, v.decision]));
  assert.equal(decisions[doomed.digest], 'keep');
  assert.equal(decisions[other.digest], 'delete');
  assert.equal((await berth.fetch('/v2/acme/racy/manifests/rescued', { method: 'HEAD' })).status, 200);
  assert.equal((await berth.fetch(`/v2/acme/racy/manifests/${other.digest}`, { method: 'HEAD' })).status, 404);
});
