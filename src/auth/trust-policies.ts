import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import type { Clock } from '../util/clock.js';
import { notFound } from '../util/errors.js';
import type { Action } from './actions.js';
import { sameIssuer, type TrustPolicy, type TrustPolicyInput } from './trust-policy.js';

/** The organizations' OIDC trust policies (migration 0015): written by their owners, read for every ID token. */
export class TrustPolicies {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #audit: AuditLog;

  constructor(deps: { db: Db; clock: Clock; audit: AuditLog }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
  }

  async list(orgId: number): Promise<TrustPolicy[]> {
    return this.#select().where('trustPolicies.orgId', '=', orgId).orderBy('trustPolicies.id').execute().then((rows) => rows.map(toPolicy));
  }

  /** Every policy trusting `issuer` (whatever the trailing slash), across organizations. */
  async forIssuer(issuer: string): Promise<TrustPolicy[]> {
    const bare = issuer.replace(/\/$/, '');
    const rows = await this.#select().where('trustPolicies.issuer', 'in', [bare, `${bare}/`]).orderBy('trustPolicies.id').execute();
    return rows.map(toPolicy).filter((p) => sameIssuer(p.issuer, issuer));
  }

  /** Whether any organization trusts `issuer`: an untrusted issuer's discovery document is never fetched. */
  async trusts(issuer: string): Promise<boolean> {
    return (await this.forIssuer(issuer)).length > 0;
  }

  async add(orgId: number, input: TrustPolicyInput, createdBy: number | null): Promise<TrustPolicy> {
    const row = await transaction(this.#db, async (tx) => {
      const added = await tx.insertInto('trustPolicies').values({
        orgId, issuer: input.issuer, audience: input.audience, conditions: JSON.stringify(input.conditions), packages: JSON.stringify(input.packages),
        actions: input.actions.join(','), tokenLifetimeMs: input.tokenLifetimeSeconds * 1000, createdBy, createdAt: this.#clock.now(),
      }).returning('id').executeTakeFirstOrThrow();
      await this.#audit.record(tx, { action: 'trust_policy.create', org: orgId, target: `trust_policy:${added.id}`, after: { ...input } });
      return added;
    });
    return (await this.list(orgId)).find((p) => p.id === row.id)!;
  }

  /** 404 when the organization has no policy `id`. */
  async remove(orgId: number, id: number): Promise<void> {
    await transaction(this.#db, async (tx) => {
      const r = await tx.deleteFrom('trustPolicies').where('orgId', '=', orgId).where('id', '=', id).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw notFound(`there is no trust policy ${id} in this organization`);
      await this.#audit.record(tx, { action: 'trust_policy.destroy', org: orgId, target: `trust_policy:${id}` });
    });
  }

  #select() {
    return this.#db.selectFrom('trustPolicies').innerJoin('accounts', 'accounts.id', 'trustPolicies.orgId')
      .select(['trustPolicies.id', 'trustPolicies.orgId', 'accounts.login', 'trustPolicies.issuer', 'trustPolicies.audience',
        'trustPolicies.conditions', 'trustPolicies.packages', 'trustPolicies.actions', 'trustPolicies.tokenLifetimeMs']);
  }
}

function toPolicy(r: {
  id: number; orgId: number; login: string; issuer: string; audience: string; conditions: string; packages: string; actions: string; tokenLifetimeMs: number;
}): TrustPolicy {
  return {
    id: r.id, orgId: r.orgId, org: r.login.toLowerCase(), issuer: r.issuer, audience: r.audience,
    conditions: JSON.parse(r.conditions) as Record<string, string>, packages: JSON.parse(r.packages) as string[],
    actions: r.actions.split(',') as Action[], tokenLifetimeSeconds: Math.round(r.tokenLifetimeMs / 1000),
  };
}
