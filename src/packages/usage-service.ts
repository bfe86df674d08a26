import type { Visibility } from '../auth/permissions.js';
import type { Db } from '../db/schema.js';
import type { DownloadCounter } from '../registry/download-counter.js';
import type { Owner } from './package-service.js';
import { blobBytesByPackage } from './package-sizes.js';
import type { DownloadSummary } from './package-stats.js';

/** Storage and downloads of one live package. */
export interface PackageUsage {
  readonly id: number;
  /** The package name without its owner (`app`, `team/api`). */
  readonly name: string;
  readonly repository: string;
  readonly visibility: Visibility;
  readonly versionCount: number;
  /** Distinct blobs referenced by its live versions (each counted once) plus the manifests' own bytes. */
  readonly sizeBytes: number;
  /** Every download of the package (deleted versions' too: they happened). */
  readonly downloads: number;
}

/** What an owner's packages use: storage (a blob shared by two packages counts once in the total), downloads. */
export interface OwnerUsage {
  readonly totalBytes: number;
  /** Largest first. */
  readonly packages: readonly PackageUsage[];
  readonly downloads: DownloadSummary;
}

/** How many packages "top packages by downloads" lists, on the usage page and in the REST stats. */
export const TOP_PACKAGES = 10;

/** The most downloaded packages of an owner's usage, most first (ties by name); packages never downloaded are left out. */
export function topByDownloads(usage: OwnerUsage, limit: number = TOP_PACKAGES): PackageUsage[] {
  return usage.packages.filter((p) => p.downloads > 0)
    .sort((a, b) => b.downloads - a.downloads || a.name.localeCompare(b.name)).slice(0, limit);
}

/** One manifest push, newest first, for the instance overview. */
export interface RecentPush {
  readonly repository: string;
  readonly owner: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly tags: readonly string[];
  readonly pushedAt: number;
  /**
   * The user who created the package (its first pusher). Manifests do not record who pushed them, so this is
   * the package's creator, not necessarily this push's author.
   */
  /** Who pushed it: null for an anonymous push or one from before Berth recorded pushers. */
  readonly pushedBy: string | null;
}

/** The instance admin's overview. */
export interface InstanceOverview {
  readonly users: number;
  readonly disabledUsers: number;
  readonly admins: number;
  readonly orgs: number;
  readonly packages: number;
  readonly deletedPackages: number;
  readonly versions: number;
  /** Every committed blob, referenced or not (what the blob store holds, before GC). */
  readonly blobCount: number;
  readonly blobBytes: number;
  /** Bytes of the manifests themselves (kept in the database). */
  readonly manifestBytes: number;
  /** Owners by storage used, largest first. */
  readonly owners: readonly { readonly owner: string; readonly packages: number; readonly sizeBytes: number }[];
  readonly recentPushes: readonly RecentPush[];
}

/**
 * Storage used and downloads, per owner and per package, and the instance overview: the numbers behind the
 * usage and admin pages. Aggregates run in the database (one query per figure, whatever the number of packages),
 * and the same statements run on SQLite and PostgreSQL.
 */
export class UsageService {
  readonly #db: Db;
  readonly #downloads: DownloadCounter;

  constructor(deps: { db: Db; downloads: DownloadCounter }) {
    this.#db = deps.db;
    this.#downloads = deps.downloads;
  }

