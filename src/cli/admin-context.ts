import type { Command } from 'commander';
import { AccountService } from '../accounts/account-service.js';
import { openBlobStore } from '../app/create-app.js';
import { TokenService } from '../accounts/token-service.js';
import { SigningKeys } from '../auth/signing-keys.js';
import { loadConfig, type LoadOptions } from '../config/config.js';
import { connect } from '../db/connect.js';
import { prepareSchema } from '../db/migrate.js';
import { LifecyclePolicies } from '../lifecycle/lifecycle-policies.js';
import { RetentionService } from '../lifecycle/retention-service.js';
import { BlobScrubber } from '../maintenance/blob-scrubber.js';
import { GarbageCollector } from '../maintenance/garbage-collector.js';
import { PackageSettings } from '../packages/package-settings.js';
import type { BlobStore } from '../storage/blob-store.js';
import { RepositoryStore } from '../registry/repositories.js';
import { isRepoName, parseRepoName } from '../oci/names.js';
import { UploadService } from '../registry/upload-service.js';
import { systemClock } from '../util/clock.js';

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
  readonly lifecycle: { readonly policies: LifecyclePolicies; readonly retention: RetentionService; packageId(name: string): Promise<number | null> };
}

/** `--data` and `--config` on every admin command, so it works on the same data as `berth serve`. */
export function withDataOptions(cmd: Command): Command {
  return cmd.option('--data <dir>', 'data directory (default ./data)').option('--config <file>', 'YAML configuration file (or BERTH_CONFIG)');
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

/** Reads all of standard input (for --password-stdin). */
export async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text.replace(/\r?\n$/, '');
}

/** Prints rows as aligned columns. */
export function printTable(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
}
