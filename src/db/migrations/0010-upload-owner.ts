import type { Kysely } from 'kysely';

/**
 * Who started each upload session (null for anonymous sessions and those started before this migration), so the
 * sessions open per user and per repository can be capped (`uploads.maxSessionsPerUser`, `…PerRepository`): both
 * counts go through an index.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('uploads').addColumn('created_by', 'bigint').execute();
  await db.schema.createIndex('uploads_created_by').on('uploads').column('created_by').execute();
  await db.schema.createIndex('uploads_repository').on('uploads').column('repository_id').execute();
}
