import { sql, type Kysely } from 'kysely';

/**
 * Indexes for the package pages at scale (10,000 versions, 1,000 packages):
 * - A package's live versions, newest first, paged with OFFSET (`VersionService.list`: `where repository_id = ?
 *   and deleted_at is null order by created_at desc, id desc`). A partial index over the live versions only: in
 *   a full index `deleted_at` would sit between the package and the order, and PostgreSQL does not treat
 *   `is null` as an equality that fixes a column, so it would sort the package's versions on every page. With it,
 *   both dialects read a page in order, answer the count from the index, and SQLite skips a deep page's rows in
 *   the index without reading them. (Deleted versions, listed to admins only, are few.)
 * - A package's tags by when they last moved (the package page's recent tags, the lists' latest tag).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('manifests_live_versions').on('manifests')
    .columns(['repository_id', 'created_at', 'id']).where(sql.ref('deleted_at'), 'is', null).execute();
  await db.schema.createIndex('tags_recent').on('tags').columns(['repository_id', 'updated_at']).execute();
}
