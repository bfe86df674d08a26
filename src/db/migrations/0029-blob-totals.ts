import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.js';

/**
 * The blob store's count and bytes, kept instead of summed over `blobs` for each view of the admin overview (a
 * read of the whole registry: a million rows at issue 14's size). Kept by triggers, not by the code that writes
 * `blobs`, because an upload's commit is an upsert (it must lock an existing row, see upload-service.ts): only the
 * database knows whether it inserted. Sixteen rows, one per first hex digit of the digest, so concurrent commits on
 * PostgreSQL seldom wait on the same row (each holds its row until it commits). A row's figures may go below zero;
 * only the sum means anything.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.createTable('blob_totals')
    .addColumn('shard', 'text', (c) => c.primaryKey())
    .addColumn('blob_count', 'bigint', (c) => c.notNull())
    .addColumn('blob_bytes', 'bigint', (c) => c.notNull())
    .execute();
  const shard = (row: 'NEW' | 'OLD' | 'b'): string => dialect === 'postgres'
    ? `substr(${row}.digest, strpos(${row}.digest, ':') + 1, 1)`
    : `substr(${row}.digest, instr(${row}.digest, ':') + 1, 1)`;
  await sql.raw(`INSERT INTO blob_totals (shard, blob_count, blob_bytes)
    SELECT d.shard, COALESCE(t.n, 0), COALESCE(t.bytes, 0)
    FROM (${[...'0123456789abcdef'].map((c) => `SELECT '${c}' AS shard`).join(' UNION ALL ')}) d
    LEFT JOIN (SELECT ${shard('b')} AS shard, COUNT(*) AS n, SUM(b.size) AS bytes FROM blobs b GROUP BY 1) t ON t.shard = d.shard`).execute(db);
  if (dialect === 'postgres') {
    await sql.raw(`CREATE FUNCTION berth_blob_totals() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          UPDATE blob_totals SET blob_count = blob_count + 1, blob_bytes = blob_bytes + NEW.size WHERE shard = ${shard('NEW')};
        ELSE
          UPDATE blob_totals SET blob_count = blob_count - 1, blob_bytes = blob_bytes - OLD.size WHERE shard = ${shard('OLD')};
        END IF;
        RETURN NULL;
      END $$`).execute(db);
    await sql.raw('CREATE TRIGGER blobs_totals AFTER INSERT OR DELETE ON blobs FOR EACH ROW EXECUTE FUNCTION berth_blob_totals()').execute(db);
    return;
  }
  await sql.raw(`CREATE TRIGGER blobs_totals_insert AFTER INSERT ON blobs BEGIN
    UPDATE blob_totals SET blob_count = blob_count + 1, blob_bytes = blob_bytes + NEW.size WHERE shard = ${shard('NEW')};
  END`).execute(db);
  await sql.raw(`CREATE TRIGGER blobs_totals_delete AFTER DELETE ON blobs BEGIN
    UPDATE blob_totals SET blob_count = blob_count - 1, blob_bytes = blob_bytes - OLD.size WHERE shard = ${shard('OLD')};
  END`).execute(db);
}
