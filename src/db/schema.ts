import type { Generated, Kysely } from 'kysely';

/**
 * Table types as TypeScript sees them (CamelCasePlugin maps them to snake_case SQL). Timestamps are integer
 * milliseconds since the epoch on both dialects.
 */
export interface Database {
  repositories: RepositoriesTable;
  blobs: BlobsTable;
  repositoryBlobs: RepositoryBlobsTable;
  manifests: ManifestsTable;
  manifestReferences: ManifestReferencesTable;
  tags: TagsTable;
  uploads: UploadsTable;
  downloadsDaily: DownloadsDailyTable;
}

export interface RepositoriesTable {
  id: Generated<number>;
  name: string;
  owner: string;
  createdAt: number;
  updatedAt: number;
}

/** A blob whose bytes are committed in the blob store. Shared by every repository that links it. */
export interface BlobsTable {
  digest: string;
  size: number;
  createdAt: number;
}

/** A blob is readable in a repository only through a link (upload, mount or manifest reference). */
export interface RepositoryBlobsTable {
  repositoryId: number;
  digest: string;
  createdAt: number;
}

export interface ManifestsTable {
  id: Generated<number>;
  repositoryId: number;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  subjectDigest: string | null;
  configDigest: string | null;
  size: number;
  /** The exact bytes received: served byte-for-byte, never re-serialised. */
  body: Buffer;
  /** JSON object of the manifest's annotations (for referrers and, later, package descriptions). */
  annotations: string;
  createdAt: number;
}

export interface ManifestReferencesTable {
  manifestId: number;
  digest: string;
  /** 'blob' (config, layer, cache blob) or 'manifest' (child of an index). */
  kind: 'blob' | 'manifest';
}

export interface TagsTable {
  repositoryId: number;
  name: string;
  manifestId: number;
  updatedAt: number;
}

export interface UploadsTable {
  id: string;
  repositoryId: number;
  /** Bytes acknowledged so far: the offset the next chunk must start at. */
  size: number;
  /** The blob store's handle for the session (JSON), so any replica can continue it. */
  handle: string;
  createdAt: number;
  updatedAt: number;
}

export interface DownloadsDailyTable {
  manifestId: number;
  /** Days since the epoch, UTC. */
  day: number;
  count: number;
}

export type Db = Kysely<Database>;
