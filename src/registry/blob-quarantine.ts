import type { Db } from '../db/schema.js';
import type { Digest } from '../oci/digest.js';
import type { Clock } from '../util/clock.js';

/** What is wrong with a blob's stored bytes: they do not hash to the digest, or they are gone. */
export type BlobProblem = 'corrupt' | 'missing';

/** What `quarantine` did: `now` quarantined, `already` was, `gone` no such blob (GC deleted it meanwhile). */
export type QuarantineOutcome = 'now' | 'already' | 'gone';

/**
 * Blobs whose stored bytes failed an integrity check (migration 0011). A quarantined blob is not served: GET and HEAD
 * answer 404 BLOB_UNKNOWN so clients push it again, mounts fall back to an upload, and manifests cannot reference
 * it. An upload of the right bytes replaces the stored copy and releases it (UploadService), as does a scrub that
 * finds the bytes good again (restored from a backup).
 */
export class BlobQuarantine {
  readonly #db: Db;
  readonly #clock: Clock;

  constructor(deps: { db: Db; clock: Clock }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
  }

  async quarantine(digest: Digest, problem: BlobProblem): Promise<QuarantineOutcome> {
    // A blob GC is deleting has its row gone and a tombstone; its bytes vanishing is expected, not a problem.
    const row = await this.#db.selectFrom('blobs').select('quarantinedAt').where('digest', '=', digest).executeTakeFirst();
    if (!row) return 'gone';
    const now = this.#clock.now();
    const res = await this.#db.updateTable('blobs')
      .set((eb) => ({ quarantinedAt: eb.fn.coalesce('quarantinedAt', eb.val(now)), quarantineReason: problem, checkedAt: now }))
      .where('digest', '=', digest)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return 'gone';
    return row.quarantinedAt === null ? 'now' : 'already';
  }

  /**
   * The bytes stored for `digest` were just verified (an upload replaced them, a scrub hashed them): serve it again.
   * True when it was quarantined. Writes nothing for a blob that is not (the common case: every upload commit).
   */
  async release(digest: Digest): Promise<boolean> {
    const res = await this.#db.updateTable('blobs')
      .set({ quarantinedAt: null, quarantineReason: null, checkedAt: this.#clock.now() })
      .where('digest', '=', digest)
      .where('quarantinedAt', 'is not', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
}
