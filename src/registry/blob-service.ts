import { pipeline, type Readable } from 'node:stream';
import { isForeignKeyViolation } from '../db/constraint-errors.js';
import type { Db } from '../db/schema.js';
import type { Digest } from '../oci/digest.js';
import { blobQuarantined, blobUnknown, rangeNotSatisfiable } from '../oci/errors.js';
import type { RepoName } from '../oci/names.js';
import type { Logger } from '../observability/logger.js';
import type { BlobFile, BlobStore } from '../storage/blob-store.js';
import type { Clock } from '../util/clock.js';
import { checkStoredBlob } from './blob-check.js';
import { BlobQuarantine } from './blob-quarantine.js';
import type { RepositoryStore } from './repositories.js';
import { BlobMismatchError, VerifyingStream, verifyingFile } from './verified-read.js';

export interface BlobInfo {
  readonly digest: Digest;
  readonly size: number;
}

export type ByteRange = { start: number; end: number };
export type { BlobFile };

/** Answers whether the caller may read a repository; supplied per request by the access layer. */
export type CanRead = (name: RepoName) => Promise<boolean>;

/** Reading, linking and unlinking blobs within a repository. Bytes are global; visibility is per repository link. */
export class BlobService {
  readonly #db: Db;
  readonly #blobs: BlobStore;
  readonly #repos: RepositoryStore;
  readonly #clock: Clock;
  readonly #log: Logger | null;
  readonly #verifyOnRead: boolean;
  readonly #quarantine: BlobQuarantine;
  /** Blobs being re-read after a failed verification, so concurrent failures trigger one re-read. */
  readonly #confirming = new Map<Digest, Promise<void>>();

  /** `verifyOnRead`: check full reads against the digest while serving them (config `storage.verifyOnRead`). */
  constructor(deps: { db: Db; blobs: BlobStore; repos: RepositoryStore; clock: Clock; log?: Logger; verifyOnRead?: boolean }) {
    this.#db = deps.db;
    this.#blobs = deps.blobs;
    this.#repos = deps.repos;
    this.#clock = deps.clock;
    this.#log = deps.log ?? null;
    this.#verifyOnRead = deps.verifyOnRead ?? false;
    this.#quarantine = new BlobQuarantine({ db: deps.db, clock: deps.clock });
  }

  /** The blob as linked in `name`, or BLOB_UNKNOWN (also when it is quarantined: clients then push it again). */
  async stat(name: RepoName, digest: Digest): Promise<BlobInfo> {
    const row = await this.#db.selectFrom('repositoryBlobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repositoryId')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['b.size', 'b.quarantinedAt'])
      .where('r.name', '=', name)
      .where('rb.digest', '=', digest)
      .executeTakeFirst();
    if (!row) throw blobUnknown(digest);
    if (row.quarantinedAt !== null) throw blobQuarantined(digest);
    return { digest, size: row.size };
  }