  async forOwner(owner: Owner): Promise<OwnerUsage> {
    await this.#downloads.flush();
    const login = owner.login.toLowerCase();
    const liveRefs = this.#db.selectFrom('manifestReferences as r')
      .innerJoin('manifests as m', 'm.id', 'r.manifestId')
      .innerJoin('repositories as p', 'p.id', 'm.repositoryId')
      .where('p.owner', '=', login).where('p.deletedAt', 'is', null).where('m.deletedAt', 'is', null).where('r.kind', '=', 'blob');

    const [packages, blobBytes, manifestsPerPackage, downloadsPerPackage, ownerBlobs, daily] = await Promise.all([
      this.#db.selectFrom('repositories').select(['id', 'name', 'visibility'])
        .where('owner', '=', login).where('deletedAt', 'is', null).orderBy('name').execute(),
      blobBytesByPackage(this.#db, this.#db.selectFrom('repositories').select('id').where('owner', '=', login).where('deletedAt', 'is', null)),
      this.#db.selectFrom('manifests as m').innerJoin('repositories as p', 'p.id', 'm.repositoryId')
        .select(['m.repositoryId', (eb) => eb.fn.sum('m.size').as('bytes'), (eb) => eb.fn.countAll().as('n')])
        .where('p.owner', '=', login).where('p.deletedAt', 'is', null).where('m.deletedAt', 'is', null)
        .groupBy('m.repositoryId').execute(),
      this.#db.selectFrom('downloadsDaily as d').innerJoin('manifests as m', 'm.id', 'd.manifestId')
        .innerJoin('repositories as p', 'p.id', 'm.repositoryId')
        .select(['m.repositoryId', (eb) => eb.fn.sum('d.count').as('n')])
        .where('p.owner', '=', login).where('p.deletedAt', 'is', null).groupBy('m.repositoryId').execute(),
      this.#db.selectFrom('blobs').select((eb) => eb.fn.sum('size').as('bytes'))
        .where('digest', 'in', liveRefs.select('r.digest')).executeTakeFirst(),
      this.#db.selectFrom('downloadsDaily as d').innerJoin('manifests as m', 'm.id', 'd.manifestId')
        .innerJoin('repositories as p', 'p.id', 'm.repositoryId')
        .select(['d.day', (eb) => eb.fn.sum('d.count').as('count')])
        .where('p.owner', '=', login).groupBy('d.day').orderBy('d.day').execute(),
    ]);

    // Sums and counts come back as numbers from SQLite and as strings from PostgreSQL (numeric): hence Number().
    const manifests = new Map(manifestsPerPackage.map((r) => [r.repositoryId, { bytes: Number(r.bytes), count: Number(r.n) }]));
    const downloads = new Map(downloadsPerPackage.map((r) => [r.repositoryId, Number(r.n)]));
    const prefix = login.length + 1;
    const usage: PackageUsage[] = packages.map((p) => ({
      id: p.id,
      name: p.name.slice(prefix),
      repository: p.name,
      visibility: p.visibility,
      versionCount: manifests.get(p.id)?.count ?? 0,
      sizeBytes: (blobBytes.get(p.id) ?? 0) + (manifests.get(p.id)?.bytes ?? 0),
      downloads: downloads.get(p.id) ?? 0,
    }));
    usage.sort((a, b) => b.sizeBytes - a.sizeBytes || a.name.localeCompare(b.name));
    const manifestTotal = [...manifests.values()].reduce((sum, m) => sum + m.bytes, 0);
    const days = daily.map((r) => ({ day: Number(r.day), count: Number(r.count) }));
    return {
      totalBytes: Number(ownerBlobs?.bytes ?? 0) + manifestTotal,
      packages: usage,
      downloads: { total: days.reduce((sum, d) => sum + d.count, 0), daily: days },
    };
  }

  async overview(opts: { recentPushes: number; owners: number }): Promise<InstanceOverview> {
    const db = this.#db;
    const count = (n: unknown): number => Number(n ?? 0);
    const [accounts, repos, manifests, blobs, owners, recent] = await Promise.all([
      db.selectFrom('accounts').select([
        (eb) => eb.fn.sum(eb.case().when('type', '=', 'user').then(1).else(0).end()).as('users'),
        (eb) => eb.fn.sum(eb.case().when('type', '=', 'org').then(1).else(0).end()).as('orgs'),
        (eb) => eb.fn.sum(eb.case().when(eb.and([eb('type', '=', 'user'), eb('disabledAt', 'is not', null)])).then(1).else(0).end()).as('disabled'),
        (eb) => eb.fn.sum(eb.case().when(eb.and([eb('type', '=', 'user'), eb('isAdmin', '=', 1)])).then(1).else(0).end()).as('admins'),
      ]).executeTakeFirst(),
      db.selectFrom('repositories').select([
        (eb) => eb.fn.sum(eb.case().when('deletedAt', 'is', null).then(1).else(0).end()).as('live'),
        (eb) => eb.fn.sum(eb.case().when('deletedAt', 'is not', null).then(1).else(0).end()).as('deleted'),
      ]).executeTakeFirst(),
      db.selectFrom('manifests as m').innerJoin('repositories as p', 'p.id', 'm.repositoryId')
        .select([(eb) => eb.fn.countAll().as('n'), (eb) => eb.fn.sum('m.size').as('bytes')])
        .where('m.deletedAt', 'is', null).where('p.deletedAt', 'is', null).executeTakeFirst(),
      db.selectFrom('blobs').select([(eb) => eb.fn.countAll().as('n'), (eb) => eb.fn.sum('size').as('bytes')]).executeTakeFirst(),
      this.ownerSizes(opts.owners),
      db.selectFrom('manifests as m').innerJoin('repositories as p', 'p.id', 'm.repositoryId')
        .leftJoin('accounts as a', 'a.id', 'm.pushedBy')
        .select(['m.id', 'm.digest', 'm.mediaType', 'm.createdAt', 'p.name', 'p.owner', 'a.login'])
        // Children of an index are pushed with it; list what was pushed by name: tagged manifests and indexes.
        .where('m.deletedAt', 'is', null).where('p.deletedAt', 'is', null)
        .where((eb) => eb.or([
          eb.exists(eb.selectFrom('tags as t').select('t.manifestId').whereRef('t.manifestId', '=', 'm.id')),
          eb.not(eb.exists(eb.selectFrom('manifestReferences as r').innerJoin('manifests as parent', 'parent.id', 'r.manifestId')
            .select('r.manifestId').whereRef('r.digest', '=', 'm.digest').whereRef('parent.repositoryId', '=', 'm.repositoryId')
            .where('r.kind', '=', 'manifest'))),
        ]))
        .orderBy('m.createdAt', 'desc').orderBy('m.id', 'desc').limit(opts.recentPushes).execute(),
    ]);
    const ids = recent.map((r) => r.id);
    const tags = ids.length === 0 ? [] : await db.selectFrom('tags').select(['manifestId', 'name'])
      .where('manifestId', 'in', ids).orderBy('name').execute();
    const tagsOf = new Map<number, string[]>();
    for (const t of tags) tagsOf.set(t.manifestId, [...(tagsOf.get(t.manifestId) ?? []), t.name]);
    return {
      users: count(accounts?.users),
      orgs: count(accounts?.orgs),
      disabledUsers: count(accounts?.disabled),
      admins: count(accounts?.admins),
      packages: count(repos?.live),
      deletedPackages: count(repos?.deleted),
      versions: count(manifests?.n),
      blobCount: count(blobs?.n),
      blobBytes: count(blobs?.bytes),
      manifestBytes: count(manifests?.bytes),
      owners,
      recentPushes: recent.map((r) => ({
        repository: r.name, owner: r.owner, digest: r.digest, mediaType: r.mediaType, tags: tagsOf.get(r.id) ?? [],
        pushedAt: r.createdAt, pushedBy: r.login,
      })),
    };
  }

  /**
   * The owners using the most storage: distinct blobs of their live versions plus the manifests' bytes (the admin
   * overview, and `berth_storage_owner_bytes`).
   */
  async ownerSizes(limit: number): Promise<InstanceOverview['owners']> {
    const db = this.#db;
    const live = db.selectFrom('manifests as m').innerJoin('repositories as p', 'p.id', 'm.repositoryId')
      .where('m.deletedAt', 'is', null).where('p.deletedAt', 'is', null);
    const [blobRows, manifestRows, packageRows] = await Promise.all([
      db.selectFrom(live.innerJoin('manifestReferences as r', 'r.manifestId', 'm.id').where('r.kind', '=', 'blob')
        .select(['p.owner', 'r.digest']).distinct().as('x'))
        .innerJoin('blobs as b', 'b.digest', 'x.digest')
        .select(['x.owner', (eb) => eb.fn.sum('b.size').as('bytes')]).groupBy('x.owner').execute(),
      live.select(['p.owner', (eb) => eb.fn.sum('m.size').as('bytes')]).groupBy('p.owner').execute(),
      db.selectFrom('repositories').select(['owner', (eb) => eb.fn.countAll().as('n')]).where('deletedAt', 'is', null).groupBy('owner').execute(),
    ]);
    const bytes = new Map<string, number>();
    for (const r of [...blobRows, ...manifestRows]) bytes.set(r.owner, (bytes.get(r.owner) ?? 0) + Number(r.bytes));
    return packageRows.map((r) => ({ owner: r.owner, packages: Number(r.n), sizeBytes: bytes.get(r.owner) ?? 0 }))
      .sort((a, b) => b.sizeBytes - a.sizeBytes || a.owner.localeCompare(b.owner)).slice(0, limit);
  }
}
