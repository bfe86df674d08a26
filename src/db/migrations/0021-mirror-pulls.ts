import type { Kysely } from 'kysely';

/**
 * Pull-through mirrors (src/mirror/): when each cached version was last pulled through the cache, to the second,
 * so `mirror.upstreams.<ns>.evictAfter` can evict what nobody pulls any more (lifecycle/mirror-eviction.ts) and the
 * mirror pages can say when a cached repository was last used. `downloads_daily` counts per day only. A row per
 * manifest; it goes with the manifest (cascade).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('mirror_pulls')
    .addColumn('manifest_id', 'bigint', (c) => c.primaryKey().references('manifests.id').onDelete('cascade'))
    .addColumn('pulled_at', 'bigint', (c) => c.notNull())
    .execute();
}
