import { sql } from 'kysely';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/schema.js';
import type { Digest } from '../oci/digest.js';
import type { Logger } from '../observability/logger.js';
import { checkStoredBlob, type StoredBlobCheck } from '../registry/blob-check.js';
import { BlobQuarantine, type BlobProblem } from '../registry/blob-quarantine.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Clock } from '../util/clock.js';

export interface ScrubProblem {
  readonly digest: Digest;
  readonly size: number;
  readonly problem: BlobProblem;
  /** The digest of the bytes found, or what was found instead. */
  readonly actual: string;
  /** `now`: quarantined by this run; `already`: it was before; `dry-run`: would be. */
  readonly quarantine: 'now' | 'already' | 'dry-run';
  /** Repositories linking the blob (at most 10): the images to push again. */
  readonly repositories: readonly string[];
}

export interface ScrubReport {
  /** Blobs whose bytes were read and judged. */
  readonly checked: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly problems: readonly ScrubProblem[];
  /** Quarantined blobs whose bytes were found good again (restored from a backup): served again. */
  readonly released: readonly Digest[];
  /** Blobs that could not be read for another reason (a storage error): not judged, checked again next run. */
  readonly errors: readonly { readonly digest: Digest; readonly error: string }[];
  /** False when the run stopped early (aborted: shutdown, lease lost, Ctrl-C). */
  readonly complete: boolean;
}

export interface ScrubOptions {
  /** Checks blobs last verified before this time (ms since epoch): `now` for all of them. */
  readonly dueBefore: number;
  /** Bytes per second read at most; 0: unlimited. */
  readonly rateBytesPerSecond: number;
  /** Report only: quarantine nothing, record nothing. */
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (checked: number, bytes: number) => void;
}

const BATCH = 100;

/**
 * Re-hashes stored blobs and quarantines those whose bytes no longer match their digest or are gone (what zot calls
 * scrub). Blobs are taken in order of their last verification (`coalesce(checked_at, created_at)`, migration 0011),
 * oldest first, and each one's time is recorded as it is checked: a run cut short (shutdown, lease lost, Ctrl-C), or
 * one that cannot cover the store within its interval at the configured rate, is continued by the next from where
 * it stopped, and a scheduled run re-reads only what was not verified within the interval.
 *
 * A bad result is confirmed by a second read before the blob is quarantined: the first may have raced an upload
 * replacing the bytes (fs: renamed over, S3: rewritten), or a GC deleting the blob (its row goes first, so the
 * quarantine finds nothing to mark). Quarantined blobs are checked again too, and released when found good.
 */
export class BlobScrubber {
  readonly #db: Db;
  readonly #blobs: BlobStore;
  readonly #clock: Clock;
  readonly #log: Logger | null;
  readonly #quarantine: BlobQuarantine;

  constructor(deps: { db: Db; blobs: BlobStore; clock: Clock; log?: Logger }) {
    this.#db = deps.db;
    this.#blobs = deps.blobs;
    this.#clock = deps.clock;
    this.#log = deps.log ?? null;
    this.#quarantine = new BlobQuarantine({ db: deps.db, clock: deps.clock });
  }

