import type { Kysely } from 'kysely';

/**
 * Pull-through mirrors (src/mirror/): when each cached tag was last confirmed against its upstream, so it is served
 * without asking until `mirror.tagTtl` has passed. A row per (repository, tag); the tag itself lives in `tags` as
 * for a pushed image. Manifests by digest need no row: they never change.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('mirror_tags')
    .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('checked_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('mirror_tags_pk', ['repository_id', 'name'])
    .execute();
}
