import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';

/**
 * Where blob bytes live. Knows digests and upload ids only: no repositories, no metadata (that is the DB's).
 *
 * Uploads are a private scratch area: `startUpload` → `appendUpload`* → `commitUpload` (bytes become durable at
 * the content-addressed key; this is the commit point) or `abortUpload`. The caller hashes what it appends and
 * verifies the digest before committing; `readUpload` lets it re-hash when the live hash is gone (restart, other
 * replica). `UploadHandle` is the driver's state for a session (e.g. S3 multipart id and parts), kept in the upload
 * row so any replica can continue.
 */
export interface BlobStore {
  startUpload(uploadId: string): Promise<UploadHandle>;
  /** Appends the whole `source` at `offset` (the session's current size) and returns the new handle and size. */
  appendUpload(uploadId: string, handle: UploadHandle, offset: number, source: Readable): Promise<{ handle: UploadHandle; size: number }>;
  readUpload(uploadId: string, handle: UploadHandle): Promise<Readable>;
  /** Makes the upload's bytes durable as blob `digest`; idempotent when the blob already exists. */
  commitUpload(uploadId: string, handle: UploadHandle, digest: Digest): Promise<void>;
  abortUpload(uploadId: string, handle: UploadHandle): Promise<void>;
  listUploads(): AsyncIterable<{ uploadId: string; modifiedAt: number }>;

  stat(digest: Digest): Promise<BlobStat | null>;
  /** Streams the blob, or the inclusive byte range `[start, end]` of it. */
  read(digest: Digest, range?: { start: number; end: number }): Promise<Readable>;
  delete(digest: Digest): Promise<void>;
  list(): AsyncIterable<BlobStat>;
}

export type UploadHandle = Record<string, unknown>;

export interface BlobStat {
  readonly digest: Digest;
  readonly size: number;
  readonly modifiedAt: number;
}
