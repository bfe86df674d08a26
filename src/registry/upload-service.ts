import { randomUUID, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { Db } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.js';
import { digestInvalid, sizeInvalid, tooManyUploads, uploadInvalid, uploadOutOfOrder, uploadUnknown } from '../oci/errors.js';
import { repoOwner, type RepoName } from '../oci/names.js';
import type { BlobStore, UploadHandle } from '../storage/blob-store.js';
import type { Clock } from '../util/clock.js';
import { formatDuration } from '../util/duration.js';
import type { BerthError } from '../util/errors.js';
import { HashingStream, newHash } from '../util/hash-stream.js';
import type { BlobInfo } from './blob-service.js';
import { BlobQuarantine } from './blob-quarantine.js';
import type { RepositoryStore } from './repositories.js';
import { refuseIfOverQuota } from './storage-usage.js';

export interface UploadStatus {
  readonly id: string;
  /** Bytes received so far; the next chunk starts here. */
  readonly size: number;
}

/** Caps on open upload sessions (0: none), and their idle expiry, for the message when a cap is reached. */
export interface UploadLimits {
  readonly perUser: number;
  readonly perRepository: number;
  readonly expireAfterMs: number;
}

const NO_LIMITS: UploadLimits = { perUser: 0, perRepository: 0, expireAfterMs: 0 };

interface UploadRow {
  id: string;
  repositoryId: number;
  size: number;
  handle: UploadHandle;
  /** Hex sha256 of the `size` bytes so far, when known (see migration 0008). */
  sha256: string | null;
}

/**
 * Blob upload sessions (spec "Pushing blobs"). A session is a DB row (offset + the blob store's handle) plus
 * scratch data in the blob store, so it survives restarts and can move between replicas.
 *
 * The sha256 of the bytes so far is kept live in this process, so finishing a large upload does not read it back,
 * and its value after each chunk is saved in the row, so a session finished on another replica (PATCH and PUT
 * spread by a load balancer) does not either. Node's Hash itself cannot be persisted: a chunk appended after a
 * restart or on a replica without the live hash, or a sha512 digest, means re-hashing from storage at commit.
 * Either way the digest is verified before the blob becomes visible.
 */
export class UploadService {
  readonly #db: Db;
  readonly #blobs: BlobStore;
  readonly #repos: RepositoryStore;
  readonly #clock: Clock;
  readonly #live = new Map<string, { hash: Hash; size: number }>();
  /** Uploads with a request writing to them right now; a second concurrent writer is refused. */
  readonly #busy = new Set<string>();
  readonly #quarantine: BlobQuarantine;

  readonly #limits: UploadLimits;
  /** Config `quota.default`: the quota of owners without their own. */
  readonly #defaultQuota: number | null;

  constructor(deps: { db: Db; blobs: BlobStore; repos: RepositoryStore; clock: Clock; limits?: UploadLimits; defaultQuota?: number | null }) {
    this.#db = deps.db;
    this.#defaultQuota = deps.defaultQuota ?? null;
    this.#blobs = deps.blobs;
    this.#repos = deps.repos;
    this.#clock = deps.clock;
    this.#limits = deps.limits ?? NO_LIMITS;
    this.#quarantine = new BlobQuarantine({ db: deps.db, clock: deps.clock });
  }

  /**
   * `pusher` is the user pushing, who becomes the package's creator if this is its first push. Open sessions are
   * capped per user and per repository: each holds a row and scratch data until finished, cancelled or expired.
   * The check and the insert are not atomic: concurrent starts may pass the cap by as many as are in flight.
   */
  async start(name: RepoName, pusher: number | null): Promise<UploadStatus> {
    // An owner already at its storage quota gets no new blobs: refused before the client sends any bytes.
    await refuseIfOverQuota(this.#db, repoOwner(name), this.#defaultQuota);
    const { perUser, perRepository } = this.#limits;
    if (pusher !== null && perUser > 0) {
      const open = await this.#count('createdBy', pusher);
      if (open >= perUser) throw this.#tooMany(`you have ${open} upload sessions open, the most one user may have (uploads.maxSessionsPerUser)`, name, open, perUser);
    }
    const repo = await this.#repos.ensure(name, pusher);
    if (perRepository > 0) {
      const open = await this.#count('repositoryId', repo.id);
      if (open >= perRepository) throw this.#tooMany(`${name} has ${open} upload sessions open, the most one repository may have (uploads.maxSessionsPerRepository)`, name, open, perRepository);
    }
    const id = randomUUID();
    const handle = await this.#blobs.startUpload(id);
    const now = this.#clock.now();
    await this.#db.insertInto('uploads')
      .values({ id, repositoryId: repo.id, size: 0, handle: JSON.stringify(handle), createdBy: pusher, createdAt: now, updatedAt: now })
      .execute();
    // No live hash yet: the first chunk starts one (#write), so an idle session costs a row and nothing in memory.
    return { id, size: 0 };
  }

  /** Upload sessions open in the whole cluster (for the metrics). */
  async countOpen(): Promise<number> {
    const row = await this.#db.selectFrom('uploads').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async #count(column: 'createdBy' | 'repositoryId', value: number): Promise<number> {
    const row = await this.#db.selectFrom('uploads').select((eb) => eb.fn.countAll<number>().as('n')).where(column, '=', value).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  #tooMany(what: string, name: RepoName, open: number, limit: number): BerthError {
    return tooManyUploads(`${what}: finish or cancel some (DELETE /v2/${name}/blobs/uploads/<uuid>); idle sessions expire after `
      + `${formatDuration(this.#limits.expireAfterMs)} (uploads.expireAfter)`, { open, limit });
  }

  async status(name: RepoName, id: string): Promise<UploadStatus> {
    const row = await this.#load(name, id);
    return { id, size: row.size };
  }

  /**
   * Appends a chunk. `range` is the PATCH's Content-Range (inclusive start-end) when the client sent one; a
   * streamed PATCH has none and simply appends.
   */
  async append(name: RepoName, id: string, source: Readable, range: { start: number; end: number } | null): Promise<UploadStatus> {
    return this.#exclusive(id, async () => {
      const row = await this.#load(name, id);
      if (range && range.start !== row.size) throw uploadOutOfOrder(row.size);
      return { id, size: await this.#write(row, source) };
    });
  }

  /**
   * Closes the session: appends the optional final chunk (at `range.start` when the client sent a Content-Range),
   * verifies the digest, commits the blob.
   */
  async finish(
    name: RepoName, id: string, digest: Digest, finalChunk: Readable | null, range: { start: number; end: number } | null = null,
  ): Promise<BlobInfo> {
    return this.#finish(name, id, digest, finalChunk, range, null);
  }

  async #finish(
    name: RepoName, id: string, digest: Digest, finalChunk: Readable | null, range: { start: number; end: number } | null,
    onHashed: ((sha256: string) => void) | null,
  ): Promise<BlobInfo> {
    return this.#exclusive(id, async () => {
      const row = await this.#load(name, id);
      // Checked again at completion: the owner may have reached its quota since the session started.
      await refuseIfOverQuota(this.#db, repoOwner(name), this.#defaultQuota);
      if (finalChunk && range && range.start !== row.size) throw uploadOutOfOrder(row.size);
      const size = finalChunk ? await this.#write(row, finalChunk, onHashed) : row.size;
      return this.#commit({ ...row, size }, digest);
    });
  }

  /**
   * Monolithic upload (`POST ?digest=`): a session that is started, written and committed in one request.
   * `onVerified` is called as soon as the last byte is hashed and matched the digest, before the bytes are made
   * durable and committed: a mirror lets its client have the end of a blob then (src/mirror/mirror-service.ts).
   */
  async putMonolithic(name: RepoName, digest: Digest, body: Readable, pusher: number | null, onVerified?: () => void): Promise<BlobInfo> {
    const { id } = await this.start(name, pusher);
    const onHashed = onVerified && digestAlgorithm(digest) === 'sha256'
      ? (sha256: string): void => { if (sha256 === digestHex(digest)) onVerified(); }
      : null;
    try {
      return await this.#finish(name, id, digest, body, null, onHashed);
    } catch (err) {
      // Nobody knows this session's id: if the request fails (body cut off, wrong digest) drop it now rather
      // than leave a row and scratch data for the purge job.
      await this.cancel(name, id).catch(() => undefined);
      throw err;
    }
  }

  async cancel(name: RepoName, id: string): Promise<void> {
    const row = await this.#load(name, id);
    await this.#discard(row);
  }

  /** Deletes sessions idle since before `cutoff` and their scratch data; returns how many. */
  async purgeIdleSince(cutoff: number): Promise<number> {
    const stale = await this.#db.selectFrom('uploads').select(['id', 'repositoryId', 'size', 'handle', 'sha256']).where('updatedAt', '<', cutoff).execute();
    for (const row of stale) {
      if (this.#busy.has(row.id)) continue;
      await this.#discard({ ...row, handle: JSON.parse(row.handle) as UploadHandle });
    }
    // Scratch data whose row is gone (a crash between the two) is removed too once it is old enough.
    const known = new Set((await this.#db.selectFrom('uploads').select('id').execute()).map((r) => r.id));
    let orphans = 0;
    for await (const u of this.#blobs.listUploads()) {
      if (!known.has(u.uploadId) && u.modifiedAt < cutoff) {
        await this.#blobs.abortUpload(u.uploadId, {});
        orphans++;
      }
    }
    // Driver-level leftovers, e.g. S3 multipart uploads of a commit a crash interrupted.
    orphans += (await this.#blobs.purgeAbandoned?.(cutoff)) ?? 0;
    return stale.length + orphans;
  }

  /** `onHashed` gets the sha256 of the whole session once the chunk's last byte went through the hash. */
  async #write(row: UploadRow, source: Readable, onHashed: ((sha256: string) => void) | null = null): Promise<number> {
    const live = this.#live.get(row.id);
    const useLive = live !== undefined && live.size === row.size;
    // Hash a copy: if the chunk fails half-way the live hash must still describe the acknowledged bytes. A session's
    // first chunk starts a hash of everything too.
    const whole = useLive || row.size === 0;
    const hashing = new HashingStream(useLive ? live.hash.copy() : newHash('sha256'));
    if (whole && onHashed) hashing.once('end', () => onHashed(hashing.hash.copy().digest('hex')));
    let result: { handle: UploadHandle; size: number };
    // Piped by hand, not with pipeline(): when the blob store fails (S3 gone, disk full) the request body must stay
    // readable, so the error handler can drain it and the client gets its answer (a 503) instead of a reset.
    let bodyFailed = false;
    source.pipe(hashing);
    const received = finished(source).catch((err: unknown) => {
      bodyFailed = true;
      throw err;
    });
    try {
      [result] = await Promise.all([this.#blobs.appendUpload(row.id, row.handle, row.size, hashing), received]);
    } catch (err) {
      source.unpipe(hashing);
      hashing.destroy();
      // A body that broke off (client gone, bad chunked encoding) goes with its connection.
      if (bodyFailed) source.destroy();
      throw err;
    }
    if (whole) this.#live.set(row.id, { hash: hashing.hash, size: result.size });
    else this.#live.delete(row.id);
    const sha256 = whole ? hashing.hash.copy().digest('hex') : null;
    const updated = await this.#db.updateTable('uploads')
      .set({ size: result.size, handle: JSON.stringify(result.handle), sha256, updatedAt: this.#clock.now() })
      .where('id', '=', row.id)
      .where('size', '=', row.size)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) throw uploadInvalid('the upload was changed by another request; check its status and retry');
    row.handle = result.handle;
    row.sha256 = sha256;
    return result.size;
  }

  async #commit(row: UploadRow, digest: Digest): Promise<BlobInfo> {
    const actual = await this.#digestOf(row, digestAlgorithm(digest));
    if (actual !== digestHex(digest)) {
      await this.#discard(row);
      throw digestInvalid('the uploaded content does not match the digest given; the upload was discarded', {
        expected: digest, actual: `${digestAlgorithm(digest)}:${actual}`,
      });
    }
    // Bytes durable at their content address first; only then does one transaction make the blob visible.
    await this.#blobs.commitUpload(row.id, row.handle, digest);
    const now = this.#clock.now();
    // PostgreSQL, READ COMMITTED. Locks in the global order (README "Isolation"): the blob row, then the link.
    const beingCollected = await transaction(this.#db, async (tx) => {
      // An upsert, not DO NOTHING: it locks an existing row, so a concurrent GC's DELETE cannot remove it before our
      // link below is written. It updates a non-key column only (size: the same value, content-addressed), so the
      // lock is FOR NO KEY UPDATE: it blocks GC's DELETE and other commits of this digest, but not the KEY SHARE a
      // mount's link takes for its foreign key. Updating the key (FOR UPDATE) made a commit and a mount of the same
      // blob into the same repository deadlock: each held what the other needed (the blob row, the new link).
      await tx.insertInto('blobs').values({ digest, size: row.size, createdAt: now })
        .onConflict((oc) => oc.column('digest').doUpdateSet({ size: (eb) => eb.ref('excluded.size') })).execute();
      await tx.insertInto('repositoryBlobs').values({ repositoryId: row.repositoryId, digest, createdAt: now })
        .onConflict((oc) => oc.columns(['repositoryId', 'digest']).doNothing()).execute();
      await tx.deleteFrom('uploads').where('id', '=', row.id).execute();
      return (await tx.selectFrom('blobDeletions').select('digest').where('digest', '=', digest).executeTakeFirst()) !== undefined;
    }).catch(async (err: unknown) => {
      await this.#unlinkUncommitted(row, digest).catch(() => undefined);
      throw err;
    });
    this.#live.delete(row.id);
    // GC may have deleted this digest's row before our transaction: then it is deleting the bytes now (tombstone:
    // wait for it) or already did (our commit above found the old file and linked nothing). Either way the bytes
    // are put back from our scratch data; from our transaction on, our link keeps GC away for good.
    if (beingCollected) await this.#waitForDeletion(digest);
    if (beingCollected || !(await this.#blobs.stat(digest))) await this.#blobs.commitUpload(row.id, row.handle, digest);
    // The commit replaced the stored bytes with these verified ones: a quarantined blob (corrupt or missing, see
    // BlobQuarantine) is served again. Last, after any re-commit above; a crash before it leaves the blob quarantined
    // (the next push or scrub releases it), never a bad copy served.
    await this.#quarantine.release(digest);
    await this.#blobs.abortUpload(row.id, row.handle);
    return { digest, size: row.size };
  }

  /**
   * The transaction that would have made `digest` visible failed (a full disk, a lost database connection): the file
   * linked just before is taken back unless a committed row needs it, rather than left for GC. Another upload of the
   * same digest may commit between our check and the delete, so the row is looked for again afterwards and the
   * bytes put back from our scratch copy if one appeared; that upload also re-links them itself if it finds the file
   * gone after its transaction. An unanswered query leaves the file alone (the commit may have happened).
   */
  async #unlinkUncommitted(row: UploadRow, digest: Digest): Promise<void> {
    const known = async (): Promise<boolean> =>
      (await this.#db.selectFrom('blobs').select('digest').where('digest', '=', digest).executeTakeFirst()) !== undefined;
    if (await known()) return;
    await this.#blobs.delete(digest);
    if (await known()) await this.#blobs.commitUpload(row.id, row.handle, digest);
  }

  async #waitForDeletion(digest: Digest): Promise<void> {
    // A deletion takes milliseconds; a tombstone older than this belongs to a GC that died, whose bytes we restore.
    const deadline = this.#clock.now() + 5 * 60_000;
    while (this.#clock.now() < deadline) {
      const pending = await this.#db.selectFrom('blobDeletions').select('digest').where('digest', '=', digest).executeTakeFirst();
      if (!pending) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async #digestOf(row: UploadRow, algorithm: 'sha256' | 'sha512'): Promise<string> {
    if (row.size === 0) return newHash(algorithm).digest('hex');
    const live = this.#live.get(row.id);
    if (algorithm === 'sha256' && live && live.size === row.size) {
      this.#live.delete(row.id);
      return live.hash.digest('hex');
    }
    if (algorithm === 'sha256' && row.sha256 !== null) return row.sha256;
    const hashing = new HashingStream(newHash(algorithm));
    await pipeline(await this.#blobs.readUpload(row.id, row.handle), hashing, async function* (chunks) {
      for await (const _ of chunks) { /* drain */ }
    });
    if (hashing.bytes !== row.size) throw sizeInvalid(`upload holds ${hashing.bytes} bytes, expected ${row.size}`);
    return hashing.hash.digest('hex');
  }

  async #discard(row: UploadRow): Promise<void> {
    await this.#db.deleteFrom('uploads').where('id', '=', row.id).execute();
    this.#live.delete(row.id);
    await this.#blobs.abortUpload(row.id, row.handle);
  }

  async #load(name: RepoName, id: string): Promise<UploadRow> {
    const row = await this.#db.selectFrom('uploads as u')
      .innerJoin('repositories as r', 'r.id', 'u.repositoryId')
      .select(['u.id', 'u.repositoryId', 'u.size', 'u.handle', 'u.sha256'])
      .where('u.id', '=', id)
      .where('r.name', '=', name)
      .executeTakeFirst();
    if (!row) throw uploadUnknown(id);
    return { ...row, handle: JSON.parse(row.handle) as UploadHandle };
  }

  async #exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    if (this.#busy.has(id)) throw uploadInvalid('another request is writing to this upload; wait for it and retry');
    this.#busy.add(id);
    try {
      return await fn();
    } finally {
      this.#busy.delete(id);
    }
  }
}
