import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { BerthError } from '../util/errors.js';
import type { Connection, Dialect } from './connect.js';
import * as m0001 from './migrations/0001-initial.js';
import * as m0002 from './migrations/0002-accounts.js';
import * as m0003 from './migrations/0003-packages.js';
import * as m0004 from './migrations/0004-gc.js';
import * as m0005 from './migrations/0005-job-leases.js';
import * as m0006 from './migrations/0006-sessions.js';
import * as m0007 from './migrations/0007-version-list-index.js';
import * as m0008 from './migrations/0008-upload-sha256.js';
import * as m0009 from './migrations/0009-manifest-pusher.js';
import * as m0010 from './migrations/0010-upload-owner.js';
import * as m0011 from './migrations/0011-blob-quarantine.js';
import * as m0012 from './migrations/0012-listing-indexes.js';
import * as m0013 from './migrations/0013-lifecycle.js';
import * as m0014 from './migrations/0014-webhooks.js';
import * as m0015 from './migrations/0015-trust-policies.js';
import * as m0016 from './migrations/0016-audit-log.js';
import * as m0017 from './migrations/0017-mirror.js';
import * as m0018 from './migrations/0018-bot-accounts.js';
import * as m0019 from './migrations/0019-storage-quotas.js';
import * as m0020 from './migrations/0020-package-readme.js';
import * as m0021 from './migrations/0021-mirror-pulls.js';
import * as m0022 from './migrations/0022-hook-scopes.js';
import * as m0023 from './migrations/0023-sso-identities.js';
import * as m0024 from './migrations/0024-change-notifications.js';
import * as m0025 from './migrations/0025-package-version-counts.js';
import * as m0026 from './migrations/0026-permission-change-notifications.js';
import * as m0027 from './migrations/0027-usage-figures.js';
import * as m0028 from './migrations/0028-mirror-upstreams.js';
import * as m0029 from './migrations/0029-blob-totals.js';

type MigrationModule = { up(db: Kysely<unknown>, dialect: Dialect): Promise<void> };

/** Ordered, forward-only; the name is the order. Add new files here. */
const MIGRATIONS: Record<string, MigrationModule> = {
  '0001-initial': m0001,
  '0002-accounts': m0002,
  '0003-packages': m0003,
  '0004-gc': m0004,
  '0005-job-leases': m0005,
  '0006-sessions': m0006,
  '0007-version-list-index': m0007,
  '0008-upload-sha256': m0008,
  '0009-manifest-pusher': m0009,
  '0010-upload-owner': m0010,
  '0011-blob-quarantine': m0011,
  '0012-listing-indexes': m0012,
  '0013-lifecycle': m0013,
  '0014-webhooks': m0014,
  '0015-trust-policies': m0015,
  '0016-audit-log': m0016,
  '0017-mirror': m0017,
  '0018-bot-accounts': m0018,
  '0019-storage-quotas': m0019,
  '0020-package-readme': m0020,
  '0021-mirror-pulls': m0021,
  '0022-hook-scopes': m0022,
  '0023-sso-identities': m0023,
  '0024-change-notifications': m0024,
  '0025-package-version-counts': m0025,
  '0026-permission-change-notifications': m0026,
  '0027-usage-figures': m0027,
  '0028-mirror-upstreams': m0028,
  '0029-blob-totals': m0029,
};

export interface MigrationStatus {
  readonly name: string;
  /** When it ran; null while pending. */
  readonly appliedAt: Date | null;
}

/**
 * Brings the schema up to date (or up to migration `to`, for tests of a migration on data written before it). On
 * PostgreSQL Kysely's migrator holds an advisory lock, so replicas never race.
 */
export async function migrate(conn: Connection, to?: string): Promise<string[]> {
  const m = migrator(conn);
  const { error, results } = to === undefined ? await m.migrateToLatest() : await m.migrateTo(to);
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * What every process does with the schema at start (config `metadata.autoMigrate`): migrate, or, when automatic
 * migration is off, refuse to run on a schema with pending migrations. Returns the migrations applied.
 */
export async function prepareSchema(conn: Connection, autoMigrate: boolean): Promise<string[]> {
  if (autoMigrate) return migrate(conn);
  const pending = (await migrationStatus(conn)).filter((m) => m.appliedAt === null).map((m) => m.name);
  if (pending.length === 0) return [];
  throw migrationsPending(pending);
}

/** Exit 1 in the CLI: the operator runs `berth migrate`, then starts again. */
const migrationsPending = (pending: string[]): BerthError => new BerthError({
  status: 503, code: 'MIGRATIONS_PENDING',
  message: `the metadata database needs migration${pending.length > 1 ? 's' : ''} ${pending.join(', ')} and metadata.autoMigrate is false: `
    + 'run `berth migrate` (with the same --config/--data) first',
});

/** Every migration this Berth knows, applied or pending, in order; reads only (an empty database has all pending). */
export async function migrationStatus(conn: Connection): Promise<MigrationStatus[]> {
  const infos = await migrator(conn).getMigrations();
  return infos.map((m) => ({ name: m.name, appliedAt: m.executedAt ?? null }));
}

function migrator(conn: Connection): Migrator {
  const provider: MigrationProvider = {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, mod] of Object.entries(MIGRATIONS)) {
        out[name] = { up: (db) => mod.up(db, conn.dialect) };
      }
      return out;
    },
  };
  return new Migrator({ db: conn.db, provider, migrationTableName: 'berth_migrations', migrationLockTableName: 'berth_migrations_lock' });
}
