import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Config } from '../config/config.js';
import type { SecretSeal } from '../util/secret-seal.js';
import { connect, sqlitePath, type Connection } from '../db/connect.js';
import { prepareSchema } from '../db/migrate.js';
import { sqliteFiles } from '../db/wal-guard.js';
import type { Db } from '../db/schema.js';
import { AccountService } from '../accounts/account-service.js';
import { SessionService } from '../accounts/session-service.js';
import { TokenLiveness, TokenService } from '../accounts/token-service.js';
import { CredentialResolver } from '../auth/credentials.js';
import { FailureLimiter } from '../auth/failure-limiter.js';
import { generatePassword } from '../auth/password.js';
import { OidcIssuers } from '../auth/oidc-issuers.js';
import { OidcSignIn } from '../auth/oidc-sign-in.js';
import { SsoAccounts } from '../accounts/sso-accounts.js';
import { forgetInitialAdminPassword, INITIAL_ADMIN, keepInitialAdminPassword } from './initial-admin-password.js';
import { Policy } from '../auth/policy.js';
import { RegistryTokens } from '../auth/registry-token.js';
import { KeySeal, SigningKeys } from '../auth/signing-keys.js';
import { RateLimiter } from '../http/github/rate-limiter.js';
import { OciAccess } from '../http/oci/access.js';
import { buildServer } from '../http/server.js';
import { DiskSpace, type WatchedPath } from '../maintenance/disk-space.js';
import { BlobScrubber } from '../maintenance/blob-scrubber.js';
import { OidcVerifier } from '../auth/oidc-verifier.js';
import { TrustPolicies } from '../auth/trust-policies.js';
import { BotService } from '../accounts/bot-service.js';
import { LifecycleAccess } from '../lifecycle/lifecycle-access.js';
import { LifecyclePolicies } from '../lifecycle/lifecycle-policies.js';
import { MirrorEviction } from '../lifecycle/mirror-eviction.js';
import { RetentionService } from '../lifecycle/retention-service.js';
import { JobLeases } from '../maintenance/job-leases.js';
import { Scheduler } from '../maintenance/scheduler.js';
import { AuditLog } from '../audit/audit-log.js';
import { HookSecrets } from '../events/hook-secrets.js';
import { HookService } from '../events/hook-service.js';
import { WebhookWorker } from '../events/webhook-worker.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { listenForMetrics } from '../http/metrics-endpoint.js';
import { ClusterFlight } from '../mirror/cluster-flight.js';
import { MirrorService } from '../mirror/mirror-service.js';
import { UpstreamStore } from '../mirror/upstream-store.js';
import { MirrorPackages } from '../packages/mirror-packages.js';
import { OwnerDirectory } from '../packages/owner-directory.js';
import { PackageService } from '../packages/package-service.js';
import { PackageSettings } from '../packages/package-settings.js';
import { PackageStats } from '../packages/package-stats.js';
import { PackageSummaries } from '../packages/package-summaries.js';
import { UsageService } from '../packages/usage-service.js';
import { StorageQuotas } from '../packages/storage-quotas.js';
import { VersionDetails } from '../packages/version-details.js';
import { VersionService } from '../packages/version-service.js';
import { createRegistry, type Registry } from '../registry/registry.js';
import type { CacheLookup } from '../db/change-bound-cache.js';
import type { BlobStore } from '../storage/blob-store.js';
import { warnAboutOpenPermissions } from './open-permissions.js';
import { FsBlobStore } from '../storage/fs/fs-blob-store.js';
import { measuredBlobStore } from '../storage/measured-blob-store.js';
import { systemClock, type Clock } from '../util/clock.js';

