import type { Db } from '../db/schema.js';
import type { Logger } from '../observability/logger.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from '../audit/audit-log.js';
import { BlobService } from './blob-service.js';
import { DownloadCounter } from './download-counter.js';
import type { ChangeFeed } from '../db/change-feed.js';
import { ChangeBoundCache, type CacheLookup } from '../db/change-bound-cache.js';
import { MANIFEST_CACHE_LIMITS, ManifestService } from './manifest-service.js';
import { ReferrersService } from './referrers-service.js';
import { RepositoryStore } from './repositories.js';
import { NO_TAG_PROTECTION, type TagProtection } from './tag-protection.js';
import { TagService } from './tag-service.js';
import { UploadService, type UploadLimits } from './upload-service.js';

/** The registry's use-cases, built once by the composition root and handed to the HTTP layer. */
export interface Registry {
  readonly repos: RepositoryStore;
  readonly blobs: BlobService;
  readonly uploads: UploadService;
  readonly manifests: ManifestService;
  readonly tags: TagService;
  readonly referrers: ReferrersService;
  readonly downloads: DownloadCounter;
  /** What immutable-tag rules protect (lifecycle/), also asked by package and version deletes. */
  readonly protection: TagProtection;
}

/** `verifyOnRead`: config `storage.verifyOnRead` (see BlobService). */
export function createRegistry(deps: {
  db: Db; blobs: BlobStore; clock: Clock; log: Logger; audit: AuditLog; uploadLimits?: UploadLimits; verifyOnRead?: boolean; protection?: TagProtection;
  /** Config `quota.default` (null: owners without their own quota have none). */
  defaultQuota?: number | null;
  /** Config `quota.warning`: the percent of a quota whose crossing is announced (`berth_quota` event). */
  quotaWarningPercent?: number;
  /** Config `audit.pulls`: each manifest GET recorded as package.pull. */
  auditPulls?: boolean;
  /** The database's change feed: manifest GETs are answered from memory while it stands still. */
  changes: ChangeFeed;
  /** Hears how each manifest lookup was answered (metrics). */
  onManifestLookup?: (result: CacheLookup) => void;
}): Registry {
  const { db, clock } = deps;
  const defaultQuota = deps.defaultQuota ?? null;
  const repos = new RepositoryStore({ db, clock });
  const downloads = new DownloadCounter({ db, clock, log: deps.log.child({ module: 'registry.downloads' }) });
  return {
    repos,
    blobs: new BlobService({
      db, blobs: deps.blobs, repos, clock, log: deps.log.child({ module: 'registry.blobs' }), verifyOnRead: deps.verifyOnRead ?? false,
    }),
    uploads: new UploadService({ db, blobs: deps.blobs, repos, clock, defaultQuota, ...(deps.uploadLimits ? { limits: deps.uploadLimits } : {}) }),
    manifests: new ManifestService({ db, repos, clock, downloads, blobs: deps.blobs, protection: deps.protection ?? NO_TAG_PROTECTION, audit: deps.audit, defaultQuota, quotaWarningPercent: deps.quotaWarningPercent ?? 80, auditPulls: deps.auditPulls ?? false, cache: new ChangeBoundCache(deps.changes, MANIFEST_CACHE_LIMITS, deps.onManifestLookup) }),
    tags: new TagService({ db, repos }),
    referrers: new ReferrersService({ db }),
    downloads,
    protection: deps.protection ?? NO_TAG_PROTECTION,
  };
}
