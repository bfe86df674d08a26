// Job leases: cluster-wide background jobs run on one replica at a time, on SQLite and on PostgreSQL. Each
// "replica" here is its own database connection (pool) and scheduler on one shared database, as two processes are.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { connect, type Connection } from '../../src/db/connect.js';
import { migrate } from '../../src/db/migrate.js';
import { JobLeases } from '../../src/maintenance/job-leases.js';
import { Scheduler } from '../../src/maintenance/scheduler.js';
import { createLogger } from '../../src/observability/logger.js';
import { systemClock } from '../../src/util/clock.js';
import { createDatabase, postgresBinDir } from '../helpers/postgres.js';

const noPostgres = postgresBinDir() === null && !process.env.BERTH_TEST_PG_ADMIN_URL
  ? 'PostgreSQL is not installed: run scripts/install-test-deps.sh' : false;
const log = createLogger('silent');
const tmp = mkdtempSync(join(tmpdir(), 'berth-leases-'));
const opened: Connection[] = [];
// The scheduler's timers are unref'd (they never keep a server alive); this keeps the test process up meanwhile.
const keepAlive = setInterval(() => {}, 1_000);
after(async () => {
  clearInterval(keepAlive);
  await Promise.all(opened.map((c) => c.close()));
  rmSync(tmp, { recursive: true, force: true });
});

/** Two connections to one fresh, migrated database of the dialect. */
async function twoReplicas(dialect: 'sqlite' | 'postgres'): Promise<[Connection, Connection]> {
  const url = dialect === 'postgres' ? await createDatabase() : `sqlite:${join(tmp, `${Math.random().toString(36).slice(2)}.db`)}`;
  const a = connect(url);
  opened.push(a);
  await migrate(a);
  const b = connect(url);
  opened.push(b);
  return [a, b];
}

const leasesOf = (c: Connection): JobLeases => new JobLeases({ db: c.db, dialect: c.dialect, clock: systemClock });

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`job leases on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('one holder at a time: taken, renewed, refused to others, expired, released', async () => {
      const [ca, cb] = await twoReplicas(dialect);
      const [a, b] = [leasesOf(ca), leasesOf(cb)];
      assert.notEqual(a.holder, b.holder, 'random replica ids');
      assert.equal(await a.acquire('purge', 60_000), true);
      assert.equal(await b.acquire('purge', 60_000), false, 'held by A');
      assert.equal(await a.acquire('purge', 60_000), true, 'the holder may take it again');
      assert.equal(await a.renew('purge', 60_000), true);
      assert.equal(await b.renew('purge', 60_000), false, 'B cannot renew what it does not hold');
      assert.equal(await b.acquire('other-job', 60_000), true, 'leases are per job');

      await a.release('purge');
      assert.equal(await a.get('purge'), null);
      assert.equal(await b.acquire('purge', 150), true, 'released: B takes it');
      await sleep(250);
      assert.equal(await a.acquire('purge', 60_000), true, 'expired: A takes it back');
      assert.equal(await b.renew('purge', 60_000), false, 'B has lost it');
      assert.equal((await a.get('purge'))?.holder, a.holder);

      await a.release('purge', 60_000);
      assert.equal(await b.acquire('purge', 60_000), false, 'released with a hold: still A\'s until the next run is due');
      await a.releaseAll();
      assert.equal(await b.acquire('purge', 60_000), true, 'releaseAll frees it');
    });

    it('replicas racing for the same lease: exactly one wins each round', async () => {
      const [ca, cb] = await twoReplicas(dialect);
      const [a, b] = [leasesOf(ca), leasesOf(cb)];
      for (let round = 0; round < 30; round++) {
        const name = `race-${round}`;
        const won = await Promise.all([a.acquire(name, 60_000), b.acquire(name, 60_000), a.acquire(name, 60_000), b.acquire(name, 60_000)]);
        const winners = new Set([won[0] || won[2] ? 'a' : null, won[1] || won[3] ? 'b' : null].filter(Boolean));
        assert.equal(winners.size, 1, `round ${round}: ${JSON.stringify(won)}`);
      }
    });

    it('two schedulers on one database never run a leased job at the same time; the other takes over on stop', async () => {
      const [ca, cb] = await twoReplicas(dialect);
      let running = 0;
      let overlaps = 0;
      const runs = { a: 0, b: 0 };
      const job = (who: 'a' | 'b') => async (): Promise<void> => {
        running++;
        if (running > 1) overlaps++;
        runs[who]++;
        await sleep(Math.random() * 25);
        running--;
      };
      const timing = { ttlMs: 2_000, renewEveryMs: 50 };
      const a = new Scheduler({ log, leases: leasesOf(ca), leaseTiming: timing });
      const b = new Scheduler({ log, leases: leasesOf(cb), leaseTiming: timing });
      a.every({ name: 'purge-uploads', everyMs: 10, run: job('a'), lease: true });
      b.every({ name: 'purge-uploads', everyMs: 10, run: job('b'), lease: true });
      await sleep(1_500);
      assert.equal(overlaps, 0, `runs overlapped ${overlaps} times (${JSON.stringify(runs)})`);
      assert.ok(runs.a + runs.b > 3, `the job ran (${JSON.stringify(runs)})`);

      await a.stop();
      const before = runs.b;
      await sleep(500);
      await b.stop();
      assert.equal(overlaps, 0);
      assert.ok(runs.b > before, `B took over once A stopped (${JSON.stringify(runs)})`);
    });

    it('a run that outlives its lease is told to stop (its signal aborts) once another replica took over', async () => {
      const [ca, cb] = await twoReplicas(dialect);
      const [la, lb] = [leasesOf(ca), leasesOf(cb)];
      // A's renewals come too late for its TTL: a stalled process, as after a long GC pause.
      const a = new Scheduler({ log, leases: la, leaseTiming: { ttlMs: 200, renewEveryMs: 600 } });
      let aborted: Promise<void> | undefined;
      let started!: () => void;
      const startedA = new Promise<void>((resolve) => { started = resolve; });
      a.every({
        name: 'gc', everyMs: 20, lease: true,
        run: (signal) => {
          aborted ??= new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          started();
          return aborted;
        },
      });
      await startedA;
      await sleep(300);
      assert.equal(await lb.acquire('gc', 60_000), true, 'the expired lease is free for B');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([aborted, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('the run was not aborted')), 3_000); })]);
      clearTimeout(timer);
      await a.stop();
      assert.equal((await lb.get('gc'))?.holder, lb.holder, 'A neither released nor overwrote B\'s lease');
    });
  });
}
