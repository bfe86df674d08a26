import type { Db } from '../db/schema.js';
import { outbox } from '../events/outbox.js';
import type { Role, Visibility } from '../auth/permissions.js';
import { invalid, notFound } from '../util/errors.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from '../audit/audit-log.js';
import { transaction } from '../db/transaction.js';

const VISIBILITIES: readonly Visibility[] = ['public', 'private', 'internal'];
const ROLES: readonly Role[] = ['read', 'write', 'admin'];

/** A package's visibility and its per-package roles for users and teams. */
export class PackageSettings {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #audit: AuditLog;

  constructor(deps: { db: Db; clock: Clock; audit: AuditLog }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
  }

  /**
   * Unlike ghcr.io, a public package may be made private again (a common request); the README says so. With
   * `orgPolicy` (a package admin who is not an owner of the organization) only the visibilities the organization's
   * package policy allows may be chosen, as on GitHub; owners and operators (the CLI) may choose any.
   */
  async setVisibility(name: string, visibility: string, opts: { orgPolicy?: boolean } = {}): Promise<void> {
    if (!(VISIBILITIES as readonly string[]).includes(visibility)) throw invalid(`visibility must be one of ${VISIBILITIES.join(', ')}`);
    const repo = await this.#repo(name);
    if (opts.orgPolicy && repo.ownerId !== null) {
      const owner = await this.#db.selectFrom('accounts').select(['login', 'type', 'allowedVisibilities']).where('id', '=', repo.ownerId).executeTakeFirst();
      const allowed: readonly string[] = owner?.type === 'org' ? owner.allowedVisibilities.split(',') : VISIBILITIES;
      if (!allowed.includes(visibility)) {
        throw invalid(`the organization ${owner!.login} allows only ${allowed.join(', ')} packages; an owner of ${owner!.login} can change that policy`);
      }
    }
    if (repo.visibility === visibility) return;
    await transaction(this.#db, async (tx) => {
      const now = this.#clock.now();
      await tx.updateTable('repositories').set({ visibility: visibility as Visibility, updatedAt: now }).where('id', '=', repo.id).execute();
      await outbox.visibilityChanged(tx, { repositoryId: repo.id, from: repo.visibility, senderId: this.#audit.current()?.actorId ?? null, at: now });
      await this.#audit.record(tx, {
        action: 'package.visibility_change', org: repo.owner, target: name, repository: name, before: { visibility: repo.visibility }, after: { visibility },
      });
    });
  }

  async grant(name: string, principal: { type: 'user' | 'team'; id: number }, role: string): Promise<void> {
    if (!(ROLES as readonly string[]).includes(role)) throw invalid(`role must be one of ${ROLES.join(', ')}`);
    const repo = await this.#repo(name);
    await transaction(this.#db, async (tx) => {
      await tx.insertInto('packagePermissions')
        .values({ repositoryId: repo.id, principalType: principal.type, principalId: principal.id, role: role as Role })
        .onConflict((oc) => oc.columns(['repositoryId', 'principalType', 'principalId']).doUpdateSet({ role: role as Role }))
        .execute();
      await this.#audit.record(tx, { action: 'package.grant', org: repo.owner, target: name, repository: name, after: { [principal.type]: principal.id, role } });
    });
  }

  async revoke(name: string, principal: { type: 'user' | 'team'; id: number }): Promise<void> {
    const repo = await this.#repo(name);
    await transaction(this.#db, async (tx) => {
      const gone = await tx.deleteFrom('packagePermissions').where('repositoryId', '=', repo.id)
        .where('principalType', '=', principal.type).where('principalId', '=', principal.id).executeTakeFirst();
      if (Number(gone.numDeletedRows) > 0) {
        await this.#audit.record(tx, { action: 'package.revoke_grant', org: repo.owner, target: name, repository: name, before: { [principal.type]: principal.id } });
      }
    });
  }

  /** Who has a role on the package (direct grants to users and teams), by kind and name. */
  async grants(name: string): Promise<{ type: 'user' | 'team'; id: number; name: string; role: Role }[]> {
    const repo = await this.#repo(name);
    const [users, teams] = await Promise.all([
      this.#db.selectFrom('packagePermissions as p').innerJoin('accounts as a', 'a.id', 'p.principalId')
        .select(['a.id', 'a.login as name', 'p.role']).where('p.repositoryId', '=', repo.id).where('p.principalType', '=', 'user')
        .orderBy('a.lowerLogin').execute(),
      this.#db.selectFrom('packagePermissions as p').innerJoin('teams as t', 't.id', 'p.principalId')
        .select(['t.id', 't.name', 'p.role']).where('p.repositoryId', '=', repo.id).where('p.principalType', '=', 'team')
        .orderBy('t.lowerName').execute(),
    ]);
    return [
      ...users.map((u) => ({ type: 'user' as const, id: Number(u.id), name: u.name, role: u.role })),
      ...teams.map((t) => ({ type: 'team' as const, id: Number(t.id), name: t.name, role: t.role })),
    ];
  }

  async #repo(name: string): Promise<{ id: number; ownerId: number | null; owner: string; visibility: string }> {
    const repo = await this.#db.selectFrom('repositories').select(['id', 'ownerId', 'owner', 'visibility']).where('name', '=', name).executeTakeFirst();
    if (!repo) throw notFound(`no package named "${name}"`);
    return repo;
  }
}
