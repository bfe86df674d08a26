import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.js';
import { PG_CHANGES_CHANNEL } from '../change-feed.js';

/**
 * PostgreSQL: every statement that changes tags, manifests, or a repository's name or deletion notifies
 * `berth_registry_changes` (delivered when its transaction commits, once per transaction), so every replica's
 * manifest cache forgets what it read before (src/db/change-feed.ts). Statement-level: one notification per
 * statement, whatever it touched. SQLite needs nothing: its change feed reads `PRAGMA data_version`.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect !== 'postgres') return;
  await sql.raw(`
    CREATE FUNCTION berth_registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('${PG_CHANGES_CHANNEL}', '');
      RETURN NULL;
    END $$`).execute(db);
  for (const [table, events] of [
    ['tags', 'INSERT OR UPDATE OR DELETE OR TRUNCATE'],
    ['manifests', 'INSERT OR UPDATE OR DELETE OR TRUNCATE'],
    ['repositories', 'UPDATE OF name, deleted_at OR DELETE OR TRUNCATE'],
  ] as const) {
    await sql.raw(`CREATE TRIGGER ${table}_changed AFTER ${events} ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION berth_registry_changed()`).execute(db);
  }
}
