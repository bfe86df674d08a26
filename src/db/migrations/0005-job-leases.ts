import type { Kysely } from 'kysely';

/**
 * Leases of cluster-wide background jobs (upload purge, package purge, later GC and retention): one row per job
 * naming the replica that may run it and until when. Taken and renewed by conditional upserts/updates, so the
 * same statements work on SQLite and PostgreSQL (see JobLeases).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('job_leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}
