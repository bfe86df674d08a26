import { AccountService } from '../accounts/account-service.js';
import { TokenService } from '../accounts/token-service.js';
import { SigningKeys } from '../auth/signing-keys.js';
import { TrustPolicies } from '../auth/trust-policies.js';
import { loadConfig, type LoadOptions } from '../config/config.js';
import { connect } from '../db/connect.js';
import { prepareSchema } from '../db/migrate.js';
import { LifecyclePolicies } from '../lifecycle/lifecycle-policies.js';
import { RetentionService } from '../lifecycle/retention-service.js';
import { BlobScrubber } from '../maintenance/blob-scrubber.js';
import { GarbageCollector } from '../maintenance/garbage-collector.js';
import { PackageSettings } from '../packages/package-settings.js';
import type { BlobStore } from '../storage/blob-store.js';
import { isRepoName, parseRepoName } from '../oci/names.js';
import { RepositoryStore } from '../registry/repositories.js';
import { UploadService } from '../registry/upload-service.js';
import { systemClock } from '../util/clock.js';
import { openBlobStore } from './create-app.js';

export { parseTrustPolicy, type TrustPolicy } from '../auth/trust-policy.js';
export type { ScrubReport } from '../maintenance/blob-scrubber.js';
export { parseImmutableTagRules } from '../lifecycle/immutable-tags.js';
export type { PolicyScope } from '../lifecycle/lifecycle-policies.js';
export { parseRetentionPolicy, type RetentionPolicy } from '../lifecycle/retention-policy.js';
export type { RetentionRun } from '../lifecycle/retention-service.js';

/** The services the operator's commands (`berth user|org|token|gc|scrub …`) use: the second composition root. */
export interface AdminServices {
  readonly accounts: AccountService;
  readonly tokens: TokenService;
  readonly packages: PackageSettings;
  readonly keys: SigningKeys;
  readonly gc: GarbageCollector;
  /** How long idle upload sessions live (config `uploads.expireAfter`). */
  readonly uploadExpiryMs: number;
  readonly uploads: UploadService;
  readonly scrubber: BlobScrubber;
  /** Bytes per second a scrub may read (config `scrub.rate`; 0: unlimited). */
  readonly scrubRate: number;
  /** Lifecycle rules and retention runs (berth retention, berth immutable-tags). */
  /** Organizations' OIDC trust policies (berth trust). */
  readonly trust: TrustPolicies;
  readonly lifecycle: { readonly policies: LifecyclePolicies; readonly retention: RetentionService; packageId(name: string): Promise<number | null> };
}

/**
 * Opens the configured database (migrating it if needed and metadata.autoMigrate allows), runs `fn`, closes it. `env` replaces process.env as the
 * source of BERTH_* settings (tests seed a server's database this way without touching their own environment);
 * `overrides` are a command's flags, by config key (highest precedence).
 */
export async function withServices<T>(
  opts: { data?: string; config?: string; env?: NodeJS.ProcessEnv; overrides?: LoadOptions['overrides'] }, fn: (s: AdminServices) => Promise<T>,
): Promise<T> {
  const config = loadConfig({ file: opts.config, ...(opts.env ? { env: opts.env } : {}), overrides: { ...opts.overrides, dataDir: opts.data } });
  const conn = connect(config.metadata.url);
  let blobs: BlobStore | undefined;
  try {
    await prepareSchema(conn, config.metadata.autoMigrate);
    const clock = systemClock;
    blobs = await openBlobStore(config.storage);
    const repos = new RepositoryStore({ db: conn.db, clock });
    const policies = new LifecyclePolicies({ db: conn.db, clock });
    return await fn({
      lifecycle: {
        policies,
        // Pull counts buffered in a serving process reach the database within stats.flushInterval.
        retention: new RetentionService({ db: conn.db, clock, policies }),
        packageId: async (name) => (isRepoName(name) ? (await repos.find(parseRepoName(name)))?.id ?? null : null),
      },
      trust: new TrustPolicies({ db: conn.db, clock }),
      gc: new GarbageCollector({ db: conn.db, blobs, clock }),
      uploads: new UploadService({ db: conn.db, blobs, repos, clock }),
      uploadExpiryMs: config.uploads.expireAfterMs,
      scrubber: new BlobScrubber({ db: conn.db, blobs, clock }),
      scrubRate: config.scrub.rateBytesPerSecond,
      accounts: new AccountService({ db: conn.db, clock }),
      tokens: new TokenService({ db: conn.db, clock }),
      packages: new PackageSettings({ db: conn.db, clock }),
      keys: new SigningKeys({ db: conn.db, clock, keyEncryptionKey: config.auth.keyEncryptionKey }),
    });
  } finally {
    blobs?.close?.();
    await conn.close();
  }
}