  /** Opens the blob (or one inclusive byte range of it) for streaming; a full read is verified when configured. */
  async open(blob: BlobInfo, range: ByteRange | null): Promise<Readable> {
    if (range && (range.start > range.end || range.end >= blob.size)) throw rangeNotSatisfiable(blob.size);
    const stream = await this.#notFoundAsBlobUnknown(blob, () => this.#blobs.read(blob.digest, range ?? undefined));
    if (!this.#verifyOnRead || !isWhole(blob, range)) return stream;
    const checked = new VerifyingStream(blob.digest, blob.size, (actual) => this.#readMismatch(blob, actual));
    // pipeline: a client going away (the reply destroys `checked`) destroys the store's stream too.
    pipeline(stream, checked, () => undefined);
    try {
      // Found wrong before its first byte could go out (a blob of one chunk): answer 404 like the quarantine will.
      await checked.started;
    } catch (err) {
      checked.destroy();
      if (err instanceof BlobMismatchError) throw blobQuarantined(blob.digest);
      throw err;
    }
    return checked;
  }

  /**
   * The blob opened for positional reads when the store is file-backed (see `BlobStore.openFile`), else null. With
   * `range` null (or the whole blob) and verification on, reads in sequence are checked against the digest.
   */
  async openFile(blob: BlobInfo, range: ByteRange | null = null): Promise<BlobFile | null> {
    const store = this.#blobs;
    if (!store.openFile) return null;
    const file = await this.#notFoundAsBlobUnknown(blob, () => store.openFile!(blob.digest));
    if (!this.#verifyOnRead || !isWhole(blob, range)) return file;
    return verifyingFile(file, blob.digest, blob.size, (actual) => this.#readMismatch(blob, actual));
  }

  /**
   * A verified read found the stored bytes wrong. The download is cut off at once (the caller throws); this says so
   * at error level — the storage under Berth lost or changed data, and `berth scrub` should check the rest — and
   * quarantines the blob once a second, whole read confirms it (in the background, once per digest at a time), so a
   * read that raced an upload replacing the bytes does not quarantine the good new copy.
   */
  #readMismatch(blob: BlobInfo, actual: string): void {
    this.#log?.error({ digest: blob.digest, actual, size: blob.size },
      'stored blob does not match its digest: download cut off; run `berth scrub` to check the store');
    this.#suspect(blob);
  }

  /** Re-checks the blob's stored bytes in the background and quarantines it when they are wrong or gone. */
  #suspect(blob: BlobInfo): void {
    if (this.#confirming.has(blob.digest)) return;
    const done = this.#confirmAndQuarantine(blob).finally(() => this.#confirming.delete(blob.digest));
    this.#confirming.set(blob.digest, done);
  }

  async #confirmAndQuarantine(blob: BlobInfo): Promise<void> {
    try {
      const check = await checkStoredBlob(this.#blobs, blob.digest, blob.size);
      if (check.ok) {
        this.#log?.warn({ digest: blob.digest }, 'a second read of the blob matched its digest (replaced meanwhile?); not quarantined');
        return;
      }
      const outcome = await this.#quarantine.quarantine(blob.digest, check.problem);
      if (outcome === 'gone') return; // GC deleted it meanwhile: its bytes went with it
      // A missing blob is first noticed here (its GET found no bytes); a corrupt one was logged at error already.
      const level = check.problem === 'missing' && outcome === 'now' ? 'error' : 'warn';
      this.#log?.[level]({ digest: blob.digest, problem: check.problem, actual: check.actual, quarantine: outcome },
        `blob ${check.problem === 'missing' ? 'has no stored bytes' : 'is corrupt'}: quarantined, GET/HEAD answer 404 until it is pushed again`);
    } catch (err) {
      this.#log?.error({ err, digest: blob.digest }, 'could not confirm or quarantine a blob that failed verification');
    }
  }

  /** A short-lived URL the client may fetch the blob from directly when the store redirects (S3 presigned), else null. */
  async redirectUrl(blob: BlobInfo): Promise<string | null> {
    return (await this.#blobs.redirectUrl?.(blob.digest)) ?? null;
  }

  /** Resolves when the background checks of blobs that failed a verified read are done (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all(this.#confirming.values());
  }

  async #notFoundAsBlobUnknown<T>(blob: BlobInfo, open: () => Promise<T>): Promise<T> {
    try {
      return await open();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // The database has the blob but the store has no bytes (deleted under Berth, or GC racing this read).
      this.#suspect(blob);
      throw blobUnknown(blob.digest);
    }
  }

  /** Removes the repository's link to the blob; the bytes stay until GC finds them unreferenced everywhere. */
  async unlink(name: RepoName, digest: Digest): Promise<void> {
    const repo = await this.#repos.find(name);
    if (!repo) throw blobUnknown(digest);
    const res = await this.#db.deleteFrom('repositoryBlobs').where('repositoryId', '=', repo.id).where('digest', '=', digest).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw blobUnknown(digest);
  }

  /**
   * Cross-repository mount: links an existing blob into `target` when the caller can read it somewhere — in
   * `from` when given, otherwise in any repository that has it. Returns null when it cannot be mounted, so the
   * caller falls back to an ordinary upload (spec: "Mounting a blob from another repository").
   */
  async mount(target: RepoName, digest: Digest, from: RepoName | null, canRead: CanRead, pusher: number | null): Promise<BlobInfo | null> {
    let q = this.#db.selectFrom('repositoryBlobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repositoryId')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['r.name', 'b.size'])
      .where('rb.digest', '=', digest)
      .where('r.deletedAt', 'is', null)
      // A quarantined blob is not mounted: the client uploads it, which repairs it.
      .where('b.quarantinedAt', 'is', null)
      .limit(50);
    if (from !== null) q = q.where('r.name', '=', from);
    const sources = await q.execute();
    for (const source of sources) {
      if (await canRead(source.name as RepoName)) {
        const repo = await this.#repos.ensure(target, pusher);
        try {
          await this.link(repo.id, digest);
        } catch (err) {
          // GC deleted the blob since we found its source (PostgreSQL, READ COMMITTED: the source link was gone
          // by then, and the foreign key refuses ours): nothing to mount, the client uploads it.
          if (isForeignKeyViolation(err)) return null;
          throw err;
        }
        return { digest, size: source.size };
      }
    }
    return null;
  }

  /**
   * One statement, holding no other lock: it inserts the link, then its foreign keys take KEY SHARE on the repository
   * and blob rows, which waits only for a DELETE of either (GC, package purge), a package rename, or another insert of
   * the same link — none of which waits for it in turn.
   */
  async link(repositoryId: number, digest: Digest): Promise<void> {
    await this.#db.insertInto('repositoryBlobs')
      .values({ repositoryId, digest, createdAt: this.#clock.now() })
      .onConflict((oc) => oc.columns(['repositoryId', 'digest']).doNothing())
      .execute();
  }
}

function isWhole(blob: BlobInfo, range: ByteRange | null): boolean {
  return range === null || (range.start === 0 && range.end === blob.size - 1);
}
