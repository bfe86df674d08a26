// Scheduled retention: with retention.interval set, the server applies saved rules by itself, under the
// `retention` job lease (one replica at a time), as soft deletes.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { pushImage, useAuthorization } from '../helpers/http.js';

let berth: RunningBerth;

before(async () => {
  berth = await startBerth({ env: { BERTH_RETENTION_INTERVAL: '1s' } });
  useAuthorization(berth.authorization);
});

after(async () => {
  useAuthorization(null);
  await berth?.stop();
});

test('a scheduled run deletes what the rules delete, holding the retention lease', async () => {
  const old = await pushImage(berth.url, 'acme/svc', 'old');
  const fresh = await pushImage(berth.url, 'acme/svc', 'fresh', 'latest');
  await berth.query('UPDATE manifests SET created_at = created_at - ? WHERE digest = ?', 30 * 86_400_000, old.digest);
  const res = await berth.fetch('/api/v3/berth/orgs/acme/retention', {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ delete_untagged_after: '7d' }),
  });
  assert.equal(res.status, 200);
  // Polled, not timed: a loaded machine may take a while to reach the next tick.
  let status = 200;
  for (let i = 0; i < 600 && status === 200; i++) {
    await sleep(100);
    status = (await berth.fetch(`/v2/acme/svc/manifests/${old.digest}`, { method: 'HEAD' })).status;
  }
  assert.equal(status, 404, 'the old untagged image was deleted by the scheduled run');
  assert.equal((await berth.fetch(`/v2/acme/svc/manifests/${fresh.digest}`, { method: 'HEAD' })).status, 200);
  const deleted = await berth.query<{ n: number }>('SELECT count(*) AS n FROM manifests WHERE deleted_at IS NOT NULL');
  assert.equal(Number(deleted[0]!.n), 1, 'a soft delete: the row stays, restorable');
  const lease = await berth.query<{ holder: string }>("SELECT holder FROM job_leases WHERE name = 'retention'");
  assert.equal(lease.length, 1, 'the run took the retention job lease');
});
