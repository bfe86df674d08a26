import type { Db } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import { epochDay, type Clock } from '../util/clock.js';
import type { Logger } from '../observability/logger.js';

/** Manifests looked up per statement (SQLite limits bound parameters per statement). */
const CHUNK = 400;

/**
 * Counts manifest pulls per version per day. Pulls are counted in memory and added in one transaction per flush,
 * so a pull costs no database write; a crash loses at most one flush interval of counts. Each flush adds them to
 * the version's `downloads_daily` and to the figures the package and usage pages read (migration 0027): the
 * package's total and days, and its owner's days, so no page sums every version's downloads.
 */
export class DownloadCounter {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #log: Logger;
  #pending = new Map<string, number>();
  /** The last flush asked for (it never rejects: a failed write keeps its counts for the next). */
  #flushing: Promise<void> = Promise.resolve();

  constructor(deps: { db: Db; clock: Clock; log: Logger }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#log = deps.log;
  }

  record(manifestId: number): void {
    const key = `${manifestId}:${epochDay(this.#clock.now())}`;
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
  }

  /**
   * Writes the counts recorded so far. Flushes run one after another: a flush called while another is writing waits
   * for it, so a page that flushes before reading the figures sees every pull counted before it (the scheduled
   * flush had taken the counts out of memory and not yet committed them).
   */
  flush(): Promise<void> {
    const next = this.#flushing.then(() => this.#write());
    this.#flushing = next;
    return next;
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    try {
      const rows = [...batch].map(([key, count]) => [...key.split(':').map(Number), count] as [number, number, number]);
      await transaction(this.#db, (tx) => addDownloads(tx, rows));
    } catch (err) {
      this.#log.warn({ err }, 'could not write download counts; will retry');
      for (const [key, count] of batch) this.#pending.set(key, (this.#pending.get(key) ?? 0) + count);
    }
  }
}

/**
 * Adds `rows` (manifest, day, count) to the download figures. Every replica's flush locks rows table by table in
 * key order, packages first, as a version deletion does (its package's figures, then its download rows by cascade):
 * two writers never each hold a row the other waits for (PostgreSQL).
 */
async function addDownloads(tx: Db, rows: readonly [manifestId: number, day: number, count: number][]): Promise<void> {
  // The manifest may have been deleted since the pull; its count goes with it.
  const ids = [...new Set(rows.map(([id]) => id))];
  const owners = new Map<number, { repositoryId: number; owner: string }>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const found = await tx.selectFrom('manifests as m').innerJoin('repositories as p', 'p.id', 'm.repositoryId')
      .select(['m.id', 'm.repositoryId', 'p.owner']).where('m.id', 'in', ids.slice(i, i + CHUNK)).execute();
    for (const r of found) owners.set(Number(r.id), { repositoryId: Number(r.repositoryId), owner: r.owner });
  }
  const versions: [number, number, number][] = [];
  const packages = new Map<number, { owner: string; count: number }>();
  const packageDays = new Map<string, [number, number, number]>();
  const ownerDays = new Map<string, [string, number, number]>();
  for (const [manifestId, day, count] of rows) {
    const of = owners.get(manifestId);
    if (!of) continue;
    versions.push([manifestId, day, count]);
    const pkg = packages.get(of.repositoryId) ?? { owner: of.owner, count: 0 };
    packages.set(of.repositoryId, { owner: pkg.owner, count: pkg.count + count });
    const pd = `${of.repositoryId}:${day}`;
    packageDays.set(pd, [of.repositoryId, day, (packageDays.get(pd)?.[2] ?? 0) + count]);
    const od = `${of.owner}:${day}`;
    ownerDays.set(od, [of.owner, day, (ownerDays.get(od)?.[2] ?? 0) + count]);
  }
  const byNumbers = (a: readonly [number, number, ...unknown[]], b: readonly [number, number, ...unknown[]]) => a[0] - b[0] || a[1] - b[1];
  for (const part of chunks([...packages].sort(([a], [b]) => a - b))) {
    await tx.insertInto('packageStorage').values(part.map(([repositoryId, p]) => ({ repositoryId, owner: p.owner, quotaBytes: null, downloads: p.count })))
      .onConflict((oc) => oc.column('repositoryId').doUpdateSet((eb) => ({ downloads: eb('packageStorage.downloads', '+', eb.ref('excluded.downloads')) })))
      .execute();
  }
  for (const part of chunks([...packageDays.values()].sort(byNumbers))) {
    await tx.insertInto('packageDownloadsDaily').values(part.map(([repositoryId, day, count]) => ({ repositoryId, day, count })))
      .onConflict((oc) => oc.columns(['repositoryId', 'day']).doUpdateSet((eb) => ({ count: eb('packageDownloadsDaily.count', '+', eb.ref('excluded.count')) })))
      .execute();
  }
  for (const part of chunks([...ownerDays.values()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1])))) {
    await tx.insertInto('ownerDownloadsDaily').values(part.map(([owner, day, count]) => ({ owner, day, count })))
      .onConflict((oc) => oc.columns(['owner', 'day']).doUpdateSet((eb) => ({ count: eb('ownerDownloadsDaily.count', '+', eb.ref('excluded.count')) })))
      .execute();
  }
  for (const part of chunks(versions.sort(byNumbers))) {
    await tx.insertInto('downloadsDaily').values(part.map(([manifestId, day, count]) => ({ manifestId, day, count })))
      .onConflict((oc) => oc.columns(['manifestId', 'day']).doUpdateSet((eb) => ({ count: eb('downloadsDaily.count', '+', eb.ref('excluded.count')) })))
      .execute();
  }
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}
