import { existsSync } from 'node:fs';
import { AccountService } from '../accounts/account-service.js';
import { TokenService } from '../accounts/token-service.js';
import { userInfo } from 'node:os';
import { AuditLog, type AuditScope } from '../audit/audit-log.js';
import { BotService } from '../accounts/bot-service.js';
import { SigningKeys } from '../auth/signing-keys.js';
import { TrustPolicies } from '../auth/trust-policies.js';
import { loadConfig, type Config, type LoadOptions } from '../config/config.js';
import { connect, sqlitePath, type Connection } from '../db/connect.js';
import { migrationStatus, prepareSchema } from '../db/migrate.js';
import { LifecyclePolicies } from '../lifecycle/lifecycle-policies.js';
import { RetentionService } from '../lifecycle/retention-service.js';
import { MirrorEviction } from '../lifecycle/mirror-eviction.js';
import { UpstreamStore } from '../mirror/upstream-store.js';
import { MirrorPackages } from '../packages/mirror-packages.js';
import { BlobScrubber } from '../maintenance/blob-scrubber.js';
import { GarbageCollector } from '../maintenance/garbage-collector.js';
import { PackageSettings } from '../packages/package-settings.js';
import { PackageService } from '../packages/package-service.js';
import { Policy } from '../auth/policy.js';
import { DownloadCounter } from '../registry/download-counter.js';
import { createLogger } from '../observability/logger.js';
import { StorageQuotas } from '../packages/storage-quotas.js';
import type { BlobStore } from '../storage/blob-store.js';
import { isRepoName, parseRepoName } from '../oci/names.js';
import { RepositoryStore } from '../registry/repositories.js';
import { UploadService } from '../registry/upload-service.js';
import { systemClock } from '../util/clock.js';
import { BerthError } from '../util/errors.js';
import { mirrorPasswordSeal, openBlobStore } from './create-app.js';
import { forgetInitialAdminPassword } from './initial-admin-password.js';

export type { AuditRecord } from '../audit/audit-log.js';
export { parseTrustPolicy, type TrustPolicy } from '../auth/trust-policy.js';
export { botLogin, parseBot, parseBotRef, parseExpiry } from '../auth/bot-grant.js';
export type { BotInfo } from '../accounts/bot-service.js';
export type { ScrubReport } from '../maintenance/blob-scrubber.js';
export { describeUsage, parseQuotaTarget, type OwnerStorage } from '../packages/storage-quotas.js';
export { parseImmutableTagRules } from '../lifecycle/immutable-tags.js';
export type { PolicyScope } from '../lifecycle/lifecycle-policies.js';
export { parseRetentionPolicy, type RetentionPolicy } from '../lifecycle/retention-policy.js';
export type { RetentionRun } from '../lifecycle/retention-service.js';
export type { EvictionRun } from '../lifecycle/mirror-eviction.js';

/** The services the operator's commands (`berth user|org|token|gc|scrub …`) use: the second composition root. */
export interface AdminServices {
  readonly accounts: AccountService;
  readonly tokens: TokenService;
  /** The audit log, for `berth audit`. */
  readonly audit: AuditLog;
  readonly packages: PackageSettings;
  /** Packages as the REST API and the web UI delete and restore them (`berth package restore`). */
  readonly packageService: PackageService;
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
  /** Organizations' bot accounts (berth bot). */
  readonly bots: BotService;
  /** Storage quotas and the storage figures (berth quota, berth usage). */
  readonly quotas: StorageQuotas;
  readonly lifecycle: { readonly policies: LifecyclePolicies; readonly retention: RetentionService; packageId(name: string): Promise<number | null> };
  /** Pull-through caches (berth mirror): what they hold, and eviction by last pull or on demand. */
  readonly mirror: { readonly packages: MirrorPackages; readonly eviction: MirrorEviction; readonly upstreams: UpstreamStore };
}

export interface AdminServicesOptions {
  data?: string;
  config?: string;
  /** Replaces process.env as the source of BERTH_* settings (tests seed a server's database this way). */
  env?: NodeJS.ProcessEnv;
  /** A command's flags, by config key (highest precedence). */
  overrides?: LoadOptions['overrides'];
  /** Create the database when there is none (`--init`); otherwise a data directory without one is refused. */
  init?: boolean;
  /** Told which data directory and database the services use, once the database is open. */
  announce?: (where: string) => void;
}

/** The code of the error for "no Berth database here": the CLI exits 2 with it, as for bad usage. */
export const NO_BERTH_DATABASE = 'NO_BERTH_DATABASE';

/**
 * Opens the configured database (migrating it if needed and metadata.autoMigrate allows), runs `fn`, closes it.
 * Without `init` it opens only a database that holds Berth's schema: an admin command run without `--data` in
 * another directory must not silently start a second, empty registry there.
 */
