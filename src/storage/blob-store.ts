import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';

/**
 * Where blob bytes live. Knows digests and upload ids only: no repositories, no metadata (that is the DB's).
 *
 * Uploads are a private scratch area: `startUpload` → `appendUpload`* → `commitUpload` (bytes become durable at
 * the content-addressed key; this is the commit point) → `abortUpload` (drops the scratch data, also used to
 * cancel). The scratch data outlives the commit so the bytes can be committed again if a concurrent GC removed
 * the blob before the caller's database transaction linked it. The caller hashes what it appends and
 * verifies the digest before committing; `readUpload` lets it re-hash when the live hash is gone (restart, other
 * replica). `UploadHandle` is the driver's state for a session (e.g. the S3 driver's list of pieces), kept in the
 * upload row so any replica can continue.
 */
export interface BlobStore {
  startUpload(uploadId: string): Promise<UploadHandle>;
  /** Appends the whole `source` at `offset` (the session's current size) and returns the new handle and size. */
  appendUpload(uploadId: string, handle: UploadHandle, offset: number, source: Readable): Promise<{ handle: UploadHandle; size: number }>;
  readUpload(uploadId: string, handle: UploadHandle): Promise<Readable>;
  /** Makes the upload's bytes durable as blob `digest`; idempotent, also when the blob already exists. */
  commitUpload(uploadId: string, handle: UploadHandle, digest: Digest): Promise<void>;
  abortUpload(uploadId: string, handle: UploadHandle): Promise<void>;
  listUploads(): AsyncIterable<{ uploadId: string; modifiedAt: number }>;
  /**
   * Optional: removes driver-level leftovers of uploads older than `before` (ms since epoch) that no session owns,
   * returning how many; the upload purge job calls it. S3: multipart uploads a crash left in the middle of a
   * commit (the driver also keeps any it started within the last hour, whatever `before` says).
   */
  purgeAbandoned?(before: number): Promise<number>;

  stat(digest: Digest): Promise<BlobStat | null>;
  /** Streams the blob, or the inclusive byte range `[start, end]` of it. */
  read(digest: Digest, range?: { start: number; end: number }): Promise<Readable>;
  /**
   * Optional capability of drivers whose blobs are local files: the blob opened for positional reads, closed by
   * the caller. It exists for serving large blobs fast: a stream from `read()` must hand each consumer a fresh
   * buffer (a Readable cannot know when its consumer is done with a chunk, so it can never recycle one), and at
   * GB/s those short-lived multi-MiB buffers cost a full GC every few dozen MiB. With positional reads the caller
   * can cycle a few buffers of its own, reusing one only once its consumer reports it done. Callers must work
   * without it (`read()` is the general path): drivers that are not file-backed (S3) leave it out.
   */
  openFile?(digest: Digest): Promise<BlobFile>;
  /**
   * Optional capability: a short-lived URL the client may fetch the blob from directly (an S3 presigned URL), so
   * the bytes bypass Berth; null when the driver is not configured to redirect. Blob GETs answer 307 to it.
   */
  redirectUrl?(digest: Digest): Promise<string | null>;
  delete(digest: Digest): Promise<void>;
  /** Optional: releases what the driver holds open (the S3 client's sockets); the store is unusable afterwards. */
  close?(): void;
  list(): AsyncIterable<BlobStat>;
}

/** A blob opened for positional reads. */
export interface BlobFile {
  /** Reads up to `length` bytes of the blob at `position` into `buffer` at `offset`; 0 bytes read means the end. */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
  /**
   * Present when what is read may be shared between responses (http/send-file.ts reads each block once for all of
   * them): `key` names these very bytes (files with equal keys hold equal bytes), `size` is the file's length.
   * Absent for a read that must see every byte itself (a verified read hashes them).
   */
  readonly shared?: { readonly key: string; readonly size: number };
}

export type UploadHandle = Record<string, unknown>;

export interface BlobStat {
  readonly digest: Digest;
  readonly size: number;
  readonly modifiedAt: number;
}
