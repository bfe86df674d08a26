import { randomBytes } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command,
  PutObjectCommand, S3Client, UploadPartCopyCommand, type _Object,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { digestAlgorithm, digestHex, makeDigest, type Digest } from '../../oci/digest.js';
import { isNetworkFailure, isUnavailable, unavailable } from '../../util/errors.js';
import type { BlobStat, BlobStore, UploadHandle } from '../blob-store.js';

export interface S3BlobStoreOptions {
  /** Endpoint URL of an S3-compatible server; undefined: AWS S3 for `region`. */
  readonly endpoint?: string | undefined;
  readonly bucket: string;
  readonly region: string;
  /** Prepended to every key; '' or ending in '/' (one is added otherwise). */
  readonly prefix: string;
  /** `endpoint/bucket/key` URLs instead of `bucket.endpoint/key` (most self-hosted servers need it). */
  readonly forcePathStyle: boolean;
  /** `init()` creates the bucket when it does not exist. */
  readonly createBucket: boolean;
  /** Explicit credentials; undefined: the SDK's standard chain (AWS_* environment, ~/.aws files, instance roles). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
  /** Lifetime of the presigned URLs blob GETs are redirected to; null: no redirects, bytes stream through Berth. */
  readonly redirectTtlSeconds?: number | null;
  /** A multipart upload younger than this is never aborted by `purgeAbandoned` (default one hour). */
  readonly abandonedAfterMs?: number;
}

/**
 * Size of every upload piece but the last. S3 multipart parts must be ≥ 5 MiB except the last one; keeping the
 * pieces at this size lets commit assemble them server-side (UploadPartCopy), and bounds the memory of an append
 * to one buffer of this size whatever the blob size. At most 10,000 parts: blobs up to 78 GiB.
 */
export const PART_SIZE = 8 * 1024 * 1024;
const MAX_PARTS = 10_000;
const CONCURRENCY = 4;
const CONNECT_TIMEOUT_MS = 5_000;

interface Piece {
  readonly key: string;
  readonly size: number;
}

/**
 * Blobs in an S3 bucket:
 *   <prefix>blobs/<algorithm>/<ab>/<hex>      committed blobs, content-addressed; written only by commitUpload
 *   <prefix>uploads/<uploadId>/<seq>-<tag>    scratch pieces of an upload: PART_SIZE bytes each but the last
 * The upload handle `{ pieces: [{ key, size }], replaced?: [key] }` lists the pieces in order and is the truth:
 * objects under an upload's prefix that it does not name (left by a failed or concurrent append) are ignored, and
 * removed by abort. `replaced` names the short piece the last append rewrote, deleted by the next one.
 *
 * Why readable pieces and not one multipart upload per session: S3 cannot read back the parts of a multipart
 * upload in progress, and a session that moved to another replica must be re-hashed from storage before commit.
 * Chunked uploads still map to an S3 multipart upload: commit assembles the pieces into the blob key with
 * UploadPartCopy (server-side, no bytes through Berth), and the 5 MiB minimum part size stays hidden in here —
 * appends of any size are re-cut into PART_SIZE pieces.
 */
