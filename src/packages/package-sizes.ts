import type { SelectQueryBuilder } from 'kysely';
import type { Database, Db } from '../db/schema.js';

/** Packages by id: a list, or a query selecting their ids. */
export type PackageIds = readonly number[] | SelectQueryBuilder<Database, 'repositories', { id: number }>;

/**
 * Storage of each package's live versions: the sizes of the distinct blobs they reference (a layer shared by
 * several versions of a package counts once). One query whatever the number of packages; packages without blobs
 * are absent from the map. The one definition behind the REST stats, the package lists and the usage pages.
 */
export async function blobBytesByPackage(db: Db, ids: PackageIds): Promise<Map<number, number>> {
  if (Array.isArray(ids) && ids.length === 0) return new Map();
  const rows = await db.selectFrom((qb) => qb.selectFrom('manifestReferences as r').innerJoin('manifests as m', 'm.id', 'r.manifestId')
    .select(['m.repositoryId', 'r.digest']).distinct()
    .where('m.repositoryId', 'in', ids).where('m.deletedAt', 'is', null).where('r.kind', '=', 'blob').as('x'))
    .innerJoin('blobs as b', 'b.digest', 'x.digest')
    .select(['x.repositoryId', (eb) => eb.fn.sum('b.size').as('size')]).groupBy('x.repositoryId').execute();
  // Sums come back as strings from PostgreSQL (numeric): hence Number().
  return new Map(rows.map((r) => [Number(r.repositoryId), Number(r.size)]));
}
