import type { Db } from '../db/schema.js';
import { lockRepository, transaction } from '../db/transaction.js';
import { outbox } from '../events/outbox.js';
import { softDeleteVersions } from '../packages/version-service.js';
import type { DownloadCounter } from '../registry/download-counter.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { LifecyclePolicies } from './lifecycle-policies.js';
import { effectiveRetention, type RetentionPolicy } from './retention-policy.js';
import { planRetention, type Candidate, type VersionDecision } from './retention-plan.js';

const DAY = 86_400_000;

/** One package's run: what was (or, dry, would be) kept and deleted, version by version. */
export interface RetentionRun {
  readonly repository: string;
  readonly dryRun: boolean;
  /** False when no retention rules apply to the package (nothing decided, nothing deleted). */
  readonly hasRules: boolean;
  readonly kept: number;
  readonly deleted: number;
  readonly versions: readonly VersionDecision[];
}

interface Repo { readonly id: number; readonly name: string; readonly ownerId: number | null; readonly updatedAt: number }

/**
 * Applies retention rules to packages: loads a package's active versions with their tags, index children,
 * subjects and last pull, plans with `planRetention`, and for a real run soft-deletes what the plan deletes
 * exactly as a REST version delete does (tags moved aside, restorable for packages.restoreWindow; the bytes are
 * left for GC). A real run plans first, then, in its transaction after locking the repository row as a push does,
 * plans again if a push or an immutable-tag rule came in between, so what a new tag points at is kept.
 */
export class RetentionService {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #policies: LifecyclePolicies;
  readonly #downloads: DownloadCounter | null;
  readonly #audit: AuditLog;

  /** `downloads`: this process's buffered pull counts, flushed before a run so recent pulls count. */
  constructor(deps: { db: Db; clock: Clock; policies: LifecyclePolicies; audit: AuditLog; downloads?: DownloadCounter }) {
    this.#db = deps.db;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#policies = deps.policies;
    this.#downloads = deps.downloads ?? null;
  }