  async run(opts: ScrubOptions): Promise<ScrubReport> {
    const started = performance.now();
    const pace = pacer(opts.rateBytesPerSecond, opts.signal);
    const problems: ScrubProblem[] = [];
    const released: Digest[] = [];
    const errors: { digest: Digest; error: string }[] = [];
    let checked = 0;
    let bytes = 0;
    let complete = true;
    let after: { due: number; digest: string } | null = null;
    const count = async (n: number): Promise<void> => {
      bytes += n;
      await pace(n);
    };
    scan: for (;;) {
      const batch = await this.#due(opts.dueBefore, after);
      if (batch.length === 0) break;
      for (const row of batch) {
        after = row;
        if (opts.signal?.aborted) {
          complete = false;
          break scan;
        }
        const digest = row.digest as Digest;
        let check: StoredBlobCheck;
        try {
          check = await checkStoredBlob(this.#blobs, digest, row.size, count);
          // Confirmed by a second read: see the class comment.
          if (!check.ok) check = await checkStoredBlob(this.#blobs, digest, row.size, count);
        } catch (err) {
          if (opts.signal?.aborted) {
            complete = false;
            break scan;
          }
          errors.push({ digest, error: (err as Error).message });
          this.#log?.warn({ err, digest }, 'scrub could not read a blob; it is checked again next run');
          continue;
        }
        checked++;
        opts.onProgress?.(checked, bytes);
        if (check.ok) {
          if (opts.dryRun) continue;
          if (row.quarantinedAt !== null) {
            if (await this.#quarantine.release(digest)) {
              released.push(digest);
              this.#log?.info({ digest }, 'quarantined blob found good again (restored?); served again');
            }
          } else {
            await this.#db.updateTable('blobs').set({ checkedAt: this.#clock.now() })
              .where('digest', '=', digest).where('quarantinedAt', 'is', null).execute();
          }
          continue;
        }
        const quarantine = opts.dryRun
          ? (row.quarantinedAt !== null ? 'already' : 'dry-run')
          : await this.#quarantine.quarantine(digest, check.problem);
        if (quarantine === 'gone') continue;
        const problem: ScrubProblem = {
          digest, size: row.size, problem: check.problem, actual: check.actual, quarantine, repositories: await this.#repositories(digest),
        };
        problems.push(problem);
        // Found now: an operator should look at the storage. Still quarantined from before: a reminder.
        this.#log?.[quarantine === 'now' ? 'error' : 'warn'](problem,
          `scrub: stored blob is ${check.problem}; quarantined (GET/HEAD answer 404 until it is pushed again)`);
      }
    }
    return { checked, bytes, seconds: (performance.now() - started) / 1000, problems, released, errors, complete };
  }

  /** The next blobs due after `after` in scrub order (keyset paging: one that failed to read is not retried). */
  #due(dueBefore: number, after: { due: number; digest: string } | null): Promise<{ digest: string; size: number; quarantinedAt: number | null; due: number }[]> {
    // The same expression as the index of migration 0011, so both dialects read in index order.
    const due = sql<number>`coalesce(${sql.ref('checkedAt')}, ${sql.ref('createdAt')})`;
    let q = this.#db.selectFrom('blobs')
      .select(['digest', 'size', 'quarantinedAt', due.as('due')])
      .where(due, '<', dueBefore);
    if (after) q = q.where(sql<boolean>`(${due}, ${sql.ref('digest')}) > (${after.due}, ${after.digest})`);
    return q.orderBy(due).orderBy('digest').limit(BATCH).execute();
  }

  async #repositories(digest: Digest): Promise<string[]> {
    const rows = await this.#db.selectFrom('repositoryBlobs as rb').innerJoin('repositories as r', 'r.id', 'rb.repositoryId')
      .select('r.name').where('rb.digest', '=', digest).where('r.deletedAt', 'is', null).orderBy('r.name').limit(10).execute();
    return rows.map((r) => r.name);
  }
}

/**
 * Keeps reading at `rate` bytes/s on average, with at most one second of unused budget saved up (a pause, e.g. a
 * slow blob open, does not turn into a burst at full speed). Throws the abort reason when `signal` aborts.
 */
function pacer(rate: number, signal: AbortSignal | undefined): (bytes: number) => Promise<void> {
  let start = performance.now();
  let read = 0;
  return async (bytes) => {
    signal?.throwIfAborted();
    if (rate <= 0) return;
    read += bytes;
    const now = performance.now();
    // Seconds ahead of (positive) or behind (negative) the schedule of `rate` since `start`.
    const ahead = read / rate - (now - start) / 1000;
    if (ahead < -1) start = now - (read / rate + 1) * 1000;
    else if (ahead > 0.001) await sleep(ahead * 1000, undefined, { signal });
  };
}
