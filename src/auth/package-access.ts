import type { Db } from '../db/schema.js';
import { maxRole, type Namespace, type Role, type Target, type Visibility } from './permissions.js';

/** A package row as the permission model needs it. */
export interface PackageRow {
  readonly id: number;
  readonly name: string;
  readonly visibility: Visibility;
}

/**
 * Reads what `allowedActions` needs to know about one package for one user: the package's visibility and the
 * user's role on it (owner, org owner, direct grant, team grant, instance admin), or, for a package that does
 * not exist yet, whether the user may create it in that namespace.
 */
export async function loadTarget(db: Db, userId: number | null, name: string): Promise<Target> {
  const repo = await db.selectFrom('repositories').select(['id', 'name', 'visibility']).where('name', '=', name).executeTakeFirst();
  const ownerLogin = name.slice(0, name.indexOf('/'));
  const facts = await loadFacts(db, userId, ownerLogin);
  if (!repo) {
    const { owner, user, orgRole } = facts;
    const canCreate = owner !== undefined && user !== undefined && (
      owner.type === 'user' ? owner.id === user.id : orgRole === 'owner' || (orgRole === 'member' && Boolean(owner.membersCanCreate))
    );
    return { exists: false, name, canCreate };
  }
  return (await targetsOf(db, facts, [repo])).get(repo.id)!;
}

/**
 * The targets of several packages of one namespace at once (REST listings, deleted packages addressed by id):
 * a fixed number of queries whatever the count, and the decision still taken by `allowedActions` per package.
 */
export async function loadTargets(db: Db, userId: number | null, ownerLogin: string, repos: readonly PackageRow[]): Promise<Map<number, Target>> {
  if (repos.length === 0) return new Map();
  return targetsOf(db, await loadFacts(db, userId, ownerLogin), repos);
}

/**
 * The caller's standing in the namespace `ownerLogin` (what a refused push names as the thing to fix): no such
 * namespace, their own, another user's, or an organization with their role in it and its package-creation policy.
 */
export async function loadNamespace(db: Db, userId: number, ownerLogin: string): Promise<Namespace> {
  const { owner, user, orgRole } = await loadFacts(db, userId, ownerLogin);
  if (!owner) return { kind: 'missing', login: ownerLogin };
  if (owner.type === 'user') return { kind: user !== undefined && owner.id === user.id ? 'own' : 'other-user', login: ownerLogin };
  return { kind: 'org', login: ownerLogin, role: orgRole, membersCanCreate: Boolean(owner.membersCanCreate) };
}

interface Facts {
  readonly owner: { id: number; type: 'user' | 'org'; membersCanCreate: number } | undefined;
  /** The signed-in user, when enabled. */
  readonly user: { id: number; isAdmin: number } | undefined;
  readonly orgRole: 'owner' | 'member' | null;
}

async function loadFacts(db: Db, userId: number | null, ownerLogin: string): Promise<Facts> {
  const [owner, user] = await Promise.all([
    db.selectFrom('accounts').select(['id', 'type', 'membersCanCreate']).where('lowerLogin', '=', ownerLogin.toLowerCase()).executeTakeFirst(),
    userId === null ? undefined : db.selectFrom('accounts').select(['id', 'isAdmin', 'disabledAt']).where('id', '=', userId).executeTakeFirst(),
  ]);
  const activeUser = user && user.disabledAt === null ? user : undefined;
  const orgRole = owner?.type === 'org' && activeUser
    ? (await db.selectFrom('orgMembers').select('role').where('orgId', '=', owner.id).where('userId', '=', activeUser.id).executeTakeFirst())?.role ?? null
    : null;
  return { owner, user: activeUser, orgRole };
}

async function targetsOf(db: Db, facts: Facts, repos: readonly PackageRow[]): Promise<Map<number, Target>> {
  const { owner, user, orgRole } = facts;
  const base: (Role | null)[] = [];
  const grants = new Map<number, Role[]>();
  if (user) {
    if (user.isAdmin) base.push('admin');
    if (owner?.type === 'user' && owner.id === user.id) base.push('admin');
    if (orgRole === 'owner') base.push('admin');
    if (base.length === 0) {
      // Chunked: SQLite limits bound parameters per statement.
      for (let i = 0; i < repos.length; i += 500) {
        const rows = await db.selectFrom('packagePermissions').select(['repositoryId', 'role'])
          .where('repositoryId', 'in', repos.slice(i, i + 500).map((r) => r.id))
          .where((eb) => eb.or([
            eb.and([eb('principalType', '=', 'user'), eb('principalId', '=', user.id)]),
            eb.and([eb('principalType', '=', 'team'), eb('principalId', 'in', eb.selectFrom('teamMembers').select('teamId').where('userId', '=', user.id))]),
          ]))
          .execute();
        for (const r of rows) grants.set(r.repositoryId, [...(grants.get(r.repositoryId) ?? []), r.role]);
      }
    }
  }
  // Internal: members of the owning organization; for a user's package, any signed-in user of the instance.
  const internalReader = user !== undefined && (owner?.type === 'org' ? orgRole !== null : true);
  const out = new Map<number, Target>();
  for (const repo of repos) {
    const role = user ? maxRole([...base, ...(grants.get(repo.id) ?? [])]) : null;
    out.set(repo.id, { exists: true, name: repo.name, visibility: repo.visibility, role, internalReader });
  }
  return out;
}
