import { isNamespaceAdmin } from '../auth/package-access.js';
import type { Db } from '../db/schema.js';
import { BerthError } from '../util/errors.js';

/**
 * Who may read and change lifecycle rules (immutable tags, retention) and start retention runs: the admins of the
 * namespace — owners of the organization, the user of a user namespace, instance admins. A package admin who is
 * not one of them may not: the rules exist to bind package admins too. The one place lifecycle asks auth/.
 */
export class LifecycleAccess {
  readonly #db: Db;

  constructor(deps: { db: Db }) {
    this.#db = deps.db;
  }

  async manages(userId: number | null, ownerLogin: string): Promise<boolean> {
    return isNamespaceAdmin(this.#db, userId, ownerLogin);
  }

  /** 403 (lifecycleAdminRequired) unless the user manages the namespace's lifecycle rules. */
  async assertManages(userId: number | null, ownerLogin: string): Promise<void> {
    if (!(await this.manages(userId, ownerLogin))) throw lifecycleAdminRequired(ownerLogin);
  }
}

export const lifecycleAdminRequired = (owner: string): BerthError => new BerthError({
  status: 403, code: 'LIFECYCLE_ADMIN_REQUIRED',
  message: `Only admins of ${owner} (organization owners) can see and change its lifecycle rules or run retention.`,
});
