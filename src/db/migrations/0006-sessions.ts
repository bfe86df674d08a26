import type { Kysely } from 'kysely';

/**
 * Web UI sessions, in the database so every replica accepts the same cookie (no sticky sessions). Only the
 * sha256 of the session id is stored: a copy of the database does not sign anyone in.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
  await db.schema.createIndex('sessions_expires').on('sessions').column('expires_at').execute();
}
