import type { SelectQueryBuilder } from 'kysely';
import type { Database, Db } from '../db/schema.js';

/** Packages by id: a list, or a query selecting their ids. */
export type PackageIds = readonly number[] | SelectQueryBuilder<Database, 'repositories', { id: number }>;

/**
 * The storage figure of each package (registry/storage-usage.ts: the distinct blobs its live versions reference
 * plus their manifests), kept by the registry's transactions, so one lookup whatever the number of packages;
 * packages that never held a version are absent from the map. The one figure behind the REST stats, the package
 * pages and lists, the usage pages and the admin page.
 */
export async function storageByPackage(db: Db, ids: PackageIds): Promise<Map<number, number>> {
  if (Array.isArray(ids) && ids.length === 0) return new Map();
  const rows = await db.selectFrom('packageStorage').select(['repositoryId', 'bytes']).where('repositoryId', 'in', ids).execute();
  return new Map(rows.map((r) => [Number(r.repositoryId), Number(r.bytes)]));
}
