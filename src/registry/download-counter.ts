import type { Db } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import { epochDay, type Clock } from '../util/clock.js';
import type { Logger } from '../observability/logger.js';

/**
 * Counts manifest pulls per version per day. Pulls are counted in memory and added to `downloads_daily` in one
 * transaction per flush, so a pull costs no database write; a crash loses at most one flush interval of counts.
 */
export class DownloadCounter {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #log: Logger;
  #pending = new Map<string, number>();

  constructor(deps: { db: Db; clock: Clock; log: Logger }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#log = deps.log;
  }

  record(manifestId: number): void {
    const key = `${manifestId}:${epochDay(this.#clock.now())}`;
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
  }

  async flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    try {
      // Rows in one order (manifest, day) in every replica's flush: two replicas adding to the same rows in
      // their own pull order would each hold one row the other waits for (PostgreSQL).
      const rows = [...batch].map(([key, count]) => [...key.split(':').map(Number), count] as [number, number, number])
        .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      await transaction(this.#db, async (tx) => {
        for (const [manifestId, day, count] of rows) {
          // The manifest may have been deleted since the pull; its count goes with it.
          const exists = await tx.selectFrom('manifests').select('id').where('id', '=', manifestId).executeTakeFirst();
          if (!exists) continue;
          await tx.insertInto('downloadsDaily').values({ manifestId, day, count })
            .onConflict((oc) => oc.columns(['manifestId', 'day']).doUpdateSet((eb) => ({ count: eb('downloadsDaily.count', '+', count) })))
            .execute();
        }
      });
    } catch (err) {
      this.#log.warn({ err }, 'could not write download counts; will retry');
      for (const [key, count] of batch) this.#pending.set(key, (this.#pending.get(key) ?? 0) + count);
    }
  }
}
