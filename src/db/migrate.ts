import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Connection, Dialect } from './connect.js';
import * as m0001 from './migrations/0001-initial.js';
import * as m0002 from './migrations/0002-accounts.js';
import * as m0003 from './migrations/0003-packages.js';
import * as m0004 from './migrations/0004-gc.js';

type MigrationModule = { up(db: Kysely<unknown>, dialect: Dialect): Promise<void> };

/** Ordered, forward-only; the name is the order. Add new files here. */
const MIGRATIONS: Record<string, MigrationModule> = {
  '0001-initial': m0001,
  '0002-accounts': m0002,
  '0003-packages': m0003,
  '0004-gc': m0004,
};

/** Brings the schema up to date. On PostgreSQL Kysely's migrator holds an advisory lock, so replicas never race. */
export async function migrate(conn: Connection): Promise<string[]> {
  const provider: MigrationProvider = {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, mod] of Object.entries(MIGRATIONS)) {
        out[name] = { up: (db) => mod.up(db, conn.dialect) };
      }
      return out;
    },
  };
  const migrator = new Migrator({ db: conn.db, provider, migrationTableName: 'berth_migrations', migrationLockTableName: 'berth_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
