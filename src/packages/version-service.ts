import type { ExpressionBuilder } from 'kysely';
import type { Database, Db } from '../db/schema.js';
import { outbox } from '../events/outbox.js';
import { lockRepository, transaction } from '../db/transaction.js';
import type { DownloadCounter } from '../registry/download-counter.js';
import { countVersions } from '../registry/storage-usage.js';
import { refuseProtectedDeletion, type TagProtection } from '../registry/tag-protection.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from '../audit/audit-log.js';
import { COUNT_LIMIT, countUpTo } from './listing-count.js';
import { downloadLimit, lastVersion, versionNotFound } from './package-errors.js';
import type { DeletionRules, PackageInfo } from './package-service.js';

/**
 * A package version as GitHub's REST API sees it: one manifest digest. Every manifest is its own version, as on
 * GHCR: a multi-arch index and each of its per-platform manifests, attestations and signatures alike.
 */
export interface VersionInfo {
  readonly id: number;
  readonly packageId: number;
  readonly digest: string;
  readonly mediaType: string;
  /** Tags pointing at it; for a deleted version, the tags it had (what a restore would try to give back). */
  readonly tags: string[];
  readonly description: string | null;
  readonly license: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly deletedAt: number | null;
}

export type VersionState = 'active' | 'deleted';

const COLUMNS = ['id', 'repositoryId', 'digest', 'mediaType', 'description', 'license', 'createdAt', 'updatedAt', 'deletedAt'] as const;

/** Versions of one package: newest-first listing, soft deletion (tags moved aside) and restore. */
export class VersionService {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #downloads: DownloadCounter;
  readonly #rules: DeletionRules;
  readonly #protection: TagProtection;
  readonly #audit: AuditLog;

  constructor(deps: { db: Db; clock: Clock; downloads: DownloadCounter; rules: DeletionRules; protection: TagProtection; audit: AuditLog }) {
    this.#db = deps.db;
    this.#audit = deps.audit;
    this.#protection = deps.protection;
    this.#clock = deps.clock;
    this.#downloads = deps.downloads;
    this.#rules = deps.rules;
  }

