import type { Readable } from 'node:stream';
import { isForeignKeyViolation } from '../db/constraint-errors.js';
import type { Db } from '../db/schema.js';
import type { Digest } from '../oci/digest.js';
import { blobUnknown, rangeNotSatisfiable } from '../oci/errors.js';
import type { RepoName } from '../oci/names.js';
import type { BlobFile, BlobStore } from '../storage/blob-store.js';
import type { Clock } from '../util/clock.js';
import type { RepositoryStore } from './repositories.js';

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

  constructor(deps: { db: Db; blobs: BlobStore; repos: RepositoryStore; clock: Clock }) {
    this.#db = deps.db;
    this.#blobs = deps.blobs;
    this.#repos = deps.repos;
    this.#clock = deps.clock;
  }

  /** The blob as linked in `name`, or BLOB_UNKNOWN. */
  async stat(name: RepoName, digest: Digest): Promise<BlobInfo> {
    const row = await this.#db.selectFrom('repositoryBlobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repositoryId')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['b.size'])
      .where('r.name', '=', name)
      .where('rb.digest', '=', digest)
      .executeTakeFirst();
    if (!row) throw blobUnknown(digest);
    return { digest, size: row.size };
  }

  /** Opens the blob (or one inclusive byte range of it) for streaming. */
  async open(blob: BlobInfo, range: ByteRange | null): Promise<Readable> {
    if (range && (range.start > range.end || range.end >= blob.size)) throw rangeNotSatisfiable(blob.size);
    return this.#notFoundAsBlobUnknown(blob, () => this.#blobs.read(blob.digest, range ?? undefined));
  }

  /** The blob opened for positional reads when the store is file-backed (see `BlobStore.openFile`), else null. */
  async openFile(blob: BlobInfo): Promise<BlobFile | null> {
    const store = this.#blobs;
    if (!store.openFile) return null;
    return this.#notFoundAsBlobUnknown(blob, () => store.openFile!(blob.digest));
  }

  /** A short-lived URL the client may fetch the blob from directly when the store redirects (S3 presigned), else null. */
  async redirectUrl(blob: BlobInfo): Promise<string | null> {
    return (await this.#blobs.redirectUrl?.(blob.digest)) ?? null;
  }

  async #notFoundAsBlobUnknown<T>(blob: BlobInfo, open: () => Promise<T>): Promise<T> {
    try {
      return await open();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw blobUnknown(blob.digest);
      throw err;
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