export interface App {
  readonly server: FastifyInstance;
  readonly registry: Registry;
  readonly db: Connection;
  /** Set on the very first start: the generated password of the `admin` account and the file keeping it. */
  readonly initialAdminPassword: { readonly password: string; readonly file: string } | null;
  /** Listens on the configured address (and `server.tls.port`); returns the base URLs, plain HTTP's first. */
  listen(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * The composition root: builds the database, blob store, services, jobs and HTTP server from the config, and
 * closes them in reverse order. The only place that names concrete drivers.
 */
export async function createApp(config: Config, log: Logger, opts: { onFatal?: (err: Error) => void } = {}): Promise<App> {
  // Only when something can read them (metrics.token or metrics.listen): otherwise neither prom-client (several MB
  // of resident memory) nor the per-request bookkeeping is paid for.
  const metrics = config.metrics.token !== null || config.metrics.listen !== null
    ? new (await import('../observability/metrics.js')).Metrics({ ownersRefreshMs: config.metrics.ownersRefreshMs })
    : null;
  const db = connect(config.metadata.url, {
    // Called for statements only, never while connect() runs: `db` is set by then.
    ...(metrics ? { onQueryError: (reason) => metrics.databaseError(db.dialect, reason) } : {}),
    onUnreachable: throttle(10_000, (err) => {
      log.warn({ err }, 'metadata database unreachable: requests answer 503 until it is back');
    }),
    log: log.child({ module: 'db' }),
    ...(opts.onFatal ? { onFatal: opts.onFatal } : {}),
  });
  const applied = await prepareSchema(db, config.metadata.autoMigrate).catch(async (err: unknown) => {
    await db.close();
    throw err;
  });
  if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');

  const store = await openBlobStore(config.storage);
  const blobs = metrics ? measuredBlobStore(store, config.storage.driver, metrics) : store;
  await warnAboutOpenPermissions(dataPaths(config), log);

  const clock = systemClock;
  // Audit records are written by the services, in the transaction of each change (src/audit/).
  const audit = new AuditLog({ db: db.db, clock });
  const uploadLimits = {
    perUser: config.uploads.maxSessionsPerUser, perRepository: config.uploads.maxSessionsPerRepository, expireAfterMs: config.uploads.expireAfterMs,
  };
  // Immutable-tag rules: the registry and the package services ask them before moving or deleting a tag.
  const policies = new LifecyclePolicies({ db: db.db, clock, audit });
  const registry = createRegistry({
    db: db.db, blobs, clock, audit, log, uploadLimits, verifyOnRead: config.storage.verifyOnRead, protection: policies, defaultQuota: config.quota.defaultBytes,
    quotaWarningPercent: config.quota.warningPercent,
    auditPulls: config.audit.pulls, changes: db.changes,
    ...(metrics ? { onManifestLookup: (result: CacheLookup) => metrics.manifestCacheLookup(result) } : {}),
  });
  // PostgreSQL's change feed starts listening now rather than on the first pull, which would find no cache.
  db.changes.version();
  const accounts = new AccountService({ db: db.db, clock, audit, onPasswordSet: forgetInitialAdminPassword(config.dataDir) });
  const tokens = new TokenService({ db: db.db, clock, audit });
  const initialAdminPassword = await bootstrapAdmin(accounts, config.dataDir);
  const keys = new SigningKeys({ db: db.db, clock, keyEncryptionKey: config.auth.keyEncryptionKey });
  const sealed = await keys.sealStored();
  if (sealed > 0) {
    // The plaintext may linger in freed pages and in the write-ahead log: rewrite the file without them.
    if (db.dialect === 'sqlite') await sql`vacuum`.execute(db.db).then(() => sql`pragma wal_checkpoint(TRUNCATE)`.execute(db.db));
    log.info({ keys: sealed }, 'registry-token signing keys encrypted at rest with auth.keyEncryptionKey');
  }
  // Made (on the first start) or loaded now: a wrong auth.keyEncryptionKey stops the start, and /token needs no
  // database write later (e.g. on a full disk).
  await keys.current();
  const registryTokens = new RegistryTokens({ keys, ttlSeconds: Math.round(config.auth.registryTokenTtlMs / 1000) });
  const mirrorUpstreams = new UpstreamStore({
    db: db.db, clock, audit, configured: config.mirror.upstreams, defaultAccess: config.mirror.access,
    seal: mirrorPasswordSeal(config),
  });
  const mirror = new MirrorService({
    db: db.db, registry, clock, log: log.child({ module: 'mirror' }), settings: config.mirror, upstreams: mirrorUpstreams, changes: db.changes,
    manifestMaxBytes: config.registry.manifestMaxBytes,
    ...(metrics ? {
      onResult: (upstream: string, kind: 'manifest' | 'blob', result: string) => metrics.mirrorRequest(upstream, kind, result),
      onBytes: (upstream: string, source: string, bytes: number) => metrics.mirrorBytes(upstream, source, bytes),
    } : {}),
    // Replicas share PostgreSQL: one of them fetches each uncached manifest or blob, the others wait for its copy.
    // The lease outlives a stalled upstream (mirror.timeout) and is renewed while a large blob streams.
    ...(db.dialect === 'postgres'
      ? { cluster: new ClusterFlight({ leases: new JobLeases({ db: db.db, dialect: db.dialect, clock }), ttlMs: Math.max(2 * config.mirror.timeoutMs, 10_000) }) }
      : {}),
  });
  const trust = new TrustPolicies({ db: db.db, clock, audit });
  const bots = new BotService({ db: db.db, clock, audit });
  const policy = new Policy({ db: db.db, mirrorOf: mirror.readersOf });
  const publicUrl = config.server.publicUrl;
  const rules = { restoreWindowMs: config.packages.restoreWindowMs, deleteDownloadLimit: config.packages.deleteDownloadLimit };
  const packages = new PackageService({
    db: db.db, policy, clock, audit, downloads: registry.downloads, rules, protection: policies, changes: db.changes,
    ...(metrics ? { onListingLookup: (result: CacheLookup) => metrics.packageListingCacheLookup(result) } : {}),
  });
  const tls = config.server.tls
    ? { cert: readFileSync(config.server.tls.cert), key: readFileSync(config.server.tls.key), besideHttp: config.server.tls.port !== null }
    : null;

  // Cluster-wide jobs take a lease in the database (one replica at a time); flushing this process's buffered
  // download counts is per process and runs everywhere.
  const scheduler = new Scheduler({ log: log.child({ module: 'maintenance' }), leases: new JobLeases({ db: db.db, dialect: db.dialect, clock }), ...(metrics ? { metrics } : {}) });
  const disk = new DiskSpace({ paths: watchedPaths(config), thresholdBytes: config.storage.freeSpaceWarning, log: log.child({ module: 'disk-space' }) });
  await disk.check();
  scheduler.every({ name: 'disk-space', everyMs: 60_000, run: async () => { await disk.check(); } });
  scheduler.every({ name: 'flush-downloads', everyMs: config.stats.flushIntervalMs, run: () => registry.downloads.flush() });
  scheduler.every({
    name: 'purge-uploads',
    everyMs: config.uploads.purgeIntervalMs,
    lease: true,
    run: async () => {
      const purged = await registry.uploads.purgeIdleSince(clock.now() - config.uploads.expireAfterMs);
      if (purged > 0) log.info({ purged }, 'expired upload sessions purged');
    },
  });
  scheduler.every({
    name: 'purge-deleted-packages',
    everyMs: config.packages.purgeIntervalMs,
    lease: true,
    run: async () => {
      // Past the restore window deleted packages and versions go for good; their blobs are left to GC.
      const purged = await packages.purgeExpired();
      if (purged.packages + purged.versions > 0) log.info(purged, 'deleted packages and versions purged');
    },
  });
  const retention = new RetentionService({ db: db.db, clock, audit, policies, downloads: registry.downloads });
  const eviction = new MirrorEviction({ db: db.db, clock, audit, rules: () => mirrorUpstreams.list() });
  const retentionEvery = config.retention.intervalMs;
  if (retentionEvery !== null) {
    scheduler.every({
      name: 'retention',
      everyMs: retentionEvery,
      lease: true,
      run: async (signal) => {
        // Soft deletes, as a REST delete: restorable for packages.restoreWindow, bytes left to GC.
        const r = await retention.runAll(signal);
        if (r.deleted > 0) log.info(r, 'retention run deleted versions');
        // Pull-through caches: versions not pulled for their namespace's evictAfter, the same way.
        if (signal.aborted) return;
        const evicted = await eviction.run({ dryRun: false, signal });
        const versions = evicted.reduce((n, e) => n + e.evicted.length, 0);
        if (versions > 0) log.info({ repositories: evicted.length, versions }, 'mirror eviction deleted cached versions not pulled for evictAfter');
      },
    });
  }
  // Webhooks: secrets sealed with auth.keyEncryptionKey when set (a secret stored before the key was set is read
  // as stored); the outbox delivered by one replica at a time.
  const hookSeal = config.auth.keyEncryptionKey ? new KeySeal(config.auth.keyEncryptionKey, 'webhook secrets') : null;
  const hookSecrets = new HookSecrets(hookSeal && {
    seal: (context, plaintext) => hookSeal.seal(context, plaintext),
    open: (context, stored) => (KeySeal.isSealed(stored) ? hookSeal.open(context, stored) : stored),
  });
  const hooks = new HookService({ db: db.db, clock, audit, secrets: hookSecrets, allowPrivateTargets: config.webhooks.allowPrivateTargets });
  const webhooks = new WebhookWorker({
    db: db.db, clock, secrets: hookSecrets, timing: config.webhooks, ...(metrics ? { onResult: (r) => metrics.webhookDelivery(r) } : {}),
  });
  scheduler.every({ name: 'webhooks', everyMs: config.webhooks.pollIntervalMs, lease: true, run: (signal) => webhooks.run(signal) });
  // Audit records past audit.retention go, hourly, on one replica at a time.
  const auditRetention = config.audit.retentionMs;
  if (auditRetention !== null) {
    scheduler.every({
      name: 'audit-retention',
      everyMs: Math.min(auditRetention, 3_600_000),
      lease: true,
      run: async (signal) => {
        const pruned = await audit.prune(clock.now() - auditRetention, signal);
        if (pruned > 0) log.info({ pruned }, 'audit records past audit.retention deleted');
      },
    });
  }
  if (config.scrub.intervalMs !== null) scheduleScrub(scheduler, { db: db.db, blobs, clock, log }, config.scrub.intervalMs, config.scrub.rateBytesPerSecond);

  // One count of failed authentications for /token, Basic on /v2 and the web UI's sign-in form.
  const limiter = new FailureLimiter({ max: config.auth.failedLoginLimit, windowMs: config.auth.failedLoginWindowMs });
  const sessions = new SessionService({ db: db.db, clock });
  // Discovery documents and key sets of OpenID issuers, for CI ID tokens and the web UI's single sign-on alike.
  const issuers = new OidcIssuers({ clock });
  const sso = config.auth.sso;
  // Every surface's one way to learn who is calling (auth/credentials.ts); the stores it asks live in accounts/.
  const credentials = new CredentialResolver({
    stores: {
      accessTokens: tokens, liveness: new TokenLiveness({ db: db.db, clock, ttlMs: 5000 }), sessions, users: accounts,
      oidc: new OidcVerifier({ policies: trust, clock, issuers }),
      bots,
    },
    registryTokens, limiter, clock, audit,
  });
  const versions = new VersionService({ db: db.db, clock, audit, downloads: registry.downloads, rules, protection: policies });
  const stats = new PackageStats({ db: db.db, downloads: registry.downloads });
  const usage = new UsageService({ db: db.db, downloads: registry.downloads, defaultQuota: config.quota.defaultBytes });
  const quotas = new StorageQuotas({ db: db.db, dialect: db.dialect, audit, defaultQuota: config.quota.defaultBytes });
  metrics?.setSources({
    openUploads: () => registry.uploads.countOpen(),
    databasePing: async () => { await sql`select 1`.execute(db.db); },
    databasePool: () => db.pool(),
    disks: () => disk.usage(),
    storageByOwner: async () => (config.metrics.ownersTop === 0 ? [] : (await usage.ownerSizes(config.metrics.ownersTop))
      .map((o) => ({ owner: o.owner, bytes: o.sizeBytes }))),
  });
  const lifecycle = { policies, access: new LifecycleAccess({ db: db.db, policy }), retention };
  const mirrorViews = { service: mirror, packages: new MirrorPackages({ db: db.db }), upstreams: mirrorUpstreams };
  const { app: server, https } = buildServer({
    log,
    audit,
    tls,
    trustedProxies: config.server.trustedProxies,
    connections: {
      headersTimeoutMs: config.server.headersTimeoutMs, requestTimeoutMs: config.server.requestTimeoutMs,
      idleTimeoutMs: config.server.idleTimeoutMs, maxConnectionsPerClient: config.server.maxConnectionsPerClient,
    },
    ready: async () => { await sql`select 1`.execute(db.db); },
    metrics: metrics ? { metrics, token: config.metrics.token } : null,
    warnings: () => disk.check(),
    oci: {
      registry,
      mirror,
      access: new OciAccess({ credentials, policy, publicUrl }),
      limits: { ...config.registry, chunkMinLength: config.uploads.chunkMinLength },
    },
    token: {
      credentials, policy, registryTokens, clock, publicUrl,
    },
    github: {
      accounts, credentials, policy, packages, clock, publicUrl,
      versions,
      stats,
      usage,
      lifecycle,
      hooks,
      audit,
      trust,
      bots,
      mirror: mirrorViews,
      rateLimiter: new RateLimiter({ windowMs: config.api.rateLimit.windowMs }),
      rateLimits: { authenticated: config.api.rateLimit.authenticated, anonymous: config.api.rateLimit.anonymous },
    },
    ui: {
      accounts, tokens, bots, packages, versions, stats, limiter, clock, publicUrl, sessions, credentials, policy,
      signIn: {
        localPasswords: config.auth.localPasswords,
        sso: sso && {
          client: new OidcSignIn({ settings: sso, issuers, clock }), accounts: new SsoAccounts({ db: db.db, clock, audit, accounts }),
          usernameClaim: sso.usernameClaim, teamMap: sso.teamMap,
        },
      },
      settings: new PackageSettings({ db: db.db, clock, audit }),
      summaries: new PackageSummaries({ db: db.db, downloads: registry.downloads }),
      details: new VersionDetails({ db: db.db, blobs: registry.blobs, downloads: registry.downloads }),
      directory: new OwnerDirectory({ db: db.db }),
      usage,
      quotas,
      quotaWarningPercent: config.quota.warningPercent,
      lifecycle,
      trust,
      audit,
      mirror: mirrorViews,
      hooks,
    },
  });

  let metricsListener: Awaited<ReturnType<typeof listenForMetrics>> | null = null;
  return {
    server,
    registry,
    db,
    initialAdminPassword,
    async listen() {
      const addresses = [await server.listen({ host: config.server.host, port: config.server.port })];
      if (https && config.server.tls?.port != null) {
        const port = config.server.tls.port;
        await new Promise<void>((resolve, reject) => {
          https.once('error', reject);
          https.listen(port, config.server.host, () => {
            https.off('error', reject);
            resolve();
          });
        });
        const bound = https.address() as AddressInfo;
        addresses.push(`https://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`);
      }
      if (metrics && config.metrics.listen) {
        metricsListener = await listenForMetrics(metrics, config.metrics.listen);
        log.info({ url: metricsListener.url }, 'metrics listening');
      }
      if (publicUrl === null && !isLoopback(config.server.host)) {
        log.warn({ host: config.server.host }, 'server.publicUrl is not set: token realms, registry token audiences and URLs in responses '
          + 'follow each request\'s Host header (or X-Forwarded-Host from a trusted proxy); set it in production');
      }
      return addresses;
    },
    async close() {
      await metricsListener?.close();
      await server.close();
      await registry.blobs.settled();
      await scheduler.stop();
      await registry.downloads.flush();
      blobs.close?.();
      await db.close();
    },
  };
}

/** Where Berth keeps data locally: the data directory, the fs blob store, the SQLite database and its files. */
function dataPaths(config: Config): string[] {
  const paths = [config.dataDir];
  if (config.storage.driver === 'fs') paths.push(config.storage.fs.root);
  if (!/^postgres(ql)?:\/\//.test(config.metadata.url)) {
    const files = sqliteFiles(sqlitePath(config.metadata.url));
    paths.push(dirname(files.database), files.database, files.wal, files.shm);
  }
  return paths;
}

/** The local directories Berth writes to: the fs blob store's root, the SQLite database's directory. */
function watchedPaths(config: Config): WatchedPath[] {
  const paths: WatchedPath[] = [];
  if (config.storage.driver === 'fs') paths.push({ what: 'blob storage', path: config.storage.fs.root });
  if (!/^postgres(ql)?:\/\//.test(config.metadata.url)) paths.push({ what: 'database', path: dirname(sqlitePath(config.metadata.url)) });
  return paths;
}

/**
 * The background scrub (config `scrub.*`): each run re-hashes the blobs not verified within the interval, oldest
 * first, at the configured rate, on one replica at a time. It ticks at least hourly, so a run cut short (restart,
 * lease lost) or one that cannot cover the store within an interval continues within the hour, where it stopped.
 */
function scheduleScrub(scheduler: Scheduler, deps: { db: Db; blobs: BlobStore; clock: Clock; log: Logger }, interval: number, rate: number): void {
  const log = deps.log.child({ module: 'maintenance.scrub' });
  const scrubber = new BlobScrubber({ ...deps, log });
  scheduler.every({
    name: 'scrub',
    everyMs: Math.min(interval, 3_600_000),
    lease: true,
    run: async (signal) => {
      const r = await scrubber.run({ dueBefore: deps.clock.now() - interval, rateBytesPerSecond: rate, signal });
      if (r.checked > 0 || r.errors.length > 0) {
        log.info({ checked: r.checked, bytes: r.bytes, seconds: r.seconds, problems: r.problems.length, released: r.released.length,
          errors: r.errors.length, complete: r.complete }, 'scrub run finished');
      }
    },
  });
}

/** `fn`, called at most once per `ms` (an outage fails every request: one log line per interval is enough). */
function throttle<A extends unknown[]>(ms: number, fn: (...args: A) => void): (...args: A) => void {
  let last = -Infinity;
  return (...args) => {
    const now = Date.now();
    if (now - last < ms) return;
    last = now;
    fn(...args);
  };
}

/** Reachable from this machine only: then nobody else can choose the Host header the URLs are built from. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * On an empty database, creates the instance admin with a random password (never a fixed default), kept in a 0600
 * file in the data directory until the admin changes it.
 */
async function bootstrapAdmin(accounts: AccountService, dataDir: string): Promise<{ password: string; file: string } | null> {
  if ((await accounts.countUsers()) > 0) return null;
  const password = generatePassword();
  const file = await keepInitialAdminPassword(dataDir, password);
  await accounts.createUser({ login: INITIAL_ADMIN, password, isAdmin: true });
  return { password, file };
}

/** Mirror passwords sealed with auth.keyEncryptionKey, or stored as given without one (src/mirror/upstream-store.ts). */
export function mirrorPasswordSeal(config: Config): SecretSeal | null {
  return config.auth.keyEncryptionKey ? new KeySeal(config.auth.keyEncryptionKey, 'mirror passwords') : null;
}

/** The configured blob store driver, ready to use; `berth serve` and the operator commands share it. */
export async function openBlobStore(storage: Config['storage']): Promise<BlobStore> {
  if (storage.driver === 's3' && storage.s3) {
    const s3 = storage.s3;
    // Loaded only when configured: the AWS SDK adds ~10 MB of resident memory the embedded default has no use for.
    const { S3BlobStore } = await import('../storage/s3/s3-blob-store.js');
    const store = new S3BlobStore({
      endpoint: s3.endpoint ?? undefined, bucket: s3.bucket, region: s3.region, prefix: s3.prefix,
      forcePathStyle: s3.forcePathStyle, createBucket: s3.createBucket, credentials: s3.credentials ?? undefined,
      redirectTtlSeconds: s3.redirectTtlMs === null ? null : Math.round(s3.redirectTtlMs / 1000),
    });
    await store.init();
    return store;
  }
  const store = new FsBlobStore(storage.fs.root);
  await store.init();
  return store;
}
