import type { AccountRef, Policy } from '../auth/policy.js';
import type { Db } from '../db/schema.js';
import { BerthError } from '../util/errors.js';

/**
 * Who may read and change lifecycle rules (immutable tags, retention) and start retention runs: those who
 * administer the namespace (`Policy.administers`: owners of the organization, the user of a user namespace,
 * instance admins). A package admin who is none of these may not: the rules exist to bind package admins too.
 * The one place lifecycle asks auth/.
 */
export class LifecycleAccess {
  readonly #db: Db;
  readonly #policy: Policy;

  constructor(deps: { db: Db; policy: Policy }) {
    this.#db = deps.db;
    this.#policy = deps.policy;
  }

  async manages(userId: number | null, namespace: AccountRef): Promise<boolean> {
    if (userId === null) return false;
    const user = await this.#db.selectFrom('accounts').select(['id', 'type', 'isAdmin', 'disabledAt']).where('id', '=', userId).executeTakeFirst();
    if (!user || user.disabledAt !== null) return false;
    return this.#policy.administers({ id: user.id, type: user.type, isAdmin: Boolean(user.isAdmin) }, namespace);
  }

  /** 403 (lifecycleAdminRequired) unless the user manages the namespace's lifecycle rules. */
  async assertManages(userId: number | null, namespace: AccountRef & { readonly login: string }): Promise<void> {
    if (!(await this.manages(userId, namespace))) throw lifecycleAdminRequired(namespace.login);
  }
}

export const lifecycleAdminRequired = (owner: string): BerthError => new BerthError({
  status: 403, code: 'LIFECYCLE_ADMIN_REQUIRED',
  message: `Only admins of ${owner} (organization owners) can see and change its lifecycle rules or run retention.`,
});
