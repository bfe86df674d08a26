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
  deletedTags: DeletedTagsTable;
  uploads: UploadsTable;
  downloadsDaily: DownloadsDailyTable;
  accounts: AccountsTable;
  orgMembers: OrgMembersTable;
  teams: TeamsTable;
  teamMembers: TeamMembersTable;
  accessTokens: AccessTokensTable;
  packagePermissions: PackagePermissionsTable;
  signingKeys: SigningKeysTable;
  blobDeletions: BlobDeletionsTable;
  jobLeases: JobLeasesTable;
  sessions: SessionsTable;
  mirrorTags: MirrorTagsTable;
  mirrorPulls: MirrorPullsTable;
  mirrorUpstreams: MirrorUpstreamsTable;
  blobTotals: BlobTotalsTable;
  lifecyclePolicies: LifecyclePoliciesTable;
  hooks: HooksTable;
  webhookEvents: WebhookEventsTable;
  hookDeliveries: HookDeliveriesTable;
  trustPolicies: TrustPoliciesTable;
  auditLog: AuditLogTable;
  bots: BotsTable;
  ssoIdentities: SsoIdentitiesTable;
  packageBlobRefs: PackageBlobRefsTable;
  ownerBlobRefs: OwnerBlobRefsTable;
  packageStorage: PackageStorageTable;
  ownerStorage: OwnerStorageTable;
  packageDownloadsDaily: PackageDownloadsDailyTable;
  ownerDownloadsDaily: OwnerDownloadsDailyTable;
}

export interface RepositoriesTable {
  id: Generated<number>;
  name: string;
  owner: string;
  /** The user or organization owning the namespace; null for repositories pushed before accounts existed. */
  ownerId: number | null;
  visibility: Generated<'public' | 'private' | 'internal'>;
  /** From the `org.opencontainers.image.source` label/annotation of the first push that had one, or set by an admin. */
  sourceUrl: string | null;
  /** Markdown set by a package admin (migration 0020); null: none, the image's description stands in. */
  readme: Generated<string | null>;
  createdBy: number | null;
  createdAt: number;
  updatedAt: number;
  /** Set when the package was deleted (restorable until purged); `name` is then a tombstone no client can address. */
  deletedAt: Generated<number | null>;
  /** The name a deleted package had, and gets back when restored. */
  deletedName: Generated<string | null>;
}

