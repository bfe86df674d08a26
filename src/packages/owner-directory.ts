import type { Db } from '../db/schema.js';
import type { Owner } from './package-service.js';

/** A namespace a user can publish to or look after: their own, or an organization they belong to. */
export interface Membership extends Owner {
  readonly role: 'self' | 'owner' | 'member';
}

/** A public package for the landing page. */
export interface PublicPackage {
  readonly owner: Owner;
  readonly name: string;
  readonly updatedAt: number;
}

/** Where the web UI's navigation leads: a user's namespaces, and what anyone may browse. */
export class OwnerDirectory {
  readonly #db: Db;

  constructor(deps: { db: Db }) {
    this.#db = deps.db;
  }

  /** The user's own namespace, then the organizations they are a member of, by name. */
  async namespacesOf(userId: number): Promise<Membership[]> {
    const [self, orgs] = await Promise.all([
      this.#db.selectFrom('accounts').select(['id', 'login', 'type']).where('id', '=', userId).executeTakeFirst(),
      this.#db.selectFrom('orgMembers as m').innerJoin('accounts as a', 'a.id', 'm.orgId')
        .select(['a.id', 'a.login', 'a.type', 'm.role']).where('m.userId', '=', userId).orderBy('a.lowerLogin').execute(),
    ]);
    const out: Membership[] = self ? [{ id: Number(self.id), login: self.login, type: self.type, role: 'self' }] : [];
    return [...out, ...orgs.map((o) => ({ id: Number(o.id), login: o.login, type: o.type, role: o.role }))];
  }

  /** The most recently updated public packages of the instance. */
  async recentPublic(limit: number): Promise<PublicPackage[]> {
    const rows = await this.#db.selectFrom('repositories as r').innerJoin('accounts as a', 'a.id', 'r.ownerId')
      .select(['r.name', 'r.updatedAt', 'a.id', 'a.login', 'a.type'])
      .where('r.visibility', '=', 'public').where('r.deletedAt', 'is', null)
      .orderBy('r.updatedAt', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      owner: { id: Number(r.id), login: r.login, type: r.type }, name: r.name.slice(r.login.length + 1), updatedAt: r.updatedAt,
    }));
  }
}
