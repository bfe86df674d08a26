import { randomBytes } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import type { Dialect } from '../db/connect.js';
import type { Db } from '../db/schema.js';
import type { Clock } from '../util/clock.js';

/**
 * Leases in the `job_leases` table: which replica may run a cluster-wide job, until when. Every change is one
 * conditional statement, atomic on both dialects: PostgreSQL's INSERT … ON CONFLICT DO UPDATE locks the
 * conflicting row and re-evaluates the WHERE on its latest version, and SQLite runs one writer at a time.
 *
 * Times come from the database's clock on PostgreSQL, so replicas with skewed clocks still agree on when a lease
 * expires; on SQLite every process shares one machine, and its clock.
 */
export class JobLeases {
  /** This replica's identity in `holder`: random per process, so a restarted process never inherits a lease. */
  readonly holder: string;
  readonly #db: Db;
  readonly #dialect: Dialect;
  readonly #clock: Clock;

  constructor(deps: { db: Db; dialect: Dialect; clock: Clock; holder?: string }) {
    this.#db = deps.db;
    this.#dialect = deps.dialect;
    this.#clock = deps.clock;
    this.holder = deps.holder ?? `replica-${randomBytes(8).toString('hex')}`;
  }

  /** Takes the lease of `name` for `ttlMs` if it is free, expired, or already ours; true when we hold it now. */
  async acquire(name: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const res = await this.#db.insertInto('jobLeases')
      .values({ name, holder: this.holder, expiresAt: sql<number>`${now} + ${ttlMs}` })
      .onConflict((oc) => oc.column('name')
        .doUpdateSet({ holder: (eb) => eb.ref('excluded.holder'), expiresAt: (eb) => eb.ref('excluded.expiresAt') })
        .where((eb) => eb.or([eb('jobLeases.expiresAt', '<=', now), eb('jobLeases.holder', '=', this.holder)])))
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Extends a lease we hold to `ttlMs` from now; false when it is no longer ours (it expired and was taken). */
  async renew(name: string, ttlMs: number): Promise<boolean> {
    const res = await this.#db.updateTable('jobLeases')
      .set({ expiresAt: sql<number>`${this.#now()} + ${ttlMs}` })
      .where('name', '=', name).where('holder', '=', this.holder)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * Ends a run. With `holdMs` > 0 the lease stays ours until that long from now (the job's next due time), so the
   * cluster runs the job once per interval and the other replicas stand by; when this replica goes away they take
   * over within `holdMs`. Without it the lease is freed at once.
   */
  async release(name: string, holdMs = 0): Promise<void> {
    if (holdMs > 0) {
      await this.#db.updateTable('jobLeases').set({ expiresAt: sql<number>`${this.#now()} + ${holdMs}` })
        .where('name', '=', name).where('holder', '=', this.holder).execute();
    } else {
      await this.#db.deleteFrom('jobLeases').where('name', '=', name).where('holder', '=', this.holder).execute();
    }
  }

  /** Frees every lease this replica holds (shutdown): another replica takes the jobs over at its next tick. */
  async releaseAll(): Promise<void> {
    await this.#db.deleteFrom('jobLeases').where('holder', '=', this.holder).execute();
  }

  /** The lease of `name` as stored, or null (for status output and tests). */
  async get(name: string): Promise<{ holder: string; expiresAt: number } | null> {
    const row = await this.#db.selectFrom('jobLeases').select(['holder', 'expiresAt']).where('name', '=', name).executeTakeFirst();
    return row ?? null;
  }

  #now(): RawBuilder<number> {
    return this.#dialect === 'postgres'
      ? sql<number>`cast(floor(extract(epoch from clock_timestamp()) * 1000) as bigint)`
      : sql<number>`${this.#clock.now()}`;
  }
}
