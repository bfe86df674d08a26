import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { AccountService } from '../accounts/account-service.js';
import { openBlobStore } from '../app/create-app.js';
import { TokenService } from '../accounts/token-service.js';
import { SigningKeys } from '../auth/signing-keys.js';
import { loadConfig, type Config, type LoadOptions } from '../config/config.js';
import { connect, sqlitePath, type Connection } from '../db/connect.js';
import { migrationStatus, prepareSchema } from '../db/migrate.js';
import { BlobScrubber } from '../maintenance/blob-scrubber.js';
import { GarbageCollector } from '../maintenance/garbage-collector.js';
import { PackageSettings } from '../packages/package-settings.js';
import type { BlobStore } from '../storage/blob-store.js';
import { RepositoryStore } from '../registry/repositories.js';
import { UploadService } from '../registry/upload-service.js';
import { systemClock } from '../util/clock.js';
import { UsageError } from './usage-error.js';

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
}

/**
 * `--data`, `--config` and `--init` on every admin command, so it works on the same data as `berth serve`, and
 * never starts a second, empty registry by accident (a command run from another directory without `--data`).
 */
export function withDataOptions(cmd: Command): Command {
  return cmd.option('--data <dir>', 'data directory (default ./data)').option('--config <file>', 'YAML configuration file (or BERTH_CONFIG)')
    .option('--init', 'create the Berth database when there is none yet (otherwise the command refuses)');
}

export interface DataOptions {
  data?: string;
  config?: string;
  /** Create the database when there is none (`--init`); without it a command refuses to run on no database. */
  init?: boolean;
  /** Replaces process.env as the source of BERTH_* settings. */
  env?: NodeJS.ProcessEnv;
  /** A command's flags, by config key (highest precedence). */
  overrides?: LoadOptions['overrides'];
  /** Say on stderr which data directory and database the command uses (the CLI does; tests seeding a server do not). */
  announce?: boolean;
}

/**
 * Opens the configured database (migrating it if needed and metadata.autoMigrate allows), runs `fn`, closes it.
 * The CLI's commands announce on stderr which data directory and database they use; on a data directory without a
 * Berth database they refuse (exit 2) unless `init` is set. `env` replaces process.env as the source of BERTH_*
 * settings (tests seed a server's database this way without touching their own environment).
 */
export async function withServices<T>(opts: DataOptions, fn: (s: AdminServices) => Promise<T>): Promise<T> {
  const config = loadConfig({ file: opts.config, ...(opts.env ? { env: opts.env } : {}), overrides: { ...opts.overrides, dataDir: opts.data } });
  const conn = await openExisting(config, opts.init ?? false);
  if (opts.announce ?? true) process.stderr.write(`berth: using ${describeData(config)}\n`);
  let blobs: BlobStore | undefined;
  try {
    await prepareSchema(conn, config.metadata.autoMigrate);
    const clock = systemClock;
    blobs = await openBlobStore(config.storage);
    const repos = new RepositoryStore({ db: conn.db, clock });
    return await fn({
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

/**
 * Connects to the configured metadata database if it holds a Berth schema, or when `init` says to create one. A
 * SQLite file that does not exist is never created otherwise (connecting would create it); a database on which no
 * migration ever ran (an empty PostgreSQL database, a SQLite file left by a refused start) counts as none.
 */
export async function openExisting(config: Config, init: boolean): Promise<Connection> {
  const refuse = (): UsageError => new UsageError(`no Berth database in ${describeData(config)}: pass --data DIR (or --config FILE) `
    + 'to use the one `berth serve` uses, or --init to create a new one here');
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

/** Which data directory and database a command works on, for its first line on stderr (credentials left out). */
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
