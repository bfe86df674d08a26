import { sql } from 'kysely';
import type { Db } from '../db/schema.js';
import type { DownloadCounter } from '../registry/download-counter.js';
import type { PackageInfo } from './package-service.js';
import { packageFigures } from './package-figures.js';

/** What a package list row shows besides the package itself. */
export interface PackageSummary {
  /**
   * The tag a list shows: `latest` when the package has it, else the tag of the most recently pushed version
   * (artifact tags, `sha256-<hex>[.sig|.att|…]`, left out): a tag moved onto an old version, or a restore, does
   * not make it the newest.
   */
  readonly latestTag: string | null;
  /** When the newest live version was pushed. */
  readonly lastPublishedAt: number | null;
  /** Every download of every version (deleted ones' too). */
  readonly downloads: number;
  /** Distinct blobs of the live versions (a layer shared by versions counts once). */
  readonly sizeBytes: number;
}

/**
 * Tags that name an artifact about an image rather than an image: cosign's `sha256-<hex>.sig|.att|.sbom` and the
 * OCI referrers tag schema's `sha256-<hex>` (distribution-spec "Referrers Tag Schema"). GHCR hides them from a
 * package's main view; the pages list those artifacts under the image they are about.
 */
const ARTIFACT_TAG = /^sha256-[0-9a-f]{64}(\.[A-Za-z0-9_-][A-Za-z0-9._-]*)?$/;

export function isArtifactTag(name: string): boolean {
  return ARTIFACT_TAG.test(name);
}

/**
 * Nearly the same test in SQL, portable across SQLite and PostgreSQL: `sha256-` + 64 characters, then the end or a
 * dot, without the hex check (so a tag of that length and shape that is not hex is left out too; no image tag
 * looks like that).
 */
const MAYBE_ARTIFACT_TAG = sql<boolean>`(substr(name, 1, 7) = 'sha256-' and (length(name) = 71 or substr(name, 72, 1) = '.'))`;

export interface TagInfo {
  readonly name: string;
  readonly versionId: number;
  readonly updatedAt: number;
}

/**
 * Batch queries for the web UI's package lists: one page of packages costs a fixed number of queries whatever
 * the page size, so an organization with a thousand packages lists as fast as one with ten.
 */
export class PackageSummaries {
  readonly #db: Db;
  readonly #downloads: DownloadCounter;

  constructor(deps: { db: Db; downloads: DownloadCounter }) {
    this.#db = deps.db;
    this.#downloads = deps.downloads;
  }

  async forPackages(packages: readonly PackageInfo[]): Promise<Map<number, PackageSummary>> {
    const ids = packages.map((p) => p.id);
    const out = new Map<number, PackageSummary>();
    if (ids.length === 0) return out;
    await this.#downloads.flush();
    const [tags, published, figures] = await Promise.all([
      // Per package, `latest` or else the tag of its newest version: ranked in the database (a package may have
      // 10,000 tags).
      this.#db.selectFrom((qb) => qb.selectFrom('tags').innerJoin('manifests', 'manifests.id', 'tags.manifestId')
        .select(['tags.repositoryId', 'tags.name', (eb) => eb.fn.agg<number>('row_number').over((o) => o.partitionBy('tags.repositoryId')
          .orderBy(sql`case when tags.name = 'latest' then 0 else 1 end`).orderBy('manifests.createdAt', 'desc')
          .orderBy('tags.updatedAt', 'desc').orderBy('tags.name')).as('rank')])
        .where('tags.repositoryId', 'in', ids).where(sql<boolean>`not ${MAYBE_ARTIFACT_TAG}`).as('t'))
        .select(['repositoryId', 'name']).where('rank', '=', 1).execute(),
      this.#db.selectFrom('manifests').select(['repositoryId', (eb) => eb.fn.max('createdAt').as('at')])
        .where('repositoryId', 'in', ids).where('deletedAt', 'is', null).groupBy('repositoryId').execute(),
      packageFigures(this.#db, ids),
    ]);
    const latest = new Map(tags.map((t) => [Number(t.repositoryId), t.name]));
    // Sums and maxima come back as strings from PostgreSQL (numeric): hence the Number() calls.
    const num = <T extends { repositoryId: number }>(rows: T[], key: keyof T) => new Map(rows.map((r) => [Number(r.repositoryId), Number(r[key])]));
    const at = num(published, 'at');
    for (const id of ids) {
      const f = figures.get(id);
      out.set(id, { latestTag: latest.get(id) ?? null, lastPublishedAt: at.get(id) ?? null, downloads: f?.downloads ?? 0, sizeBytes: f?.sizeBytes ?? 0 });
    }
    return out;
  }

  /**
   * The package's image tags (artifact tags left out), most recently moved first (at most `limit`), and whether it
   * has more: one more row read rather than a count of them all (100,000 tags: 7–8 ms on SQLite).
   */
  async tags(pkg: PackageInfo, limit: number): Promise<{ tags: TagInfo[]; more: boolean }> {
    const rows = await this.#db.selectFrom('tags').where('repositoryId', '=', pkg.id).where(sql<boolean>`not ${MAYBE_ARTIFACT_TAG}`)
      .select(['name', 'manifestId', 'updatedAt']).orderBy('updatedAt', 'desc').orderBy('name').limit(limit + 1).execute();
    return { tags: rows.slice(0, limit).map((r) => ({ name: r.name, versionId: Number(r.manifestId), updatedAt: r.updatedAt })), more: rows.length > limit };
  }
}
