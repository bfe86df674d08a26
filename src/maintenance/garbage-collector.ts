import type { AuditLog } from '../audit/audit-log.js';
import { isForeignKeyViolation } from '../db/constraint-errors.js';
import type { Db } from '../db/schema.js';
import { lockRepository, transaction } from '../db/transaction.js';
import type { Digest } from '../oci/digest.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Clock } from '../util/clock.js';

export interface GcReport {
  /** Repository→blob links no manifest of that repository references (uploaded but never used, or left by deletes). */
  readonly links: number;
  /** Blobs no repository links any more: rows and bytes deleted. */
  readonly blobs: number;
  readonly bytes: number;
  /** Files in the blob store without a row (a crash between commit and transaction). */
  readonly orphanFiles: number;
  readonly orphanBytes: number;
}

export interface GcOptions {
  readonly dryRun: boolean;
  /** Links and files younger than this are left alone: they may belong to a push in progress. */
  readonly graceMs: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Online garbage collection, safe while the registry serves traffic. Why nothing a concurrent push needs is lost:
 *  1. A link is removed only when no manifest of its repository references the blob, in one conditional DELETE,
 *     and only when it is older than the grace period — a push uploads its blobs before its manifest, so links of a
 *     push in progress are young. A manifest push checks its references inside its own transaction (see
 *     ManifestService), so a link cannot vanish between that check and the manifest row: both transactions first
 *     lock the repository row, which on PostgreSQL (READ COMMITTED) serialises a push with the link removal; the
 *     DELETE then sees the push's committed references, or the push sees the link gone and fails cleanly.
 *  2. A blob row is deleted only when no link exists, in one conditional DELETE that also writes a tombstone in the
 *     same transaction; then the bytes go, then the tombstone. An upload committing the same digest either commits
 *     first (its link makes the DELETE a no-op) or finds the tombstone in its own transaction and puts its bytes
 *     back once the tombstone is gone, or finds the bytes already gone after its transaction and puts them back
 *     (see UploadService).
 *  3. Files without a row are deleted only when older than the grace period: a commit writes the file just before
 *     its transaction, so a young orphan is a commit in flight.
 */
export class GarbageCollector {
  readonly #db: Db;
  readonly #blobs: BlobStore;
  readonly #clock: Clock;
  readonly #audit: AuditLog;

  constructor(deps: { db: Db; blobs: BlobStore; clock: Clock; audit: AuditLog }) {
    this.#db = deps.db;
    this.#blobs = deps.blobs;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
  }

