// Forcing an interleaving of PostgreSQL transactions instead of hoping for it (the model:
// test/maintenance/gc-manifest-race.test.ts): hold a row lock from the test, start the requests that must queue
// behind it, wait until they do, then let go.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** Backends of the database behind `url` waiting for a lock right now. */
export async function lockWaiters(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'");
    return res.rows[0]!.n;
  } finally {
    await client.end();
  }
}

/** Polls `check` until it holds; fails the test after `ms`. */
export async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A transaction of the test's own that holds row locks until `release()` commits it (or rolls it back): `lock` runs
 * inside it, e.g. `select … for update`; `query` runs more statements in it.
 */
export async function holdLocks(url: string, lock: (client: pg.Client) => Promise<unknown>): Promise<HeldLocks> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('begin');
  await lock(client);
  return {
    query: (text, params = []) => client.query(text, params),
    async release(end = 'commit') {
      await client.query(end).catch(() => undefined);
      await client.end();
    },
  };
}

export interface HeldLocks {
  query(text: string, params?: unknown[]): Promise<unknown>;
  release(end?: 'commit' | 'rollback'): Promise<void>;
}
