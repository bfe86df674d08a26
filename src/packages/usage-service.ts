import type { Visibility } from '../auth/permissions.js';
import type { Db } from '../db/schema.js';
import type { DownloadCounter } from '../registry/download-counter.js';
import type { Owner } from './package-service.js';
import type { DownloadSummary } from './package-stats.js';

/** Storage and downloads of one live package. */
export interface PackageUsage {
  readonly id: number;
  /** The package name without its owner (`app`, `team/api`). */
  readonly name: string;
  readonly repository: string;
  readonly visibility: Visibility;
  readonly versionCount: number;
  /** Its storage figure (registry/storage-usage.ts): distinct blobs of its live versions plus their manifests. */
  readonly sizeBytes: number;
  /** Every download of the package (deleted versions' too: they happened). */
  readonly downloads: number;
}

/** An owner's totals: storage (a blob shared by two packages counts once), quota, packages, downloads. */
export interface OwnerTotals {
  /** The owner's storage figure (a blob shared by several of its packages counts once). */
  readonly totalBytes: number;
  /** The owner's quota (its own, else config `quota.default`); null: none. */
  readonly quotaBytes: number | null;
  /** Its live packages. */
  readonly packageCount: number;
  /** Every download of the owner's packages, deleted and purged ones' included. */
  readonly downloads: DownloadSummary;
}

/** An owner's totals and the packages behind them: the usage page of one namespace. */
export interface OwnerUsage extends OwnerTotals {
  /** The largest live packages, largest first (equal sizes: oldest first), as many as asked for. */
  readonly largest: readonly PackageUsage[];
  /** The most downloaded live packages (TOP_PACKAGES), most first (equal counts: oldest first); never-downloaded ones left out. */
  readonly topDownloads: readonly PackageUsage[];
  /** Deleted packages (restorable, or not yet purged): not listed above, but their downloads are in the total. */
  readonly deleted: { readonly packages: number; readonly downloads: number };
}

/** How many packages "top packages by downloads" lists, on the usage page and in the REST stats. */
export const TOP_PACKAGES = 10;

/** One manifest push, newest first, for the instance overview. */
export interface RecentPush {
  readonly repository: string;
  readonly owner: string;
  /** The owner's kind ('user' for a namespace pushed before accounts existed). */
  readonly ownerType: 'user' | 'org';
  readonly digest: string;
  readonly mediaType: string;
  readonly tags: readonly string[];
  readonly pushedAt: number;
  /** Who pushed it: null for an anonymous push or one from before Berth recorded pushers. */
  readonly pushedBy: string | null;
}

/** An owner's storage figure and live package count. */
export interface OwnerSize {
  readonly owner: string;
  readonly packages: number;
  readonly sizeBytes: number;
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
  /** The owners' storage figures added up (what the usage pages and quotas count). */
  readonly storageBytes: number;
  readonly recentPushes: readonly RecentPush[];
}

/**
 * Storage used and downloads, per owner and per package, and the instance overview: the numbers behind the
 * usage and admin pages. An owner's figures are kept by the transactions that change them; the instance overview's
 * aggregates run in the database. The same statements run on SQLite and PostgreSQL.
 */
export class UsageService {
  readonly #db: Db;
  readonly #downloads: DownloadCounter;
  /** Config `quota.default`. */
  readonly #defaultQuota: number | null;

  constructor(deps: { db: Db; downloads: DownloadCounter; defaultQuota: number | null }) {
    this.#db = deps.db;
    this.#downloads = deps.downloads;
    this.#defaultQuota = deps.defaultQuota;
  }