  /**
   * Runs (or with `dryRun` previews) the rules of one package. `proposed` previews unsaved rules of the package's
   * own scope (the settings page's preview) and is only allowed with `dryRun`.
   */
  async runPackage(repositoryId: number, opts: { dryRun: boolean; proposed?: RetentionPolicy | null; proposedOrg?: RetentionPolicy | null }): Promise<RetentionRun> {
    const repo = await this.#db.selectFrom('repositories').select(['id', 'name', 'ownerId', 'updatedAt']).where('id', '=', repositoryId).executeTakeFirstOrThrow();
    await this.#downloads?.flush();
    if (opts.dryRun) return this.#plan(this.#db, repo, opts);
    // Planned outside the transaction: a large package takes seconds, and SQLite has one writer for everything.
    const planned = await this.#plan(this.#db, repo, {});
    return transaction(this.#db, async (tx) => {
      await lockRepository(tx, repo.id);
      // Every manifest push moves the repository's updated_at under this lock; a rule protecting one of the
      // doomed tags may have been saved meanwhile. Either way: plan again, now under the lock (rare).
      const current = await tx.selectFrom('repositories').select('updatedAt').where('id', '=', repo.id).executeTakeFirstOrThrow();
      let run = planned;
      if (current.updatedAt !== repo.updatedAt || (await this.#protects(tx, repo.id, doomedOf(planned)))) run = await this.#plan(tx, repo, {});
      const doomed = doomedOf(run);
      await softDeleteVersions(tx, doomed, this.#clock.now());
      if (doomed.length > 0) {
        // One record per run, not per version: a first run over a large package deletes thousands.
        const removed = run.versions.filter((v) => v.decision === 'delete');
        const digests = removed.map((v) => v.digest);
        await outbox.retentionRun(tx, { repositoryId: repo.id, versions: removed.map((v) => ({ id: v.id, digest: v.digest })), at: this.#clock.now() });
        await this.#audit.record(tx, {
          action: 'package.retention_run', org: repo.ownerId, target: repo.name, repository: repo.name,
          after: { deleted: doomed.length, digests: digests.slice(0, 100) },
        });
      }
      return { ...run, dryRun: false };
    });
  }

  async #protects(db: Db, repositoryId: number, ids: readonly number[]): Promise<boolean> {
    for (let i = 0; i < ids.length; i += 500) {
      const tags = await db.selectFrom('tags').select('name').where('manifestId', 'in', ids.slice(i, i + 500)).execute();
      if ((await this.#policies.protectedTags(db, repositoryId, tags.map((t) => t.name))).size > 0) return true;
    }
    return false;
  }

  /** Every live package of the namespace with rules, one after the other (one transaction each). */
  async runOwner(ownerId: number, opts: { dryRun: boolean; proposedOrg?: RetentionPolicy | null; signal?: AbortSignal }): Promise<RetentionRun[]> {
    const repos = await this.#db.selectFrom('repositories').select('id').where('ownerId', '=', ownerId).where('deletedAt', 'is', null).orderBy('name').execute();
    const out: RetentionRun[] = [];
    for (const r of repos) {
      if (opts.signal?.aborted) break;
      const run = await this.runPackage(r.id, { dryRun: opts.dryRun, ...(opts.proposedOrg !== undefined ? { proposedOrg: opts.proposedOrg } : {}) });
      if (run.hasRules) out.push(run);
    }
    return out;
  }

  /** The scheduled job: every namespace with retention rules at any scope. */
  async runAll(signal: AbortSignal): Promise<{ packages: number; deleted: number }> {
    const owners = await this.#db.selectFrom('lifecyclePolicies').select('ownerId').distinct().where('retention', 'is not', null).execute();
    let packages = 0;
    let deleted = 0;
    for (const o of owners) {
      for (const run of await this.runOwner(o.ownerId, { dryRun: false, signal })) {
        packages++;
        deleted += run.deleted;
      }
    }
    return { packages, deleted };
  }

  async #plan(db: Db, repo: Repo, opts: { proposed?: RetentionPolicy | null; proposedOrg?: RetentionPolicy | null }): Promise<RetentionRun> {
    const [orgPolicies, pkgPolicies] = await Promise.all([
      repo.ownerId === null ? null : this.#policies.get({ ownerId: repo.ownerId, repositoryId: null }, db),
      repo.ownerId === null ? null : this.#policies.get({ ownerId: repo.ownerId, repositoryId: repo.id }, db),
    ]);
    const org = opts.proposedOrg !== undefined ? opts.proposedOrg : orgPolicies?.retention ?? null;
    const pkg = opts.proposed !== undefined ? opts.proposed : pkgPolicies?.retention ?? null;
    const rules = effectiveRetention(org, pkg);
    if (!rules) return { repository: repo.name, dryRun: true, hasRules: false, kept: 0, deleted: 0, versions: [] };
    const [candidates, immutable] = await Promise.all([loadCandidates(db, repo.id), this.#policies.immutableRulesOf(db, repo.id)]);
    const versions = planRetention(candidates, rules, immutable, this.#clock.now());
    const deleted = versions.filter((v) => v.decision === 'delete').length;
    return { repository: repo.name, dryRun: true, hasRules: true, kept: versions.length - deleted, deleted, versions };
  }
}

function doomedOf(run: RetentionRun): number[] {
  return run.versions.filter((v) => v.decision === 'delete').map((v) => v.id);
}

/** The package's active versions with what the planner needs, in a fixed number of queries. */
async function loadCandidates(db: Db, repositoryId: number): Promise<Candidate[]> {
  const [manifests, tags, children, pulls] = await Promise.all([
    db.selectFrom('manifests').select(['id', 'digest', 'mediaType', 'createdAt', 'subjectDigest'])
      .where('repositoryId', '=', repositoryId).where('deletedAt', 'is', null).execute(),
    db.selectFrom('tags').select(['manifestId', 'name']).where('repositoryId', '=', repositoryId).orderBy('name').execute(),
    db.selectFrom('manifestReferences as r').innerJoin('manifests as m', 'm.id', 'r.manifestId').select(['r.manifestId', 'r.digest'])
      .where('m.repositoryId', '=', repositoryId).where('m.deletedAt', 'is', null).where('r.kind', '=', 'manifest').execute(),
    db.selectFrom('downloadsDaily as d').innerJoin('manifests as m', 'm.id', 'd.manifestId')
      .select(['d.manifestId', (eb) => eb.fn.max('d.day').as('lastDay')])
      .where('m.repositoryId', '=', repositoryId).where('m.deletedAt', 'is', null).where('d.count', '>', 0).groupBy('d.manifestId').execute(),
  ]);
  const group = <T>(rows: readonly T[], key: (r: T) => number, value: (r: T) => string): Map<number, string[]> => {
    const out = new Map<number, string[]>();
    for (const r of rows) {
      const list = out.get(key(r));
      if (list) list.push(value(r));
      else out.set(key(r), [value(r)]);
    }
    return out;
  };
  const tagsOf = group(tags, (t) => t.manifestId, (t) => t.name);
  const childrenOf = group(children, (c) => c.manifestId, (c) => c.digest);
  const lastDay = new Map(pulls.map((p) => [p.manifestId, Number(p.lastDay)]));
  return manifests.map((m) => ({
    id: m.id, digest: m.digest, mediaType: m.mediaType, createdAt: m.createdAt, subject: m.subjectDigest,
    tags: tagsOf.get(m.id) ?? [], children: childrenOf.get(m.id) ?? [],
    lastPulledAt: lastDay.has(m.id) ? lastDay.get(m.id)! * DAY : null,
  }));
}
