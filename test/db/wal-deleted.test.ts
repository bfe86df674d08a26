// The embedded database's write-ahead log deleted under a running server (an operator "cleaning up" *.wal), then
// the process killed: every push acknowledged before or after the deletion is still there after a restart. SQLite
// alone keeps writing into the unlinked log and a kill loses all of it; Berth notices, checkpoints what that log
// holds into the database and starts a new one, and says so in its log.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { skopeoCopy } from '../helpers/clients.js';
import { summarize, summarizeLayout, writeImageLayout, type BuiltImage } from '../helpers/oci-image.js';

const work = mkdtempSync(join(tmpdir(), 'berth-wal-'));
let berth: RunningBerth;
let creds: string;
after(async () => {
  await berth?.stop();
  rmSync(work, { recursive: true, force: true });
});
before(async () => {
  berth = await startBerth({ backend: 'sqlite-fs', env: { BERTH_LOG_LEVEL: 'info' } });
  creds = `${berth.user}:${berth.token}`;
});

async function push(name: string): Promise<BuiltImage> {
  const image = await writeImageLayout(join(work, name), { layers: [50_000, 1000] });
  await skopeoCopy(`oci:${join(work, name)}`, `docker://${berth.host}/acme/${name}:1`, [], { creds });
  return image;
}

async function assertPullable(name: string, image: BuiltImage): Promise<void> {
  const dir = join(work, `${name}-back-${Date.now()}`);
  await skopeoCopy(`docker://${berth.host}/acme/${name}:1`, `oci:${dir}`, [], { creds });
  assert.deepEqual(await summarizeLayout(dir), summarize(image), `${name} after the restart`);
}

/** How many times the server has reported a lost log so far (waits for at least `atLeast`). */
async function recoveries(atLeast: number): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const n = berth.logLines().filter((l) => l.level === 50 && String(l.msg).includes('write-ahead log was deleted')).length;
    if (n >= atLeast || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const wal = (): string => join(berth.dataDir, 'berth.db-wal');
const shm = (): string => join(berth.dataDir, 'berth.db-shm');

test('pushes acknowledged before and after the -wal file was deleted survive a SIGKILL', async () => {
  const first = await push('before-delete');
  rmSync(wal());
  const second = await push('after-delete');
  assert.equal(await recoveries(1), 1, `the server logs what happened:\n${berth.serverLog()}`);
  assert.ok(existsSync(wal()), 'a new log file in place of the deleted one');

  await berth.kill();
  await berth.restart();
  await assertPullable('before-delete', first);
  await assertPullable('after-delete', second);
});

test('an idle server notices the deleted -wal and -shm within seconds, so a push just before is not lost either', async () => {
  const before = await recoveries(0);
  const image = await push('idle');
  rmSync(wal());
  rmSync(shm());
  // No write follows: the periodic check has to find it.
  assert.equal(await recoveries(before + 1), before + 1, berth.serverLog());
  await berth.kill();
  await berth.restart();
  await assertPullable('idle', image);
});
