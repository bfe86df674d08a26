import { isUniqueViolation } from '../db/constraint-errors.js';
import type { Db } from '../db/schema.js';
import { outbox } from '../events/outbox.js';
import { lockRepository, transaction } from '../db/transaction.js';
import { sql } from 'kysely';
import { readableRepositories, restorableRepositories } from '../auth/package-access.js';
import type { PackageOperation, Subject, Visibility } from '../auth/permissions.js';
import type { Policy } from '../auth/policy.js';
import type { DownloadCounter } from '../registry/download-counter.js';
import { countPackage } from '../registry/storage-usage.js';
import { type TagProtection } from '../registry/tag-protection.js';
import { tagImmutable } from '../oci/errors.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from '../audit/audit-log.js';
import { COUNT_LIMIT, countUpTo } from './listing-count.js';
import { ChangeBoundCache, type CacheLimits, type CacheLookup } from '../db/change-bound-cache.js';
import type { ChangeFeed } from '../db/change-feed.js';
import { downloadLimit, nameReused } from './package-errors.js';
import { packageFigures } from './package-figures.js';

/** The user or organization owning a namespace (an account, as the accounts module returns it). */
export interface Owner {
  readonly id: number;
  readonly login: string;
  readonly type: 'user' | 'org';
}

/** A package as GitHub's REST API sees it: one repository (container package) of an owner. */
export interface PackageInfo {
  readonly id: number;
  /** GitHub's package name: the repository name without its owner (`app`, `team/api`). */
  readonly name: string;
  /** The full repository name (`acme/app`), also for a deleted package. */
  readonly repository: string;
  readonly visibility: Visibility;
  /** Versions not deleted. */
  readonly versionCount: number;
  readonly sourceUrl: string | null;
  /** Markdown set by an admin (package settings); null when none is set. */
  readonly readme: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly deletedAt: number | null;
}

/** A package and what the asking subject may do with it. */
export interface PackageAccess {
  readonly package: PackageInfo;
  readonly operations: ReadonlySet<PackageOperation>;
}

/** GitHub's deletion rules, configurable (`packages.*`). */
export interface DeletionRules {
  /** A deleted package or version can be restored this long, then it is purged. */
  readonly restoreWindowMs: number;
  /** Public packages and versions downloaded more often than this cannot be deleted; 0 = no limit. */
  readonly deleteDownloadLimit: number;
}

interface Deps {
  readonly db: Db;
  /** Who may see and change which package (auth/policy.ts). */
  readonly policy: Policy;
  readonly clock: Clock;
  readonly downloads: DownloadCounter;
  readonly rules: DeletionRules;
  readonly protection: TagProtection;
  readonly audit: AuditLog;
  /** The database's change feed: a listing's remembered ids are trusted while it stands still. */
  readonly changes: ChangeFeed;
  /** Hears how each listing's ids were found (metrics). */
  readonly onListingLookup?: (result: CacheLookup) => void;
}

/**
 * Remembered listings: a full one (COUNT_LIMIT + 1 ids) weighs about 80 KB, so a few hundred callers' worth. Exact: a
 * role granted by `berth` shows in the next listing (a listing costs far more than SQLite's `data_version`).
 */
const LISTING_CACHE_LIMITS: CacheLimits<readonly number[]> = {
  maxBytes: 16 * 1024 * 1024, maxEntryBytes: 1024 * 1024, sizeOf: (ids) => ids.length * 8, exact: true,
};

/**
 * Packages of a namespace for the REST API: listing what a subject may see, soft deletion with a restore window,
 * restore, and the purge of what has been deleted for longer than that window. A deleted package keeps its row
 * and id under a tombstone name that no /v2 client can address (`acme/app~deleted-7`), so it disappears from
 * /v2 at once and its name can be pushed again; restoring puts the name back unless a new package took it.
 */
export class PackageService {
  readonly #db: Db;
  readonly #policy: Policy;
  readonly #clock: Clock;
  readonly #downloads: DownloadCounter;
  readonly #rules: DeletionRules;
  readonly #protection: TagProtection;
  readonly #audit: AuditLog;
  readonly #listings: ChangeBoundCache<readonly number[]>;