export class S3BlobStore implements BlobStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #createBucket: boolean;
  readonly #redirectTtlSeconds: number | null;
  readonly #abandonedAfterMs: number;

  constructor(opts: S3BlobStoreOptions) {
    this.#bucket = opts.bucket;
    this.#prefix = opts.prefix === '' || opts.prefix.endsWith('/') ? opts.prefix : `${opts.prefix}/`;
    this.#createBucket = opts.createBucket;
    this.#redirectTtlSeconds = opts.redirectTtlSeconds ?? null;
    // A commit assembles its multipart upload in seconds to minutes; one older than this was left by a crash.
    this.#abandonedAfterMs = opts.abandonedAfterMs ?? 60 * 60_000;
    // Many pulls stream at once, each holding a socket until its body is read; the SDK's default pool is 50.
    const agent = { keepAlive: true, maxSockets: 512 };
    this.#client = new S3Client({
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      ...(opts.credentials ? { credentials: { ...opts.credentials } } : {}),
      // Newer SDKs add CRC checksums to every request and verify them on responses; older servers (Ceph RGW 16)
      // reject or lack them. Checksums only where the API requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // A server that does not accept the connection within this long is away: answer 503 rather than hang.
      requestHandler: { httpAgent: new HttpAgent(agent), httpsAgent: new HttpsAgent(agent), connectionTimeout: CONNECT_TIMEOUT_MS },
    });
    // Every command, after the SDK's own retries: an unreachable server becomes one error, `unavailable` (503 +
    // Retry-After), which each surface answers in its own shape. Other errors (missing keys, denied) pass as they are.
    this.#client.middlewareStack.add((next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        throw asUnavailable(err);
      }
    }, { step: 'initialize', name: 'berthUnreachableAs503' });
  }

  /** Checks that the bucket is reachable, creating it when missing and allowed. */
  async init(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
      return;
    } catch (err) {
      if (statusOf(err) === 403) throw new Error(`S3 bucket ${this.#bucket}: access denied; check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)`, { cause: err });
      if (statusOf(err) !== 404) throw new Error(`S3 bucket ${this.#bucket}: cannot reach it: ${describe(err)}`, { cause: err });
    }
    if (!this.#createBucket) throw new Error(`S3 bucket ${this.#bucket} does not exist (storage.s3.createBucket is off)`);
    const region = await this.#client.config.region();
    try {
      await this.#client.send(new CreateBucketCommand({
        Bucket: this.#bucket,
        // us-east-1 is the default location and must not be named (S3 answers InvalidLocationConstraint).
        ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as never } }),
      }));
    } catch (err) {
      // Another replica starting at the same time created it first.
      if (nameOf(err) !== 'BucketAlreadyOwnedByYou') throw new Error(`S3 bucket ${this.#bucket}: cannot create it: ${describe(err)}`, { cause: err });
    }
  }

  /** Releases the client's sockets. */
  close(): void {
    this.#client.destroy();
  }

  async startUpload(_uploadId: string): Promise<UploadHandle> {
    return { pieces: [] };
  }

  async appendUpload(uploadId: string, handle: UploadHandle, offset: number, source: Readable): Promise<{ handle: UploadHandle; size: number }> {
    const pieces = this.#pieces(uploadId, handle);
    const held = pieces.reduce((n, p) => n + p.size, 0);
    if (held !== offset) throw new Error(`upload ${uploadId}: its handle holds ${held} bytes, not ${offset}`);
    // The piece the previous append replaced: deleted only now that the caller hands back the handle without it
    // (stored in its upload row), so a crash before that row was written cannot lose acknowledged bytes.
    await mapLimit(this.#replaced(uploadId, handle), CONCURRENCY, (key) => this.#deleteKey(key)).catch(() => undefined);
    const buffer = Buffer.allocUnsafe(PART_SIZE);
    let filled = 0;
    let received = 0;
    // Every piece but the last is full; a short last piece is read back and rewritten with the new bytes behind it.
    const last = pieces.at(-1);
    const carried = last && last.size < PART_SIZE ? last : null;
    const kept = carried ? pieces.slice(0, -1) : pieces;
    let seq = pieces.length === 0 ? 0 : seqOf(pieces.at(-1)!.key) + 1;
    // A fresh tag per append: a concurrent or failed attempt never overwrites a piece some handle names.
    const tag = randomBytes(4).toString('hex');
    const written: Piece[] = [];
    const flush = async (): Promise<void> => {
      if (kept.length + written.length >= MAX_PARTS) throw new Error(`upload ${uploadId}: larger than ${MAX_PARTS} parts of ${PART_SIZE} bytes`);
      const key = `${this.#uploadDir(uploadId)}${String(seq++).padStart(6, '0')}-${tag}`;
      await this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: buffer.subarray(0, filled), ContentLength: filled }));
      written.push({ key, size: filled });
      filled = 0;
    };
    try {
      if (carried) filled = await this.#readInto(carried, buffer);
      for await (const chunk of source) {
        let data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        received += data.length;
        while (data.length > 0) {
          const n = data.copy(buffer, filled, 0, Math.min(data.length, PART_SIZE - filled));
          filled += n;
          data = data.subarray(n);
          if (filled === PART_SIZE) await flush();
        }
      }
      if (received === 0) return { handle: { pieces }, size: offset };
      if (filled > 0) await flush();
    } catch (err) {
      // The caller keeps the previous handle: drop what this attempt wrote (abort sweeps up what a crash leaves).
      await mapLimit(written, CONCURRENCY, (p) => this.#deleteKey(p.key)).catch(() => undefined);
      throw err;
    }
    // The short piece this append rewrote stays until the next append (see above), or until abort.
    return { handle: { pieces: [...kept, ...written], ...(carried ? { replaced: [carried.key] } : {}) }, size: offset + received };
  }

  async readUpload(uploadId: string, handle: UploadHandle): Promise<Readable> {
    const pieces = this.#pieces(uploadId, handle);
    const open = (key: string): Promise<Readable> => this.#get(key);
    // One GET at a time, each opened when the previous piece is drained. A body cut off by the server going away is
    // the same outage as a refused request.
    return Readable.from((async function* () {
      try {
        for (const piece of pieces) yield* await open(piece.key);
      } catch (err) {
        throw asUnavailable(err);
      }
    })(), { objectMode: false });
  }

  async commitUpload(uploadId: string, handle: UploadHandle, digest: Digest): Promise<void> {
    const pieces = this.#pieces(uploadId, handle);
    const Key = this.#blobKey(digest);
    const Bucket = this.#bucket;
    // Written even when the blob exists (same bytes: content-addressed): the new LastModified restarts the age GC
    // judges orphan blobs by, as the filesystem driver's touch does (see GarbageCollector).
    if (pieces.length === 0) {
      await this.#client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.alloc(0), ContentLength: 0, ContentType: 'application/octet-stream' }));
      return;
    }
    if (pieces.length === 1) {
      await this.#client.send(new CopyObjectCommand({ Bucket, Key, CopySource: this.#copySource(pieces[0]!.key), ContentType: 'application/octet-stream', MetadataDirective: 'REPLACE' }));
      return;
    }
    // Completing the multipart upload is the commit point: the blob appears whole or not at all.
    const { UploadId } = await this.#client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/octet-stream' }));
    try {
      const parts = await mapLimit(pieces, CONCURRENCY, async (piece, i) => {
        const res = await this.#client.send(new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber: i + 1, CopySource: this.#copySource(piece.key) }));
        return { PartNumber: i + 1, ETag: res.CopyPartResult?.ETag };
      });
      await this.#client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  async abortUpload(uploadId: string, _handle: UploadHandle): Promise<void> {
    // Everything under the upload's prefix, not only what the handle names: failed appends leave pieces too.
    const keys: string[] = [];
    for await (const o of this.#listObjects(this.#uploadDir(uploadId))) keys.push(o.Key!);
    await mapLimit(keys, CONCURRENCY, (key) => this.#deleteKey(key));
  }

  async *listUploads(): AsyncIterable<{ uploadId: string; modifiedAt: number }> {
    const dir = `${this.#prefix}uploads/`;
    // Keys come sorted, so an upload's pieces are consecutive: one entry per upload, with its newest piece's time.
    let current = null as { uploadId: string; modifiedAt: number } | null;
    for await (const o of this.#listObjects(dir)) {
      const uploadId = o.Key!.slice(dir.length).split('/')[0]!;
      const modifiedAt = o.LastModified?.getTime() ?? 0;
      if (current?.uploadId === uploadId) {
        current.modifiedAt = Math.max(current.modifiedAt, modifiedAt);
        continue;
      }
      if (current) yield current;
      current = { uploadId, modifiedAt };
    }
    if (current) yield current;
  }

  async purgeAbandoned(before: number): Promise<number> {
    // Never a young one, whatever the caller's cutoff: a commit on another replica may be assembling it.
    const cutoff = Math.min(before, Date.now() - this.#abandonedAfterMs);
    let aborted = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    do {
      const res = await this.#client.send(new ListMultipartUploadsCommand({ Bucket: this.#bucket, Prefix: `${this.#prefix}blobs/`, KeyMarker, UploadIdMarker }));
      for (const u of res.Uploads ?? []) {
        if (!u.Key || !u.UploadId || (u.Initiated?.getTime() ?? 0) >= cutoff) continue;
        await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: u.Key, UploadId: u.UploadId })).catch((err: unknown) => {
          if (nameOf(err) !== 'NoSuchUpload') throw err;
        });
        aborted++;
      }
      if (!res.IsTruncated) break;
      KeyMarker = res.NextKeyMarker;
      UploadIdMarker = res.NextUploadIdMarker;
    } while (KeyMarker);
    return aborted;
  }

  async stat(digest: Digest): Promise<BlobStat | null> {
    try {
      const res = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#blobKey(digest) }));
      return { digest, size: res.ContentLength ?? 0, modifiedAt: res.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (isMissingKey(err)) return null;
      throw err;
    }
  }

  async read(digest: Digest, range?: { start: number; end: number }): Promise<Readable> {
    return this.#get(this.#blobKey(digest), range);
  }

  async redirectUrl(digest: Digest): Promise<string | null> {
    return this.#redirectTtlSeconds === null ? null : this.presignedUrl(digest, this.#redirectTtlSeconds);
  }

  /** A URL anyone holding it can GET the blob from, for `expiresInSeconds`. */
  async presignedUrl(digest: Digest, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.#client, new GetObjectCommand({ Bucket: this.#bucket, Key: this.#blobKey(digest) }), { expiresIn: expiresInSeconds });
  }

  async delete(digest: Digest): Promise<void> {
    await this.#deleteKey(this.#blobKey(digest));
  }

  async *list(): AsyncIterable<BlobStat> {
    const dir = `${this.#prefix}blobs/`;
    for await (const o of this.#listObjects(dir)) {
      const [algorithm, fan, hex, ...rest] = o.Key!.slice(dir.length).split('/');
      if ((algorithm !== 'sha256' && algorithm !== 'sha512') || !hex || rest.length > 0 || fan !== hex.slice(0, 2)) continue;
      yield { digest: makeDigest(algorithm, hex), size: o.Size ?? 0, modifiedAt: o.LastModified?.getTime() ?? 0 };
    }
  }

  async #get(key: string, range?: { start: number; end: number }): Promise<Readable> {
    try {
      const res = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
      if (!(res.Body instanceof Readable)) throw new Error(`S3 GetObject ${key}: the body is not a Node stream`);
      return res.Body;
    } catch (err) {
      // The code callers already know from the filesystem driver: BlobService turns it into BLOB_UNKNOWN.
      if (isMissingKey(err)) throw Object.assign(new Error(`S3 object ${key} does not exist`, { cause: err }), { code: 'ENOENT' });
      throw err;
    }
  }

  async #readInto(piece: Piece, buffer: Buffer): Promise<number> {
    let n = 0;
    try {
      for await (const chunk of await this.#get(piece.key)) n += (chunk as Buffer).copy(buffer, n);
    } catch (err) {
      throw asUnavailable(err);
    }
    if (n !== piece.size) throw new Error(`S3 object ${piece.key} holds ${n} bytes, its upload handle says ${piece.size}`);
    return n;
  }

  async #deleteKey(key: string): Promise<void> {
    // S3 answers 204 for a missing key too.
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
  }

  async *#listObjects(prefix: string): AsyncIterable<_Object> {
    let ContinuationToken: string | undefined;
    do {
      const res = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, ContinuationToken }));
      for (const o of res.Contents ?? []) if (o.Key) yield o;
      ContinuationToken = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  /** The handle's pieces, checked: it comes from the database, and every key must lie under this upload. */
  #pieces(uploadId: string, handle: UploadHandle): Piece[] {
    const pieces = handle.pieces ?? [];
    const dir = this.#uploadDir(uploadId);
    if (!Array.isArray(pieces)) throw new Error(`upload ${uploadId}: malformed S3 upload handle`);
    return pieces.map((p: unknown) => {
      const { key, size } = (p ?? {}) as Partial<Piece>;
      if (typeof key !== 'string' || !key.startsWith(dir) || typeof size !== 'number') throw new Error(`upload ${uploadId}: malformed S3 upload handle`);
      return { key, size };
    });
  }

  /** Keys the handle marks as rewritten into later pieces; only ever under this upload. */
  #replaced(uploadId: string, handle: UploadHandle): string[] {
    const keys = handle.replaced ?? [];
    const dir = this.#uploadDir(uploadId);
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string' && k.startsWith(dir))) throw new Error(`upload ${uploadId}: malformed S3 upload handle`);
    return keys as string[];
  }

  #uploadDir(uploadId: string): string {
    // Upload ids are generated by Berth (UUIDs) and validated at the edge; never a key from a client.
    return `${this.#prefix}uploads/${uploadId}/`;
  }

  #blobKey(digest: Digest): string {
    const hex = digestHex(digest);
    return `${this.#prefix}blobs/${digestAlgorithm(digest)}/${hex.slice(0, 2)}/${hex}`;
  }

  #copySource(key: string): string {
    return `${this.#bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }
}

/**
 * `err` as `unavailable` when it says the S3 server is away — refused, reset or timed-out sockets, a gateway or
 * "service unavailable" answer (502–504: SlowDown too) — else as it is.
 */
function asUnavailable(err: unknown): unknown {
  if (isUnavailable(err)) return err;
  const status = statusOf(err);
  const away = isNetworkFailure(err) || nameOf(err) === 'TimeoutError' || (status !== undefined && status >= 502 && status <= 504)
    || /socket hang up|aborted|premature close/i.test(String((err as Error | null)?.message ?? ''));
  return away ? unavailable('blob storage', err) : err;
}

function seqOf(key: string): number {
  return Number(key.slice(key.lastIndexOf('/') + 1).split('-')[0]);
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function nameOf(err: unknown): string | undefined {
  return (err as { name?: string } | null)?.name;
}

/** A missing object (HEAD answers a bare 404, GET names NoSuchKey); a missing bucket is not "not found". */
function isMissingKey(err: unknown): boolean {
  return nameOf(err) === 'NoSuchKey' || (nameOf(err) === 'NotFound' && statusOf(err) === 404);
}

function describe(err: unknown): string {
  const status = statusOf(err);
  return `${nameOf(err) ?? 'error'}${status ? ` (HTTP ${status})` : ''}: ${(err as Error).message}`;
}

/** Runs `fn` over `items`, at most `limit` at a time; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
