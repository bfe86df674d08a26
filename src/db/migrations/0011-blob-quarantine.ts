import { sql, type Kysely } from 'kysely';

/**
 * Blob scrubbing (maintenance/blob-scrubber.ts) and quarantine:
 * - `checked_at`: when the blob's bytes were last hashed and found to match (by a scrub, or an upload of the same
 *   bytes that replaced them). Null until then: the upload verified the digest at `created_at`, so a scrub treats
 *   `coalesce(checked_at, created_at)` as the last verification and re-checks the oldest first; an interrupted
 *   scrub resumes where it stopped. The expression index serves that order.
 * - `quarantined_at` / `quarantine_reason` (`corrupt` | `missing`): the bytes were found not to match the digest
 *   (or gone). A quarantined blob is never served (GET/HEAD 404, no mount, manifests cannot reference it) until an
 *   upload of the right bytes replaces them, or a scrub finds them good again (restored from a backup).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('blobs').addColumn('checked_at', 'bigint').execute();
  await db.schema.alterTable('blobs').addColumn('quarantined_at', 'bigint').execute();
  await db.schema.alterTable('blobs').addColumn('quarantine_reason', 'text').execute();
  await db.schema.createIndex('blobs_scrub_order').on('blobs')
    .expression(sql`coalesce(checked_at, created_at), digest`).execute();
}
