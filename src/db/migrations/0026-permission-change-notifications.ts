import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.js';

/**
 * PostgreSQL: the change notifications of migration 0024 also for what decides who reads which package, so every
 * replica's remembered package listings (src/packages/package-service.ts) are forgotten when it changes: a
 * repository created or its visibility changed, an account's admin flag, login or disabling, organization and team
 * membership, package roles. Statement-level, as in 0024. SQLite needs nothing (`PRAGMA data_version`).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect !== 'postgres') return;
  await sql`DROP TRIGGER repositories_changed ON repositories`.execute(db);
  for (const [table, events] of [
    ['repositories', 'INSERT OR UPDATE OF name, owner, deleted_at, visibility OR DELETE OR TRUNCATE'],
    ['accounts', 'INSERT OR UPDATE OF login, lower_login, type, is_admin, disabled_at OR DELETE OR TRUNCATE'],
    ['org_members', 'INSERT OR UPDATE OR DELETE OR TRUNCATE'],
    ['team_members', 'INSERT OR UPDATE OR DELETE OR TRUNCATE'],
    ['package_permissions', 'INSERT OR UPDATE OR DELETE OR TRUNCATE'],
  ] as const) {
    await sql.raw(`CREATE TRIGGER ${table}_changed AFTER ${events} ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION berth_registry_changed()`).execute(db);
  }
}
