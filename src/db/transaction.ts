import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from './schema.js';

/** Attempts in all; a conflict that outlives them reaches the caller (a 500, which it then is: a lock-order bug). */
const MAX_ATTEMPTS = 5;
const BASE_DELAY_MS = 10;

/**
 * Runs `work` in one database transaction: the one way Berth runs a multi-statement write. On PostgreSQL a
 * transaction that lost a deadlock (40P01) or a serialization check (40001) is rolled back by the server; it runs
 * again from the start, after a random delay that grows with each attempt (full jitter), so clients never see
 * these. `work` must therefore only touch the database — no bytes written, no events sent, no state kept
 * outside it — and may run more than once. Lock order (see README, "Isolation"): repositories row, blobs rows,
 * repository_blobs, then manifests and what hangs off them; every transaction takes its locks in that order.
 */
export async function transaction<T>(db: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (err) {
      if (attempt >= MAX_ATTEMPTS || !isTransientConflict(err)) throw err;
      await sleep(Math.random() * BASE_DELAY_MS * 2 ** attempt);
    }
  }
}

/** PostgreSQL's transaction-rollback class: deadlock_detected, serialization_failure. */
export function isTransientConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/**
 * Takes the repository row's lock, the first lock of the global order, without changing the row: a no-op UPDATE,
 * which on PostgreSQL takes FOR NO KEY UPDATE (it serialises with manifest pushes and GC's link removal, but not
 * with uploads and mounts, whose foreign keys take only KEY SHARE) and is valid SQLite too.
 */
export async function lockRepository(tx: Db, repositoryId: number): Promise<void> {
  await tx.updateTable('repositories').set((eb) => ({ updatedAt: eb.ref('updatedAt') })).where('id', '=', repositoryId).execute();
}
