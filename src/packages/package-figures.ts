import type { SelectQueryBuilder } from 'kysely';
import type { Database, Db } from '../db/schema.js';

/** Packages by id: a list, or a query selecting their ids. */
export type PackageIds = readonly number[] | SelectQueryBuilder<Database, 'repositories', { id: number }>;

/** A package's kept figures. */
export interface PackageFigures {
  /** Its storage figure (registry/storage-usage.ts): distinct blobs of its live versions plus their manifests. */
  readonly sizeBytes: number;
  /** Every download of the package, all time (deleted and purged versions' too: they happened). */
  readonly downloads: number;
}

/**
 * The kept figures of each package: its storage (registry/storage-usage.ts: the distinct blobs its live versions
 * reference plus their manifests), kept by the registry's transactions, and its downloads, kept by the download
 * counter's flush; one lookup whatever the number of packages or versions. Packages without a figures row are
 * absent from the map. The one source behind the REST stats, the package pages and lists, and the mirror pages.
 */
export async function packageFigures(db: Db, ids: PackageIds): Promise<Map<number, PackageFigures>> {
  if (Array.isArray(ids) && ids.length === 0) return new Map();
  const rows = await db.selectFrom('packageStorage').select(['repositoryId', 'bytes', 'downloads']).where('repositoryId', 'in', ids).execute();
  return new Map(rows.map((r) => [Number(r.repositoryId), { sizeBytes: Number(r.bytes), downloads: Number(r.downloads) }]));
}