  /**
   * One page of the package's versions in `state`, newest first, and how many there are (up to COUNT_LIMIT + 1);
   * `tagged` keeps only the versions that have a tag (true) or none (false), as GHCR's versions page filters.
   */
  async list(pkg: PackageInfo, state: VersionState, page: number, perPage: number, opts: { tagged?: boolean } = {}): Promise<{ versions: VersionInfo[]; total: number }> {
    const hasTag = (eb: ExpressionBuilder<Database, 'manifests'>) => eb.exists(eb.selectFrom('tags as t').select('t.manifestId').whereRef('t.manifestId', '=', 'manifests.id'));
    const base = this.#db.selectFrom('manifests').where('repositoryId', '=', pkg.id)
      .where('deletedAt', state === 'active' ? 'is' : 'is not', null)
      .$if(opts.tagged !== undefined, (q) => q.where((eb) => (opts.tagged ? hasTag(eb) : eb.not(hasTag(eb)))));
    // All active versions: the package's kept count (migration 0025), no count query; filtered ones are counted.
    const kept = state === 'active' && opts.tagged === undefined;
    const [rows, count] = await Promise.all([
      base.select(COLUMNS).orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(perPage).offset((page - 1) * perPage).execute(),
      kept ? Math.min(pkg.versionCount, COUNT_LIMIT + 1) : countUpTo(this.#db, base.select('id')),
    ]);
    return { versions: await this.#withTags(rows), total: count };
  }

  /** An active version of the package, or null. */
  async get(pkg: PackageInfo, id: number): Promise<VersionInfo | null> {
    const row = await this.#db.selectFrom('manifests').select(COLUMNS)
      .where('id', '=', id).where('repositoryId', '=', pkg.id).where('deletedAt', 'is', null).executeTakeFirst();
    return row ? (await this.#withTags([row]))[0]! : null;
  }

  /**
   * Soft-deletes a version: /v2 stops serving it and its tags are moved aside, to be given back on restore.
   * GitHub's rules: not the package's last version, and not a public version downloaded more than the limit;
   * Berth's: not a version an immutable-tag rule protects.
   */
  async delete(pkg: PackageInfo, version: VersionInfo): Promise<void> {
    if (pkg.versionCount <= 1) throw lastVersion();
    const limit = this.#rules.deleteDownloadLimit;
    if (pkg.visibility === 'public' && limit > 0) {
      await this.#downloads.flush();
      const row = await this.#db.selectFrom('downloadsDaily').select((eb) => eb.fn.sum('count').as('total'))
        .where('manifestId', '=', version.id).executeTakeFirst();
      if (Number(row?.total ?? 0) > limit) throw downloadLimit('version', limit);
    }
    const now = this.#clock.now();
    await transaction(this.#db, async (tx) => {
      // The repository row first, as a manifest push takes it (lock order, README "Isolation"): a push moving one of
      // these tags waits, then sees the tags gone, or has moved it before we read them (then it stays moved).
      await lockRepository(tx, pkg.id);
      await refuseProtectedDeletion(tx, this.#protection, { id: pkg.id, name: pkg.repository }, [version.id]);
      await softDeleteVersions(tx, [version.id], now);
      await this.#audit.record(tx, {
        action: 'package_version.delete', org: pkg.repository.split('/')[0]!, target: `${pkg.repository}@${version.digest}`, repository: pkg.repository,
        before: { tags: version.tags },
      });
    });
  }

  /**
   * Restores a version deleted within the restore window, with those of its tags no other version took meanwhile
   * (a tag is never moved back from a version pushed since).
   */
  async restore(pkg: PackageInfo, id: number): Promise<void> {
    const now = this.#clock.now();
    await transaction(this.#db, async (tx) => {
      // Serialised with pushes to the package like delete above: a tag pushed meanwhile is never moved back.
      await lockRepository(tx, pkg.id);
      const row = await tx.selectFrom('manifests').select('id').where('id', '=', id).where('repositoryId', '=', pkg.id)
        .where('deletedAt', '>', now - this.#rules.restoreWindowMs).executeTakeFirst();
      if (!row) throw versionNotFound();
      const tags = await tx.selectFrom('deletedTags').select('name').where('manifestId', '=', id).execute();
      for (const t of tags) {
        await tx.insertInto('tags').values({ repositoryId: pkg.id, name: t.name, manifestId: id, updatedAt: now })
          .onConflict((oc) => oc.columns(['repositoryId', 'name']).doNothing()).execute();
      }
      await tx.deleteFrom('deletedTags').where('manifestId', '=', id).execute();
      await tx.updateTable('manifests').set({ deletedAt: null, updatedAt: now }).where('id', '=', id).execute();
      await countVersions(tx, pkg.id, [id], 1);
      await outbox.versionChanged(tx, { manifestId: id, action: 'restored', senderId: null, at: now });
      const restored = await tx.selectFrom('manifests').select('digest').where('id', '=', id).executeTakeFirstOrThrow();
      const back = await tx.selectFrom('tags').select('name').where('manifestId', '=', id).orderBy('name').execute();
      await this.#audit.record(tx, {
        action: 'package_version.restore', org: pkg.repository.split('/')[0]!, target: `${pkg.repository}@${restored.digest}`, repository: pkg.repository,
        after: { tags: back.map((t) => t.name) },
      });
    });
  }

  async #withTags(rows: { id: number; repositoryId: number; digest: string; mediaType: string; description: string | null; license: string | null; createdAt: number; updatedAt: number; deletedAt: number | null }[]): Promise<VersionInfo[]> {
    if (rows.length === 0) return [];
    const active = rows.filter((r) => r.deletedAt === null).map((r) => r.id);
    const deleted = rows.filter((r) => r.deletedAt !== null).map((r) => r.id);
    const [live, gone] = await Promise.all([
      active.length ? this.#db.selectFrom('tags').select(['manifestId', 'name']).where('manifestId', 'in', active).orderBy('name').execute() : [],
      deleted.length ? this.#db.selectFrom('deletedTags').select(['manifestId', 'name']).where('manifestId', 'in', deleted).orderBy('name').execute() : [],
    ]);
    const tags = new Map<number, string[]>();
    for (const t of [...live, ...gone]) tags.set(t.manifestId, [...(tags.get(t.manifestId) ?? []), t.name]);
    return rows.map((r) => ({
      id: r.id, packageId: r.repositoryId, digest: r.digest, mediaType: r.mediaType, tags: tags.get(r.id) ?? [],
      description: r.description, license: r.license, createdAt: r.createdAt, updatedAt: r.updatedAt, deletedAt: r.deletedAt,
    }));
  }
}

/**
 * Soft-deletes versions (inside the caller's transaction, after it locked the repository row): their tags are
 * moved aside for a restore to give back, and /v2 stops serving them. Used by REST/UI deletes and retention runs.
 */
export async function softDeleteVersions(tx: Db, ids: readonly number[], now: number): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    // Only live versions leave the storage figure (a version deleted twice is counted out once).
    const live = await tx.selectFrom('manifests').select(['id', 'repositoryId']).where('id', 'in', ids.slice(i, i + 500)).where('deletedAt', 'is', null).execute();
    for (const repositoryId of new Set(live.map((m) => m.repositoryId))) {
      await countVersions(tx, repositoryId, live.filter((m) => m.repositoryId === repositoryId).map((m) => m.id), -1);
    }
    const part = ids.slice(i, i + 500);
    const tags = await tx.selectFrom('tags').select(['manifestId', 'name']).where('manifestId', 'in', part).execute();
    await tx.deleteFrom('deletedTags').where('manifestId', 'in', part).execute();
    if (tags.length > 0) {
      await tx.insertInto('deletedTags').values(tags.map((t) => ({ manifestId: t.manifestId, name: t.name, deletedAt: now }))).execute();
      await tx.deleteFrom('tags').where('manifestId', 'in', part).execute();
    }
    await tx.updateTable('manifests').set({ deletedAt: now, updatedAt: now }).where('id', 'in', part).execute();
    // The outbox, in the deleting transaction; the payload lists the tags just moved aside.
    for (const id of part) await outbox.versionChanged(tx, { manifestId: id, action: 'deleted', senderId: null, at: now });
  }
}
