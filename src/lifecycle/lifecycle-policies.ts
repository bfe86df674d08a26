import { isUniqueViolation } from '../db/constraint-errors.js';
import type { ExpressionBuilder } from 'kysely';
import type { Database, Db } from '../db/schema.js';
import type { TagProtection } from '../registry/tag-protection.js';
import type { Clock } from '../util/clock.js';
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

  constructor(deps: { db: Db; clock: Clock }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
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
    const update = () => this.#db.updateTable('lifecyclePolicies').set({ ...values, updatedBy: by, updatedAt: now }).where(inScope(scope)).executeTakeFirst();
    if (Number((await update()).numUpdatedRows) > 0) return;
    try {
      await this.#db.insertInto('lifecyclePolicies').values({
        ownerId: scope.ownerId, repositoryId: scope.repositoryId, immutableTags: null, retention: null, ...values, updatedBy: by, updatedAt: now,
      }).execute();
    } catch (err) {
      // Another writer inserted the scope's row first: ours is the later write.
      if (!isUniqueViolation(err)) throw err;
      await update();
    }
  }
}

/** The row of one scope (a null repository is the namespace's own). */
function inScope(scope: PolicyScope) {
  return (eb: ExpressionBuilder<Database, 'lifecyclePolicies'>) => eb.and([
    eb('ownerId', '=', scope.ownerId),
    scope.repositoryId === null ? eb('repositoryId', 'is', null) : eb('repositoryId', '=', scope.repositoryId),
  ]);
}
