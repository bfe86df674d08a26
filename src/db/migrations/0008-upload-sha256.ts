import type { Kysely } from 'kysely';

/**
 * The sha256 of an upload's bytes so far, written with each chunk by the process that hashed it live. A session
 * finished on another replica (a load balancer spreads PATCH and PUT over replicas) then verifies the digest from
 * this column instead of reading the whole upload back from storage. Null when unknown (a chunk appended after a
 * restart or on a replica without the live hash): the commit re-hashes from storage as before.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('uploads').addColumn('sha256', 'text').execute();
}