  constructor(deps: Deps) {
    this.#listings = new ChangeBoundCache(deps.changes, LISTING_CACHE_LIMITS, deps.onListingLookup);
    this.#db = deps.db;
    this.#audit = deps.audit;
    this.#protection = deps.protection;
    this.#policy = deps.policy;
    this.#clock = deps.clock;
    this.#downloads = deps.downloads;
    this.#rules = deps.rules;
  }

  /**
   * One page of the owner's live packages the subject may read, ordered by name, and how many there are (counted up
   * to COUNT_LIMIT + 1, see listing-count.ts); `nameContains` (the web UI's filter) keeps the packages whose name
   * contains it, case-insensitively. Filter, permission check and paging run in the database, on the owner's index
   * (`repositories_owner_live`, migration 0012). The ids of the first COUNT_LIMIT + 1 matches, in order, are
   * remembered per query (LISTING_CACHE_LIMITS) until the next committed change: the count and every page within
   * them then come from memory, so walking all pages reads the owner's index once rather than once per page.
   */
  async list(owner: Owner, subject: Subject, opts: { visibility?: Visibility; nameContains?: string; page: number; perPage: number }): Promise<{ packages: PackageInfo[]; total: number }> {
    const ownerName = owner.login.toLowerCase();
    let q = this.#db.selectFrom('repositories as r').where('r.owner', '=', ownerName).where('r.deletedAt', 'is', null)
      .where(readableRepositories(subject));
    if (opts.visibility) q = q.where('r.visibility', '=', opts.visibility);
    const needle = opts.nameContains?.toLowerCase();
    // Names are lowercase; the owner's prefix is excluded from the match, as on GitHub (`acme` finds no `acme/x`).
    if (needle) q = q.where(sql<boolean>`${sql.ref('r.name')} like ${`${likeEscape(ownerName)}/%${likeEscape(needle)}%`} escape '!'`);
    const ordered = q.select('r.id').orderBy('r.name');
    const offset = (opts.page - 1) * opts.perPage;
    // What the query depends on: the owner, the filters and the subject, whose permissions the query reads.
    const key = JSON.stringify([ownerName, opts.visibility ?? null, needle ?? null, subject.userId, [...subject.scopes].sort(), subject.repositoryLimit, subject.grant ?? null]);
    const ids = await this.#listings.through(key, async () => (await ordered.limit(COUNT_LIMIT + 1).execute()).map((r) => r.id));
    // Beyond the remembered ids (the web UI pages on past GitHub's limit): that page from the database.
    const page = offset + opts.perPage <= ids.length || ids.length <= COUNT_LIMIT
      ? ids.slice(offset, offset + opts.perPage)
      : (await ordered.limit(opts.perPage).offset(offset).execute()).map((r) => r.id);
    return { packages: await this.#load(page, owner), total: ids.length };
  }

  /** The live package `owner/name` and what the subject may do with it; null when there is none. */
  async find(owner: Owner, name: string, subject: Subject): Promise<PackageAccess | null> {
    // A deleted package's tombstone name (`app~deleted-7`) is no address: only `findDeleted` sees deleted packages.
    const [pkg] = await this.#loadWhere((q) => q.where('r.name', '=', fullName(owner, name)).where('r.deletedAt', 'is', null), owner);
    return pkg ? this.#access(pkg, owner, subject) : null;
  }

  /** The most recently deleted package once named `owner/name`, while it can still be restored. */
  async findDeleted(owner: Owner, name: string, subject: Subject): Promise<PackageAccess | null> {
    const pkg = await this.lastDeleted(owner, name);
    return pkg ? this.#access(pkg, owner, subject) : null;
  }

  /** The same package without a subject: for the operator (`berth package restore`), who may restore anything. */
  async lastDeleted(owner: Owner, name: string): Promise<PackageInfo | null> {
    const row = await this.#db.selectFrom('repositories').select('id')
      .where('deletedName', '=', fullName(owner, name)).where('deletedAt', '>', this.#cutoff())
      .orderBy('deletedAt', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
    return row ? (await this.#load([row.id], owner))[0]! : null;
  }

  /**
   * One page of the owner's deleted packages that can still be restored and that the subject may restore (the
   * packages page's "Deleted" tab), most recently deleted first, and how many there are. Filtered and paged in the
   * database (`restorableRepositories`); each comes with the subject's operations, as `find` gives them.
   */
  async listDeleted(owner: Owner, subject: Subject, opts: { page: number; perPage: number }): Promise<{ packages: PackageAccess[]; total: number }> {
    const q = this.#db.selectFrom('repositories as r').where('r.owner', '=', owner.login.toLowerCase())
      .where('r.deletedAt', '>', this.#cutoff()).where(restorableRepositories(subject));
    const [rows, count] = await Promise.all([
      q.select('r.id').orderBy('r.deletedAt', 'desc').orderBy('r.id', 'desc').limit(opts.perPage).offset((opts.page - 1) * opts.perPage).execute(),
      countUpTo(this.#db, q.select(sql.lit(1).as('one'))),
    ]);
    const packages = await this.#load(rows.map((r) => r.id), owner);
    const operations = await this.#policy.packageOperations(subject, owner.login, packages.map((p) => ({ id: p.id, name: p.repository, visibility: p.visibility })));
    return { packages: packages.map((p) => ({ package: p, operations: operations.get(p.id)! })), total: count };
  }

  /** The end of the restore window of a package deleted at `deletedAt`: it is purged after that. */
  restorableUntil(deletedAt: number): number {
    return deletedAt + this.#rules.restoreWindowMs;
  }

  /** Soft-deletes the package: gone from /v2 and listings at once, restorable for the restore window. */
  async delete(pkg: PackageInfo): Promise<void> {
    const limit = this.#rules.deleteDownloadLimit;
    if (pkg.visibility === 'public' && limit > 0) {
      await this.#downloads.flush();
      // No version can be over the limit when the whole package is not (its kept total): most packages stop there.
      const total = (await packageFigures(this.#db, [pkg.id])).get(pkg.id)?.downloads ?? 0;
      const popular = total > limit && await this.#db.selectFrom('downloadsDaily as d').innerJoin('manifests as m', 'm.id', 'd.manifestId')
        .select('d.manifestId').where('m.repositoryId', '=', pkg.id)
        .groupBy('d.manifestId').having((eb) => eb.fn.sum('d.count'), '>', limit).limit(1).executeTakeFirst();
      if (popular) throw downloadLimit('package', limit);
    }
    const now = this.#clock.now();
    await transaction(this.#db, async (tx) => {
      await lockRepository(tx, pkg.id);
      // A package holding a tag an immutable-tag rule protects stays: deleting it would delete that image.
      const tags = (await tx.selectFrom('tags').select('name').where('repositoryId', '=', pkg.id).execute()).map((t) => t.name);
      const first = [...await this.#protection.protectedTags(tx, pkg.id, tags)].sort(([a], [b]) => a.localeCompare(b))[0];
      if (first) throw tagImmutable(first[0], pkg.repository, first[1], 'delete-version');
      const deleted = await tx.updateTable('repositories')
        .set({ name: `${pkg.repository}~deleted-${pkg.id}`, deletedName: pkg.repository, deletedAt: now, updatedAt: now })
        .where('id', '=', pkg.id).where('deletedAt', 'is', null).executeTakeFirst();
      // Its storage leaves the owner's figure (it stays the package's own, shown again if restored).
      if (Number(deleted.numUpdatedRows) > 0) await countPackage(tx, pkg.id, -1);
      await outbox.packageChanged(tx, { repositoryId: pkg.id, action: 'deleted', senderId: null, at: now });
      await this.#audit.record(tx, { action: 'package.delete', org: pkg.repository.split('/')[0]!, target: pkg.repository, repository: pkg.repository });
    });
  }

  /** Gives a deleted package its name back; refused when a new package has taken the name meanwhile. */
  async restore(pkg: PackageInfo): Promise<void> {
    const now = this.#clock.now();
    // READ COMMITTED relies on the unique name, not on the check: see the catch below.
    await transaction(this.#db, async (tx) => {
      const taken = await tx.selectFrom('repositories').select('id').where('name', '=', pkg.repository).executeTakeFirst();
      if (taken) throw nameReused(pkg.repository);
      const restored = await tx.updateTable('repositories').set({ name: pkg.repository, deletedName: null, deletedAt: null, updatedAt: now })
        .where('id', '=', pkg.id).where('deletedAt', 'is not', null).executeTakeFirst();
      if (Number(restored.numUpdatedRows) > 0) await countPackage(tx, pkg.id, 1);
      await outbox.packageChanged(tx, { repositoryId: pkg.id, action: 'restored', senderId: null, at: now });
      await this.#audit.record(tx, { action: 'package.restore', org: pkg.repository.split('/')[0]!, target: pkg.repository, repository: pkg.repository });
    }).catch((err: unknown) => {
      // A first push of the same name committed between our check and our update (PostgreSQL, READ COMMITTED).
      if (isUniqueViolation(err)) throw nameReused(pkg.repository);
      throw err;
    });
  }

  /**
   * Deletes for good the packages and versions deleted longer ago than the restore window, in batches. Their rows
   * go (tags, references, download counts, permissions follow by cascade); their blobs are left for GC.
   */
  async purgeExpired(): Promise<{ packages: number; versions: number }> {
    const cutoff = this.#cutoff();
    let packages = 0;
    let versions = 0;
    for (;;) {
      const ids = (await this.#db.selectFrom('repositories').select('id').where('deletedAt', '<=', cutoff).limit(100).execute()).map((r) => r.id);
      if (ids.length === 0) break;
      await this.#db.deleteFrom('repositories').where('id', 'in', ids).execute();
      packages += ids.length;
    }
    for (;;) {
      const ids = (await this.#db.selectFrom('manifests').select('id').where('deletedAt', '<=', cutoff).limit(500).execute()).map((r) => r.id);
      if (ids.length === 0) break;
      await this.#db.deleteFrom('manifests').where('id', 'in', ids).execute();
      versions += ids.length;
    }
    return { packages, versions };
  }

  #cutoff(): number {
    return this.#clock.now() - this.#rules.restoreWindowMs;
  }

  async #access(pkg: PackageInfo, owner: Owner, subject: Subject): Promise<PackageAccess> {
    const operations = await this.#policy.packageOperations(subject, owner.login, [{ id: pkg.id, name: pkg.repository, visibility: pkg.visibility }]);
    return { package: pkg, operations: operations.get(pkg.id)! };
  }

  /** Full rows for the given ids, in the given order; a package purged since its id was listed is left out. */
  async #load(ids: number[], owner: Owner): Promise<PackageInfo[]> {
    if (ids.length === 0) return [];
    const byId = new Map((await this.#loadWhere((q) => q.where('r.id', 'in', ids), owner)).map((p) => [p.id, p]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  /** Full rows of the packages `where` picks, with their live version counts (kept counters, migration 0025). */
  async #loadWhere(where: (q: PackageRowQuery) => PackageRowQuery, owner: Owner): Promise<PackageInfo[]> {
    const rows = await where(packageRows(this.#db)).execute();
    const prefix = owner.login.length + 1;
    return rows.map((r) => {
      const repository = r.deletedName ?? r.name;
      return {
        id: r.id, name: repository.slice(prefix), repository, visibility: r.visibility, versionCount: Number(r.versionCount ?? 0),
        sourceUrl: r.sourceUrl, readme: r.readme, createdAt: r.createdAt, updatedAt: r.updatedAt, deletedAt: r.deletedAt,
      };
    });
  }
}

function packageRows(db: Db) {
  return db.selectFrom('repositories as r').leftJoin('packageStorage as s', 's.repositoryId', 'r.id')
    .select(['r.id', 'r.name', 'r.deletedName', 'r.visibility', 'r.sourceUrl', 'r.readme', 'r.createdAt', 'r.updatedAt', 'r.deletedAt', 's.versionCount']);
}
type PackageRowQuery = ReturnType<typeof packageRows>;

/** `text` matched literally by LIKE … ESCAPE '!'. */
function likeEscape(text: string): string {
  return text.replace(/[!%_]/g, (c) => `!${c}`);
}

/** `acme/app` for owner `Acme` and name `app`: repository names are lowercase, logins keep their case. */
function fullName(owner: Owner, name: string): string {
  return `${owner.login.toLowerCase()}/${name}`;
}
