import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.js';

/**
 * Pull-through mirrors added by an instance admin at run time (`berth mirror add`, `/admin/mirrors`), beside those
 * of the configuration (mirror.upstreams). The password is sealed with auth.keyEncryptionKey when one is set (as
 * webhook secrets are); Berth must send it upstream, so it cannot be hashed. PostgreSQL: a change notifies every
 * replica (the change feed of 0024), which then reads the upstreams again; SQLite's feed needs nothing.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.createTable('mirror_upstreams')
    .addColumn('namespace', 'text', (c) => c.primaryKey())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('username', 'text')
    .addColumn('password', 'text')
    .addColumn('access', 'text')
    .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('evict_after_ms', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  if (dialect !== 'postgres') return;
  await sql.raw('CREATE TRIGGER mirror_upstreams_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mirror_upstreams FOR EACH STATEMENT EXECUTE FUNCTION berth_registry_changed()').execute(db);
}
