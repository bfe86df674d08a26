import type { Kysely } from 'kysely';

/**
 * Tombstones for blobs the garbage collector is deleting: written in the same transaction that deletes the blob
 * row, removed once the bytes are gone. An upload that commits the same digest meanwhile sees the tombstone and
 * puts its bytes back after the deletion (see UploadService and GarbageCollector).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('blob_deletions')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .execute();
}