  /** The owner's totals alone (the `/usage` list of namespaces): its figures row and its days with downloads. */
  async totals(owner: Owner): Promise<OwnerTotals> {
    await this.#downloads.flush();
    const login = owner.login.toLowerCase();
    const [figures, daily] = await Promise.all([ownerFigures(this.#db, login), ownerDays(this.#db, login)]);
    return this.#totals(figures, daily);
  }

  /**
   * The owner's usage with its `largest` largest packages. Every figure is kept (migrations 0019, 0025, 0027), so
   * this reads the owner's rows, its days with downloads and the packages it lists, whatever the number of packages
   * or downloads: the largest and the most downloaded come in order from `package_storage`'s indexes.
   */
  async forOwner(owner: Owner, opts: { largest: number }): Promise<OwnerUsage> {
    await this.#downloads.flush();
    const login = owner.login.toLowerCase();
    const live = this.#db.selectFrom('packageStorage as s').innerJoin('repositories as p', 'p.id', 's.repositoryId')
      .select(['p.id', 'p.name', 'p.visibility', 's.versionCount', 's.bytes', 's.downloads'])
      .where('s.owner', '=', login).where('p.deletedAt', 'is', null);
    const [figures, largest, topDownloads, deleted, daily] = await Promise.all([
      ownerFigures(this.#db, login),
      opts.largest === 0 ? [] : live.orderBy('s.bytes', 'desc').orderBy('s.repositoryId').limit(opts.largest).execute(),
      live.where('s.downloads', '>', 0).orderBy('s.downloads', 'desc').orderBy('s.repositoryId').limit(TOP_PACKAGES).execute(),
      this.#db.selectFrom('repositories as p').leftJoin('packageStorage as s', 's.repositoryId', 'p.id')
        .select([(eb) => eb.fn.countAll().as('n'), (eb) => eb.fn.sum('s.downloads').as('downloads')])
        .where('p.owner', '=', login).where('p.deletedAt', 'is not', null).executeTakeFirst(),
      ownerDays(this.#db, login),
    ]);
    // Sums and counts come back as numbers from SQLite and as strings from PostgreSQL (numeric, bigint): hence Number().
    const prefix = login.length + 1;
    const usage = (rows: typeof largest): PackageUsage[] => rows.map((p) => ({
      id: p.id, name: p.name.slice(prefix), repository: p.name, visibility: p.visibility,
      versionCount: Number(p.versionCount), sizeBytes: Number(p.bytes), downloads: Number(p.downloads),
    }));
    return {
      ...this.#totals(figures, daily),
      largest: usage(largest),
      topDownloads: usage(topDownloads),
      deleted: { packages: Number(deleted?.n ?? 0), downloads: Number(deleted?.downloads ?? 0) },
    };
  }

  #totals(figures: Awaited<ReturnType<typeof ownerFigures>>, daily: Awaited<ReturnType<typeof ownerDays>>): OwnerTotals {
    const days = daily.map((r) => ({ day: Number(r.day), count: Number(r.count) }));
    return {
      totalBytes: Number(figures?.bytes ?? 0),
      quotaBytes: figures?.quotaBytes != null ? Number(figures.quotaBytes) : this.#defaultQuota,
      packageCount: Number(figures?.packageCount ?? 0),
      downloads: { total: days.reduce((sum, d) => sum + d.count, 0), daily: days },
    };
  }

  /**
   * The instance's figures: the owners' kept figures added up (one row per owner), accounts counted, the deleted
   * packages from their own index, the recent pushes read from the newest id back (ids are given in push order).
   * The blob store's count and bytes are kept by the database (migration 0029: every blob, referenced or not).
   */
  async overview(opts: { recentPushes: number }): Promise<InstanceOverview> {
    const db = this.#db;
    const count = (n: unknown): number => Number(n ?? 0);
    const [accounts, deleted, owners, blobs, recent] = await Promise.all([
      db.selectFrom('accounts').select([
        (eb) => eb.fn.sum(eb.case().when('type', '=', 'user').then(1).else(0).end()).as('users'),
        (eb) => eb.fn.sum(eb.case().when('type', '=', 'org').then(1).else(0).end()).as('orgs'),
        (eb) => eb.fn.sum(eb.case().when(eb.and([eb('type', '=', 'user'), eb('disabledAt', 'is not', null)])).then(1).else(0).end()).as('disabled'),
        (eb) => eb.fn.sum(eb.case().when(eb.and([eb('type', '=', 'user'), eb('isAdmin', '=', 1)])).then(1).else(0).end()).as('admins'),
      ]).executeTakeFirst(),
      db.selectFrom('repositories').select((eb) => eb.fn.countAll().as('n')).where('deletedAt', 'is not', null).executeTakeFirst(),
      db.selectFrom('ownerStorage').select([
        (eb) => eb.fn.sum('bytes').as('bytes'), (eb) => eb.fn.sum('packageCount').as('packages'), (eb) => eb.fn.sum('versionCount').as('versions'),
      ]).executeTakeFirst(),
      db.selectFrom('blobTotals').select([(eb) => eb.fn.sum('blobCount').as('n'), (eb) => eb.fn.sum('blobBytes').as('bytes')]).executeTakeFirst(),
      db.selectFrom('manifests as m').innerJoin('repositories as p', 'p.id', 'm.repositoryId')
        .leftJoin('accounts as a', 'a.id', 'm.pushedBy').leftJoin('accounts as o', 'o.id', 'p.ownerId')
        .select(['m.id', 'm.digest', 'm.mediaType', 'm.createdAt', 'p.name', 'p.owner', 'a.login', 'o.type as ownerType'])
        // Children of an index are pushed with it; list what was pushed by name: tagged manifests and indexes.
        .where('m.deletedAt', 'is', null).where('p.deletedAt', 'is', null)
        .where((eb) => eb.or([
          eb.exists(eb.selectFrom('tags as t').select('t.manifestId').whereRef('t.manifestId', '=', 'm.id')),
          eb.not(eb.exists(eb.selectFrom('manifestReferences as r').innerJoin('manifests as parent', 'parent.id', 'r.manifestId')
            .select('r.manifestId').whereRef('r.digest', '=', 'm.digest').whereRef('parent.repositoryId', '=', 'm.repositoryId')
            .where('r.kind', '=', 'manifest'))),
        ]))
        .orderBy('m.id', 'desc').limit(opts.recentPushes).execute(),
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
      packages: count(owners?.packages),
      deletedPackages: count(deleted?.n),
      versions: count(owners?.versions),
      blobCount: count(blobs?.n),
      blobBytes: count(blobs?.bytes),
      storageBytes: count(owners?.bytes),
      recentPushes: recent.map((r) => ({
        repository: r.name, owner: r.owner, ownerType: r.ownerType ?? 'user', digest: r.digest, mediaType: r.mediaType, tags: tagsOf.get(r.id) ?? [],
        pushedAt: r.createdAt, pushedBy: r.login,
      })),
    };
  }

  /** The owners using the most storage (their storage figure), for `berth_storage_owner_bytes`. */
  async ownerSizes(limit: number): Promise<OwnerSize[]> {
    const rows = await this.#db.selectFrom('ownerStorage').select(['owner', 'bytes', 'packageCount'])
      .orderBy('bytes', 'desc').orderBy('owner').limit(limit).execute();
    return rows.map((r) => ({ owner: r.owner, packages: Number(r.packageCount), sizeBytes: Number(r.bytes) }));
  }
}

/** The owner's kept figures row (migrations 0019, 0027); undefined before its first package. */
function ownerFigures(db: Db, login: string) {
  return db.selectFrom('ownerStorage').select(['bytes', 'quotaBytes', 'packageCount']).where('owner', '=', login).executeTakeFirst();
}

/** The owner's days with downloads, oldest first. */
function ownerDays(db: Db, login: string) {
  return db.selectFrom('ownerDownloadsDaily').select(['day', 'count']).where('owner', '=', login).orderBy('day').execute();
}
