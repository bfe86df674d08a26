import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/schema.js';
import { lockRepository, transaction } from '../db/transaction.js';
import { softDeleteVersions } from '../packages/version-service.js';
import type { Clock } from '../util/clock.js';

/** A mirror namespace and how long its cached versions stay unpulled before they go (config `evictAfter`). */
export interface EvictionRule {
  readonly namespace: string;
  readonly evictAfterMs: number | null;
}

/** One cached version that is (or, dry, would be) evicted. */
export interface EvictedVersion {
  readonly id: number;
  readonly digest: string;
  readonly tags: readonly string[];
  /** Its last recorded pull, else when it was cached. */
  readonly lastUsedAt: number;
}

/** What one cached repository lost (or, dry, would lose). */
export interface EvictionRun {
  readonly repository: string;
  readonly dryRun: boolean;
  readonly evicted: readonly EvictedVersion[];
}

interface Version { readonly id: number; readonly digest: string; readonly lastUsedAt: number }

/**
 * Retention by last pull for pull-through caches: a cached version not pulled through the mirror for its
 * namespace's `evictAfter` is soft-deleted exactly as a REST version delete does (tags moved aside, restorable for
 * packages.restoreWindow, bytes left to GC), so the next pull fetches it from the upstream again. A platform
 * manifest stays while an index referencing it is kept. Run by the scheduled retention job under its lease, and by
 * `berth mirror evict` (with --dry-run to preview); `berth mirror remove|purge` evict everything of a repository
 * or namespace at once.
 */
export class MirrorEviction {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #audit: AuditLog;
  /** The mirrors as they stand (the configuration's and those admins added). */
  readonly #rules: () => Promise<readonly EvictionRule[]>;

  constructor(deps: { db: Db; clock: Clock; audit: AuditLog; rules: () => Promise<readonly EvictionRule[]> }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#rules = deps.rules;
  }

  /** Every namespace with `evictAfter`: the repositories that lost versions (or, dry, would). */
  async run(opts: { dryRun: boolean; signal?: AbortSignal }): Promise<EvictionRun[]> {
    const out: EvictionRun[] = [];
    for (const rule of await this.#rules()) {
      if (rule.evictAfterMs === null) continue;
      const cutoff = this.#clock.now() - rule.evictAfterMs;
      for (const repo of await this.#repositories(rule.namespace)) {
        if (opts.signal?.aborted) return out;
        const run = await this.#evict(repo, (v) => v.lastUsedAt < cutoff, opts.dryRun, { rule: `${rule.namespace}.evictAfter` });
        if (run.evicted.length > 0) out.push(run);
      }
    }
    return out;
  }

  /**
   * Evicts every cached version of one repository (`dockerhub/library/alpine`) or, given a namespace, of all its
   * repositories; null when `target` is not a namespace with evictable content.
   */
  async remove(target: string, dryRun: boolean): Promise<EvictionRun[] | null> {
    const namespace = target.includes('/') ? target.slice(0, target.indexOf('/')) : target;
    if (!(await this.#rules()).some((r) => r.namespace === namespace)) return null;
    const repos = (await this.#repositories(namespace)).filter((r) => target === namespace || r.name === target);
    if (repos.length === 0) return null;
    const out: EvictionRun[] = [];
    for (const repo of repos) out.push(await this.#evict(repo, () => true, dryRun, { removed: true }));
    return out;
  }

  async #repositories(namespace: string): Promise<{ id: number; name: string }[]> {
    return this.#db.selectFrom('repositories').select(['id', 'name'])
      .where('owner', '=', namespace).where('deletedAt', 'is', null).orderBy('name').execute();
  }

  /** Plans under the repository's lock (as a push takes it), so a fetch racing the eviction is seen or waits. */
  async #evict(repo: { id: number; name: string }, doomed: (v: Version) => boolean, dryRun: boolean, why: Record<string, unknown>): Promise<EvictionRun> {
    const plan = async (db: Db): Promise<EvictedVersion[]> => {
      const versions = await loadVersions(db, repo.id);
      const ids = new Set(keepWithParents(versions, doomed).map((v) => v.id));
      if (ids.size === 0) return [];
      const tags = await db.selectFrom('tags').select(['manifestId', 'name']).where('manifestId', 'in', [...ids]).orderBy('name').execute();
      return versions.filter((v) => ids.has(v.id)).map((v) => ({ ...v, tags: tags.filter((t) => t.manifestId === v.id).map((t) => t.name) }));
    };
    if (dryRun) return { repository: repo.name, dryRun, evicted: await plan(this.#db) };
    return transaction(this.#db, async (tx) => {
      await lockRepository(tx, repo.id);
      const evicted = await plan(tx);
      if (evicted.length > 0) {
        await softDeleteVersions(tx, evicted.map((v) => v.id), this.#clock.now());
        await this.#audit.record(tx, {
          action: 'package.retention_run', org: null, target: repo.name, repository: repo.name,
          after: { ...why, deleted: evicted.length, digests: evicted.slice(0, 100).map((v) => v.digest) },
        });
      }
      return { repository: repo.name, dryRun, evicted };
    });
  }
}

/** The repository's live versions with their last pull (or, never pulled since 0021, when they were cached). */
async function loadVersions(db: Db, repositoryId: number): Promise<(Version & { children: string[] })[]> {
  const [rows, children] = await Promise.all([
    db.selectFrom('manifests as m').leftJoin('mirrorPulls as mp', 'mp.manifestId', 'm.id')
      .select(['m.id', 'm.digest', 'm.createdAt', 'mp.pulledAt'])
      .where('m.repositoryId', '=', repositoryId).where('m.deletedAt', 'is', null).execute(),
    db.selectFrom('manifestReferences as r').innerJoin('manifests as m', 'm.id', 'r.manifestId').select(['r.manifestId', 'r.digest'])
      .where('m.repositoryId', '=', repositoryId).where('m.deletedAt', 'is', null).where('r.kind', '=', 'manifest').execute(),
  ]);
  return rows.map((r) => ({
    id: r.id, digest: r.digest, lastUsedAt: r.pulledAt ?? r.createdAt,
    children: children.filter((c) => c.manifestId === r.id).map((c) => c.digest),
  }));
}

/** The doomed versions, less those an index that stays still references (its platforms are pulled by digest). */
function keepWithParents<V extends Version & { children: string[] }>(versions: readonly V[], doomed: (v: Version) => boolean): V[] {
  const kept = new Set<string>();
  for (const v of versions) if (!doomed(v)) for (const c of v.children) kept.add(c);
  return versions.filter((v) => doomed(v) && !kept.has(v.digest));
}
