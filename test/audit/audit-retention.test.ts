// audit.retention: records older than it are deleted by the scheduled job (under its lease), newer ones stay.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';

let berth: RunningBerth;

before(async () => {
  // 3 s: the job ticks every min(retention, 1 h), so it runs within the test.
  berth = await startBerth({ env: { BERTH_AUDIT_RETENTION: '3s' } });
});
after(() => berth.stop());

test('the audit-retention job deletes records past audit.retention and keeps newer ones', async () => {
  const now = Date.now();
  const insert = (action: string, at: number) => berth.query(
    'insert into audit_log (action, org_id, org_login, actor_id, actor_login, token_id, target, repository, before, after, address, user_agent, created_at) '
    + 'values (?, null, null, null, null, null, null, null, null, null, null, null, ?)', action, at);
  await insert('package.delete', now - 86_400_000);
  // Dated ahead, so it is newer than the retention whenever the job runs.
  await insert('package.restore', now + 3_600_000);
  const actions = async () => (await berth.query<{ action: string }>('select action from audit_log where action in (?, ?) order by id', 'package.delete', 'package.restore')).map((r) => r.action);
  assert.deepEqual(await actions(), ['package.delete', 'package.restore']);
  // Waits for the job (bounded, not timed: on a loaded machine it may take several ticks).
  for (let i = 0; i < 120 && (await actions()).includes('package.delete'); i++) await sleep(500);
  assert.deepEqual(await actions(), ['package.restore']);
});
