import type { Kysely } from 'kysely';

/**
 * Who pushed each version (the account whose credentials stored the manifest first), for the admin overview's
 * recent pushes; null for anonymous pushes and for versions pushed before this migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('manifests').addColumn('pushed_by', 'bigint').execute();
}