export async function withServices<T>(opts: AdminServicesOptions, fn: (s: AdminServices) => Promise<T>): Promise<T> {
  const config = loadConfig({ file: opts.config, ...(opts.env ? { env: opts.env } : {}), overrides: { ...opts.overrides, dataDir: opts.data } });
  const conn = await openExisting(config, opts.init ?? false);
  opts.announce?.(describeData(config));
  let blobs: BlobStore | undefined;
  try {
    await prepareSchema(conn, config.metadata.autoMigrate);
    const clock = systemClock;
    const audit = new AuditLog({ db: conn.db, clock });
    const store = await openBlobStore(config.storage);
    blobs = store;
    const repos = new RepositoryStore({ db: conn.db, clock });
    const upstreams = new UpstreamStore({ db: conn.db, clock, audit, configured: config.mirror.upstreams, defaultAccess: config.mirror.access,
      seal: mirrorPasswordSeal(config) });
    const policies = new LifecyclePolicies({ db: conn.db, clock, audit });
    // The operator's commands record as the CLI (no Berth account), naming the OS user who ran them.
    return await audit.run(cliScope(), () => fn({
      audit,
      lifecycle: {
        policies,
        // Pull counts buffered in a serving process reach the database within stats.flushInterval.
        retention: new RetentionService({ db: conn.db, clock, audit, policies }),
        packageId: async (name) => (isRepoName(name) ? (await repos.find(parseRepoName(name)))?.id ?? null : null),
      },
      mirror: {
        packages: new MirrorPackages({ db: conn.db }),
        eviction: new MirrorEviction({ db: conn.db, clock, audit, rules: () => upstreams.list() }),
        upstreams,
      },
      trust: new TrustPolicies({ db: conn.db, clock, audit }),
      bots: new BotService({ db: conn.db, clock, audit }),
      quotas: new StorageQuotas({ db: conn.db, dialect: conn.dialect, audit, defaultQuota: config.quota.defaultBytes }),
      gc: new GarbageCollector({ db: conn.db, blobs: store, clock, audit }),
      uploads: new UploadService({ db: conn.db, blobs: store, repos, clock }),
      uploadExpiryMs: config.uploads.expireAfterMs,
      scrubber: new BlobScrubber({ db: conn.db, blobs: store, clock }),
      scrubRate: config.scrub.rateBytesPerSecond,
      accounts: new AccountService({ db: conn.db, clock, audit, onPasswordSet: forgetInitialAdminPassword(config.dataDir) }),
      tokens: new TokenService({ db: conn.db, clock, audit }),
      packages: new PackageSettings({ db: conn.db, clock, audit }),
      packageService: new PackageService({
        db: conn.db, policy: new Policy({ db: conn.db }), clock, audit, protection: policies, changes: conn.changes,
        downloads: new DownloadCounter({ db: conn.db, clock, log: createLogger(config.log.level, process.stderr) }),
        rules: { restoreWindowMs: config.packages.restoreWindowMs, deleteDownloadLimit: config.packages.deleteDownloadLimit },
      }),
      keys: new SigningKeys({ db: conn.db, clock, keyEncryptionKey: config.auth.keyEncryptionKey }),
    }));
  } finally {
    blobs?.close?.();
    await conn.close();
  }
}

function cliScope(): AuditScope {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container running as a bare uid): the records still say it was the CLI.
  }
  return { actorId: null, actorLogin: null, tokenId: null, address: null, userAgent: `berth-cli (os user ${user})` };
}

/**
 * Connects to the configured metadata database if it holds a Berth schema, or when `init` says to create one. A
 * SQLite file that does not exist is never created otherwise (connecting would create it); a database on which no
 * migration ever ran (an empty PostgreSQL database, a SQLite file left by a refused start) counts as none.
 */
async function openExisting(config: Config, init: boolean): Promise<Connection> {
  const refuse = (): BerthError => new BerthError({
    status: 400, code: NO_BERTH_DATABASE,
    message: `no Berth database in ${describeData(config)}: pass --data DIR (or --config FILE) to use the one \`berth serve\` uses, `
      + 'or --init to create a new one here',
  });
  if (init) return connect(config.metadata.url);
  if (!isPostgres(config.metadata.url) && !existsSync(sqlitePath(config.metadata.url))) throw refuse();
  const conn = connect(config.metadata.url);
  try {
    if ((await migrationStatus(conn)).every((m) => m.appliedAt === null)) throw refuse();
  } catch (err) {
    await conn.close();
    throw err;
  }
  return conn;
}

/** Which data directory and database the services work on (credentials left out). */
export function describeData(config: Config): string {
  if (isPostgres(config.metadata.url)) {
    const url = new URL(config.metadata.url);
    const blobs = config.storage.driver === 's3' ? `blobs in bucket ${config.storage.s3?.bucket ?? '?'}` : `blobs in ${config.storage.fs.root}`;
    return `PostgreSQL database ${url.host}${url.pathname} (${blobs})`;
  }
  return `data directory ${config.dataDir} (database ${sqlitePath(config.metadata.url)})`;
}

function isPostgres(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}