  async run(opts: GcOptions): Promise<GcReport> {
    const cutoff = this.#clock.now() - opts.graceMs;
    if (opts.dryRun) return this.#plan(cutoff);
    const links = await this.#unreferencedLinks(cutoff);
    const { blobs, bytes } = await this.#unlinkedBlobs(opts);
    const orphans = await this.#orphanFiles(cutoff, opts.dryRun);
    const report = { links, blobs, bytes, orphanFiles: orphans.files, orphanBytes: orphans.bytes };
    // One record per run, after it: its deletions span many small transactions (one per link and blob), and what the
    // log needs is what went, not each digest. The actor is Berth itself; the scope still says who started it.
    await this.#audit.recordAlone({
      action: 'gc.run', actor: { id: null, login: 'system' },
      after: { links, blobs, bytes, orphan_files: orphans.files, orphan_bytes: orphans.bytes, grace_ms: opts.graceMs },
    });
    return report;
  }

  /** What a run would delete, without deleting: links as found, blobs whose every link would go. */
  async #plan(cutoff: number): Promise<GcReport> {
    const candidates = await this.#candidateLinks(cutoff);
    const going = new Set(candidates.map((c) => `${c.repositoryId} ${c.digest}`));
    let blobs = 0;
    let bytes = 0;
    for (const blob of await this.#db.selectFrom('blobs').select(['digest', 'size']).execute()) {
      const links = await this.#db.selectFrom('repositoryBlobs').select('repositoryId').where('digest', '=', blob.digest).execute();
      if (links.every((l) => going.has(`${l.repositoryId} ${blob.digest}`))) {
        blobs++;
        bytes += blob.size;
      }
    }
    const orphans = await this.#orphanFiles(cutoff, true);
    return { links: candidates.length, blobs, bytes, orphanFiles: orphans.files, orphanBytes: orphans.bytes };
  }

  /**
   * Links older than the cutoff that no manifest of their repository references, as one set difference: both
   * databases sort or hash the two sides once. A NOT EXISTS per link was quadratic for a blob every repository
   * shares (a common base layer): each link's check walked all that digest's references (`npm run bench -- --gc`).
   */
  #candidateLinks(cutoff: number): Promise<{ repositoryId: number; digest: string }[]> {
    return this.#db.selectFrom('repositoryBlobs')
      .select(['repositoryId', 'digest'])
      .where('createdAt', '<', cutoff)
      .except(this.#db.selectFrom('manifestReferences as mr').innerJoin('manifests as m', 'm.id', 'mr.manifestId').select(['m.repositoryId', 'mr.digest']))
      .execute();
  }

  async #unreferencedLinks(cutoff: number): Promise<number> {
    const candidates = await this.#candidateLinks(cutoff);
    let removed = 0;
    for (const c of candidates) {
      const deleted = await transaction(this.#db, async (tx) => {
        // The repository row lock a manifest push takes first (ManifestService.put): on PostgreSQL this waits for
        // a push in flight to commit, so the DELETE below, a new statement under READ COMMITTED, sees its
        // references. It does not block uploads and mounts inserting links (see lockRepository).
        await lockRepository(tx, c.repositoryId);
        // Re-checked in the DELETE itself: a manifest pushed since the SELECT keeps its link.
        return tx.deleteFrom('repositoryBlobs')
          .where('repositoryId', '=', c.repositoryId).where('digest', '=', c.digest)
          .where(({ not, exists, selectFrom }) => not(exists(
            selectFrom('manifestReferences as mr').innerJoin('manifests as m', 'm.id', 'mr.manifestId')
              .select('mr.digest').where('m.repositoryId', '=', c.repositoryId).where('mr.digest', '=', c.digest),
          )))
          .executeTakeFirst();
      });
      removed += Number(deleted.numDeletedRows);
    }
    return removed;
  }

  async #unlinkedBlobs(opts: GcOptions): Promise<{ blobs: number; bytes: number }> {
    const unlinked = await this.#db.selectFrom('blobs as b').select(['b.digest', 'b.size'])
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('repositoryBlobs as rb').select('rb.digest').whereRef('rb.digest', '=', 'b.digest'))))
      .execute();
    let blobs = 0;
    let bytes = 0;
    for (const [i, blob] of unlinked.entries()) {
      // Lock order: the blob row (FOR UPDATE, taken by the DELETE), then the tombstone. An upload commit holding the
      // row (FOR NO KEY UPDATE) makes this wait, then fail on the foreign key: see the catch below.
      const deleted = await transaction(this.#db, async (tx) => {
        const res = await tx.deleteFrom('blobs').where('digest', '=', blob.digest)
          .where(({ not, exists, selectFrom }) => not(exists(selectFrom('repositoryBlobs').select('digest').where('digest', '=', blob.digest))))
          .executeTakeFirst();
        if (Number(res.numDeletedRows) === 0) return false;
        await tx.insertInto('blobDeletions').values({ digest: blob.digest, startedAt: this.#clock.now() })
          .onConflict((oc) => oc.column('digest').doUpdateSet({ startedAt: this.#clock.now() })).execute();
        return true;
      }).catch((err: unknown) => {
        // PostgreSQL (READ COMMITTED): a push that linked this blob after the NOT EXISTS above holds the row, and
        // the foreign key refuses the delete once it commits. The blob is in use again: keep it.
        if (isForeignKeyViolation(err)) return false;
        throw err;
      });
      if (deleted) {
        await this.#blobs.delete(blob.digest as Digest);
        await this.#db.deleteFrom('blobDeletions').where('digest', '=', blob.digest).execute();
        blobs++;
        bytes += blob.size;
      }
      opts.onProgress?.(i + 1, unlinked.length);
    }
    return { blobs, bytes };
  }

  async #orphanFiles(cutoff: number, dryRun: boolean): Promise<{ files: number; bytes: number }> {
    let files = 0;
    let bytes = 0;
    for await (const stat of this.#blobs.list()) {
      if (stat.modifiedAt >= cutoff) continue;
      const row = await this.#db.selectFrom('blobs').select('digest').where('digest', '=', stat.digest).executeTakeFirst();
      if (row) continue;
      if (!dryRun) await this.#blobs.delete(stat.digest);
      files++;
      bytes += stat.size;
    }
    return { files, bytes };
  }
}