/** A blob whose bytes are committed in the blob store. Shared by every repository that links it. */
export interface BlobsTable {
  digest: string;
  size: number;
  createdAt: number;
  /** When the bytes were last hashed and matched (migration 0011); null: not since the upload verified them. */
  checkedAt: Generated<number | null>;
  /** Set while the bytes are known not to match the digest, or gone: the blob is not served (migration 0011). */
  quarantinedAt: Generated<number | null>;
  quarantineReason: Generated<'corrupt' | 'missing' | null>;
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
  /** When the version last changed: pushed again, tagged, deleted or restored. */
  updatedAt: number;
  /** Set when the version was deleted (restorable until purged); /v2 no longer serves it. */
  deletedAt: Generated<number | null>;
  /** `org.opencontainers.image.description` / `.licenses` from the annotations or config labels, for the REST API. */
  description: Generated<string | null>;
  license: Generated<string | null>;
  /** The account that pushed it first (migration 0009); null when anonymous or pushed before that. */
  pushedBy: Generated<number | null>;
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

/** The tags a deleted version had: restoring it gives back those not taken by another version meanwhile. */
export interface DeletedTagsTable {
  manifestId: number;
  name: string;
  deletedAt: number;
}

export interface UploadsTable {
  id: string;
  repositoryId: number;
  /** Bytes acknowledged so far: the offset the next chunk must start at. */
  size: number;
  /** The blob store's handle for the session (JSON), so any replica can continue it. */
  handle: string;
  /** Hex sha256 of the `size` bytes so far when the process that wrote them hashed them all; else null. */
  sha256: Generated<string | null>;
  /** The user who started the session (migration 0010); null when anonymous or older. */
  createdBy: Generated<number | null>;
  createdAt: number;
  updatedAt: number;
}

export interface DownloadsDailyTable {
  manifestId: number;
  /** Days since the epoch, UTC. */
  day: number;
  count: number;
}

/** A user or an organization: one namespace each. */
export interface AccountsTable {
  id: Generated<number>;
  login: string;
  lowerLogin: string;
  type: 'user' | 'org';
  displayName: string | null;
  email: string | null;
  passwordHash: string | null;
  isAdmin: Generated<number>;
  disabledAt: number | null;
  membersCanCreate: Generated<number>;
  /** Comma-separated visibilities members may create packages with. */
  allowedVisibilities: Generated<string>;
  defaultVisibility: Generated<'public' | 'private' | 'internal'>;
  createdAt: number;
  updatedAt: number;
}

export interface OrgMembersTable {
  orgId: number;
  userId: number;
  role: 'owner' | 'member';
}

export interface TeamsTable {
  id: Generated<number>;
  orgId: number;
  name: string;
  lowerName: string;
  createdAt: number;
}

export interface TeamMembersTable {
  teamId: number;
  userId: number;
}

export interface AccessTokensTable {
  id: Generated<number>;
  userId: number;
  kind: 'personal' | 'ci';
  note: string;
  /** sha256 of the token; the token itself is never stored. */
  tokenHash: string;
  /** The prefix and first characters, for lists. */
  hint: string;
  /** Comma-separated scopes as granted. */
  scopes: string;
  repositoryLimit: string | null;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  createdAt: number;
}

export interface PackagePermissionsTable {
  repositoryId: number;
  principalType: 'user' | 'team';
  principalId: number;
  role: 'read' | 'write' | 'admin';
}

export interface SigningKeysTable {
  kid: string;
  privateJwk: string;
  publicJwk: string;
  createdAt: number;
  retiredAt: number | null;
}

/** A blob the garbage collector is deleting right now (see migration 0004). */
export interface BlobDeletionsTable {
  digest: string;
  startedAt: number;
}

/** Which replica runs a cluster-wide background job, until when (see maintenance/job-leases.ts). */
export interface JobLeasesTable {
  name: string;
  holder: string;
  expiresAt: number;
}

/** A web UI session (migration 0006): only the sha256 of its id is stored. */
export interface SessionsTable {
  idHash: string;
  userId: number;
  createdAt: number;
  lastSeenAt: number;
  /** Sliding: moved forward as the session is used. */
  expiresAt: number;
}

/** Which user an identity provider's subject is (migration 0023): the pair (issuer, subject), never a name. */
export interface SsoIdentitiesTable {
  issuer: string;
  subject: string;
  userId: number;
  createdAt: number;
  lastLoginAt: number;
}

/** When a tag of a pull-through mirror was last confirmed upstream (migration 0017). */
export interface MirrorTagsTable {
  repositoryId: number;
  name: string;
  checkedAt: number;
}

/** The blob store's count and bytes in 16 shards, kept by triggers on `blobs` (migration 0029); only the sum means anything. */
export interface BlobTotalsTable {
  shard: string;
  blobCount: number;
  blobBytes: number;
}

/** Pull-through mirrors added at run time by an admin (migration 0028); the configuration's are not here. */
export interface MirrorUpstreamsTable {
  namespace: string;
  url: string;
  username: string | null;
  /** Sealed with auth.keyEncryptionKey when one is set, else as given. */
  password: string | null;
  /** public, signed-in or org:LOGIN; null: mirror.access. */
  access: string | null;
  /** 1: Docker registry-mirrors mode goes through it. */
  isDefault: number;
  evictAfterMs: number | null;
  createdAt: number;
}

/** When a cached version of a pull-through mirror was last pulled through the cache (migration 0021). */
export interface MirrorPullsTable {
  manifestId: number;
  pulledAt: number;
}

/** Immutable-tag and retention rules of a namespace (`repositoryId` null) or of one package (migration 0013). */
export interface LifecyclePoliciesTable {
  id: Generated<number>;
  ownerId: number;
  repositoryId: number | null;
  /** JSON `{patterns, exclude}`, or null. */
  immutableTags: string | null;
  /** JSON retention rules, or null. */
  retention: string | null;
  updatedBy: number | null;
  updatedAt: number;
}

/** A webhook of a namespace, or of the instance (`ownerId` null) (migration 0014). */
export interface HooksTable {
  id: Generated<number>;
  /** Whose hook (migration 0022): the instance's, an organization's, a user's or one package's. */
  scope: Generated<'instance' | 'org' | 'user' | 'package'>;
  /** The account; null for the instance's hooks. */
  ownerId: number | null;
  /** The package of a `package` hook. */
  repositoryId: Generated<number | null>;
  url: string;
  contentType: Generated<string>;
  /** The HMAC key: sealed (`enc:v1:`) with auth.keyEncryptionKey when configured, else as given; null for none. */
  secret: string | null;
  /** JSON array of event names. */
  events: string;
  active: Generated<number>;
  disabledReason: string | null;
  createdAt: number;
  updatedAt: number;
}

/** The outbox: an event written in the transaction of the change that caused it (migration 0014). */
export interface WebhookEventsTable {
  id: Generated<number>;
  ownerId: number | null;
  /** The package the event is about, for its package hooks (migration 0022). */
  repositoryId: Generated<number | null>;
  event: string;
  action: string;
  /** The JSON body sent to receivers. */
  payload: string;
  fannedOut: Generated<number>;
  createdAt: number;
}

/** One event (or ping) to one hook, with the outcome of its last attempt (migration 0014). */
export interface HookDeliveriesTable {
  id: Generated<number>;
  hookId: number;
  eventId: number | null;
  /** `X-GitHub-Delivery`: the same on every attempt. */
  guid: string;
  event: string;
  action: string | null;
  payload: string;
  status: Generated<'pending' | 'delivered' | 'failed'>;
  attempts: Generated<number>;
  nextAttemptAt: number;
  statusCode: number | null;
  durationMs: number | null;
  response: string | null;
  redelivery: Generated<number>;
  createdAt: number;
  deliveredAt: number | null;
}

/** An organization's OIDC trust policy (migration 0015). */
export interface TrustPoliciesTable {
  id: Generated<number>;
  orgId: number;
  issuer: string;
  audience: string;
  /** JSON object: claim name → exact value or glob. */
  conditions: string;
  /** JSON array of package names or globs within the organization. */
  packages: string;
  /** Comma-separated subset of pull,push,delete. */
  actions: string;
  tokenLifetimeMs: number;
  createdBy: number | null;
  createdAt: number;
}

/** An organization's bot account (migration 0018). */
export interface BotsTable {
  id: Generated<number>;
  orgId: number;
  name: string;
  lowerName: string;
  description: Generated<string>;
  /** JSON array of package names or globs within the organization. */
  packages: string;
  /** Comma-separated subset of pull,push,delete. */
  actions: string;
  tokenHash: string;
  hint: string;
  secretVersion: Generated<number>;
  expiresAt: number | null;
  lastUsedAt: number | null;
  createdBy: number | null;
  createdAt: number;
  rotatedAt: number | null;
}

/** A blob the live versions of a package reference, and how many of them do (migration 0019). */
export interface PackageBlobRefsTable {
  repositoryId: number;
  digest: string;
  /** The size counted for it (0 while a mirror has not fetched it). */
  size: number;
  refs: number;
}

/** A blob the live packages of an owner reference, and how many of them do (migration 0019). */
export interface OwnerBlobRefsTable {
  /** Lowercase login, as `repositories.owner`. */
  owner: string;
  digest: string;
  size: number;
  packages: number;
}

/** A package's storage figure and quota (migration 0019). */
export interface PackageStorageTable {
  repositoryId: number;
  bytes: Generated<number>;
  quotaBytes: number | null;
  /** Live versions (migration 0025), kept by the same transactions as `bytes`. */
  versionCount: Generated<number>;
  /** `repositories.owner` (migration 0027): the owner's packages by size or downloads come from this table's indexes. */
  owner: string;
  /** Every download of the package, all time (migration 0027), added by the download counter's flush. */
  downloads: Generated<number>;
}

/** An owner's storage figure and quota (migration 0019). */
export interface OwnerStorageTable {
  owner: string;
  bytes: Generated<number>;
  quotaBytes: number | null;
  /** Live packages (migration 0027), kept by package creation, deletion and restore. */
  packageCount: Generated<number>;
  /** Live versions of the live packages (migration 0027), kept with `bytes`. */
  versionCount: Generated<number>;
}

/** Downloads of a package per day (migration 0027), its versions' added up; purged versions' stay. */
export interface PackageDownloadsDailyTable {
  repositoryId: number;
  /** Days since the epoch, UTC. */
  day: number;
  count: number;
}

/** Downloads of an owner's packages per day (migration 0027); purged packages' stay. */
export interface OwnerDownloadsDailyTable {
  /** Lowercase login, as `repositories.owner`. */
  owner: string;
  /** Days since the epoch, UTC. */
  day: number;
  count: number;
}

export type Db = Kysely<Database>;

/** Append-only audit records (migration 0016); no foreign keys, names copied in so a record outlives its subjects. */
export interface AuditLogTable {
  id: Generated<number>;
  action: string;
  orgId: number | null;
  orgLogin: string | null;
  actorId: number | null;
  actorLogin: string | null;
  tokenId: number | null;
  target: string | null;
  repository: string | null;
  before: string | null;
  after: string | null;
  address: string | null;
  userAgent: string | null;
  createdAt: number;
}
