import type { Db } from '../db/schema.js';
import type { DownloadCounter } from '../registry/download-counter.js';
import type { PackageInfo } from './package-service.js';
import { packageFigures } from './package-figures.js';
import type { VersionInfo } from './version-service.js';

/** Downloads of a package or version: the total and the days with any (days since the epoch, UTC), oldest first. */
export interface DownloadSummary {
  readonly total: number;
  readonly daily: readonly { readonly day: number; readonly count: number }[];
}

export interface UsageStats {
  readonly downloads: DownloadSummary;
  /**
   * A package's storage figure (registry/storage-usage.ts); a version's: the distinct blobs it references (an
   * index's children's too), what deleting it alone would at most free.
   */
  readonly sizeBytes: number;
}

/**
 * What GitHub's REST objects do not carry but its package pages show: download counts (every manifest GET is one
 * download of that version) and storage used. Served by Berth's own endpoints, never inside GitHub's shapes.
 */
export class PackageStats {
  readonly #db: Db;
  readonly #downloads: DownloadCounter;

  constructor(deps: { db: Db; downloads: DownloadCounter }) {
    this.#db = deps.db;
    this.#downloads = deps.downloads;
  }

  /** All versions' downloads (deleted and purged ones' too: they happened), per day; the package's storage figure. */
  async forPackage(pkg: PackageInfo): Promise<UsageStats> {
    await this.#downloads.flush();
    const [daily, figures] = await Promise.all([
      this.#db.selectFrom('packageDownloadsDaily').select(['day', 'count']).where('repositoryId', '=', pkg.id).orderBy('day').execute(),
      packageFigures(this.#db, [pkg.id]),
    ]);
    return { downloads: summary(daily), sizeBytes: figures.get(pkg.id)?.sizeBytes ?? 0 };
  }

  /** The version's downloads; its size counts, for a multi-arch index, the blobs of its child manifests too. */
  async forVersion(pkg: PackageInfo, version: VersionInfo): Promise<UsageStats> {
    await this.#downloads.flush();
    const daily = await this.#db.selectFrom('downloadsDaily').select(['day', 'count'])
      .where('manifestId', '=', version.id).orderBy('day').execute();
    const children = this.#db.selectFrom('manifests as c').innerJoin('manifestReferences as r', 'r.digest', 'c.digest')
      .select('c.id').where('r.manifestId', '=', version.id).where('r.kind', '=', 'manifest').where('c.repositoryId', '=', pkg.id);
    const digests = this.#db.selectFrom('manifestReferences').select('digest').where('kind', '=', 'blob')
      .where((eb) => eb.or([eb('manifestId', '=', version.id), eb('manifestId', 'in', children)]));
    const size = await this.#db.selectFrom('blobs').select((eb) => eb.fn.sum('size').as('size')).where('digest', 'in', digests).executeTakeFirst();
    return { downloads: summary(daily), sizeBytes: Number(size?.size ?? 0) };
  }
}

// Sums come back as numbers from SQLite and as strings from PostgreSQL (numeric): hence the Number() calls.
function summary(rows: { day: number; count: unknown }[]): DownloadSummary {
  const daily = rows.map((r) => ({ day: Number(r.day), count: Number(r.count) }));
  return { total: daily.reduce((sum, d) => sum + d.count, 0), daily };
}
