import { isUniqueViolation } from '../db/constraint-errors.js';
import type { ExpressionBuilder } from 'kysely';
import type { Database, Db } from '../db/schema.js';
import type { TagProtection } from '../registry/tag-protection.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from '../audit/audit-log.js';
import { transaction } from '../db/transaction.js';
import { combineImmutableTagRules, immutableRuleFor, NO_IMMUTABLE_TAGS, parseImmutableTagRules, type ImmutableTagRules } from './immutable-tags.js';
import { parseRetentionPolicy, type RetentionPolicy } from './retention-policy.js';

/** Where rules apply: a namespace (organization or user; defaults for its packages) or one of its packages. */
export interface PolicyScope {
  readonly ownerId: number;
  /** Null: the namespace's own rules. */
  readonly repositoryId: number | null;
}

/** The rules stored at one scope (null where none are set). */
export interface ScopePolicies {
  readonly immutableTags: ImmutableTagRules | null;
  readonly retention: RetentionPolicy | null;
  readonly updatedAt: number | null;
}

const NONE: ScopePolicies = { immutableTags: null, retention: null, updatedAt: null };

/**
 * The `lifecycle_policies` table: immutable-tag and retention rules per namespace and per package. Documents are
 * validated by their parsers before they are written and again when read (a row written by a newer Berth that
 * this one cannot read fails loudly instead of protecting nothing).
 */
export class LifecyclePolicies implements TagProtection {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #audit: AuditLog;

  constructor(deps: { db: Db; clock: Clock; audit: AuditLog }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
  }

  async get(scope: PolicyScope, db: Db = this.#db): Promise<ScopePolicies> {
    const row = await db.selectFrom('lifecyclePolicies').select(['immutableTags', 'retention', 'updatedAt']).where(inScope(scope)).executeTakeFirst();
    if (!row) return NONE;
    return {
      immutableTags: row.immutableTags === null ? null : parseImmutableTagRules(JSON.parse(row.immutableTags)),
      retention: row.retention === null ? null : parseRetentionPolicy(JSON.parse(row.retention)),
      updatedAt: row.updatedAt,
    };
  }

  /** Replaces the immutable-tag rules of the scope (null removes them). Callers check the actor may (LifecycleAccess). */
  async setImmutableTags(scope: PolicyScope, rules: ImmutableTagRules | null, by: number | null): Promise<void> {
    const empty = rules === null || (rules.patterns.length === 0 && rules.exclude.length === 0);
    await this.#write(scope, { immutableTags: empty ? null : JSON.stringify(rules) }, by);
  }

  async setRetention(scope: PolicyScope, policy: RetentionPolicy | null, by: number | null): Promise<void> {
    await this.#write(scope, { retention: policy === null ? null : JSON.stringify(policy) }, by);
  }

  /** The namespace's and the package's rules together, as they apply to the package's tags. */
  async immutableRulesOf(db: Db, repositoryId: number): Promise<ImmutableTagRules> {
    const rows = await db.selectFrom('lifecyclePolicies as p').select('p.immutableTags')
      .where('p.immutableTags', 'is not', null)
      .where((eb) => eb.or([
        eb('p.repositoryId', '=', repositoryId),
        eb.and([eb('p.repositoryId', 'is', null), eb('p.ownerId', '=', eb.selectFrom('repositories').select('ownerId').where('id', '=', repositoryId))]),
      ]))
      .execute();
    if (rows.length === 0) return NO_IMMUTABLE_TAGS;
    return combineImmutableTagRules(rows.map((r) => parseImmutableTagRules(JSON.parse(r.immutableTags!))));
  }

  /** TagProtection, for the registry and the package services: asked inside their transactions. */
  async protectedTags(db: Db, repositoryId: number, tags: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (tags.length === 0) return out;
    const rules = await this.immutableRulesOf(db, repositoryId);
    for (const tag of tags) {
      const rule = immutableRuleFor(rules, tag);
      if (rule) out.set(tag, rule);
    }
    return out;
  }

  async #write(scope: PolicyScope, values: { immutableTags?: string | null; retention?: string | null }, by: number | null): Promise<void> {
    const now = this.#clock.now();
    const update = (tx: Db) => tx.updateTable('lifecyclePolicies').set({ ...values, updatedBy: by, updatedAt: now }).where(inScope(scope)).executeTakeFirst();
    const record = async (tx: Db, before: ScopePolicies) => {
      const repo = scope.repositoryId === null ? null
        : await tx.selectFrom('repositories').select('name').where('id', '=', scope.repositoryId).executeTakeFirst();
      const of = (p: ScopePolicies) => ({
        ...('immutableTags' in values ? { immutable_tags: p.immutableTags } : {}), ...('retention' in values ? { retention: p.retention } : {}),
      });
      const after = { immutableTags: 'immutableTags' in values ? JSON.parse(values.immutableTags ?? 'null') as ImmutableTagRules | null : null,
        retention: 'retention' in values ? JSON.parse(values.retention ?? 'null') as RetentionPolicy | null : null, updatedAt: now };
      await this.#audit.record(tx, {
        action: 'package.update_policy', org: scope.ownerId, target: repo?.name ?? `namespace:${scope.ownerId}`, repository: repo?.name ?? null,
        before: of(before), after: of(after),
      });
    };
    await transaction(this.#db, async (tx) => {
      const before = await this.get(scope, tx);
      if (Number((await update(tx)).numUpdatedRows) === 0) {
        await tx.insertInto('lifecyclePolicies').values({
          ownerId: scope.ownerId, repositoryId: scope.repositoryId, immutableTags: null, retention: null, ...values, updatedBy: by, updatedAt: now,
        }).execute();
      }
      await record(tx, before);
    }).catch(async (err: unknown) => {
      // Another writer inserted the scope's row first (that rolled ours back, record included): ours is the later write.
      if (!isUniqueViolation(err)) throw err;
      await transaction(this.#db, async (tx) => {
        const before = await this.get(scope, tx);
        await update(tx);
        await record(tx, before);
      });
    });
  }
}

/** The row of one scope (a null repository is the namespace's own). */
function inScope(scope: PolicyScope) {
  return (eb: ExpressionBuilder<Database, 'lifecyclePolicies'>) => eb.and([
    eb('ownerId', '=', scope.ownerId),
    scope.repositoryId === null ? eb('repositoryId', 'is', null) : eb('repositoryId', '=', scope.repositoryId),
  ]);
}
