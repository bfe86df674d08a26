import { sql, type OperationNodeSource } from 'kysely';
import type { Db } from '../db/schema.js';

/**
 * Listings count their items up to this many and one more: GitHub pages no further than the 10,000th item
 * (`page × per_page ≤ 10000`), so counting beyond would only cost a read of the whole owner or package.
 */
export const COUNT_LIMIT = 10_000;

/**
 * The number of rows `query` returns, reading at most COUNT_LIMIT + 1 of them: a result above COUNT_LIMIT means
 * "more than COUNT_LIMIT".
 */
export async function countUpTo(db: Db, query: { limit(n: number): OperationNodeSource }): Promise<number> {
  const res = await sql<{ n: number | string }>`select count(*) as n from (${query.limit(COUNT_LIMIT + 1)}) as c`.execute(db);
  return Number(res.rows[0]!.n);
}
