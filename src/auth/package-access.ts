import { expressionBuilder, sql, type Expression, type SqlBool } from 'kysely';
import type { Database, Db, RepositoriesTable } from '../db/schema.js';
import { maxRole, type Namespace, type Role, type Subject, type Target, type Visibility } from './permissions.js';

/** A package row as the permission model needs it. */
export interface PackageRow {
  readonly id: number;
  readonly name: string;
  readonly visibility: Visibility;
}

/**
 * Reads what `allowedActions` needs to know about packages by name, for one user: each package's visibility and the
 * user's role on it (owner, org owner, direct grant, team grant, instance admin), or, for a package that does not
 * exist yet, whether the user may create it in that namespace. One query for the packages, then two per namespace
 * named (its facts, the user's grants): `/token` asks for several scopes at once.
 */
export async function loadTargetsByName(db: Db, userId: number | null, names: readonly string[]): Promise<Map<string, Target>> {
  const unique = [...new Set(names)];
  const repos = unique.length === 0 ? [] : await db.selectFrom('repositories').select(['id', 'name', 'visibility']).where('name', 'in', unique).execute();
  const byName = new Map(repos.map((r) => [r.name, r]));
  const namespaces = new Map<string, string[]>();
  for (const name of unique) {
    const ownerLogin = name.slice(0, name.indexOf('/'));
    namespaces.set(ownerLogin, [...(namespaces.get(ownerLogin) ?? []), name]);
  }
  const out = new Map<string, Target>();
  for (const [ownerLogin, inNamespace] of namespaces) {
    const facts = await loadFacts(db, userId, ownerLogin);
    const existing = inNamespace.flatMap((name) => byName.get(name) ?? []);
    const targets = await targetsOf(db, facts, existing);
    for (const name of inNamespace) {
      const repo = byName.get(name);
      out.set(name, repo ? targets.get(repo.id)! : { exists: false, name, canCreate: canCreateIn(facts) });
    }
  }
  return out;
}

function canCreateIn({ owner, user, orgRole }: Facts): boolean {
  return owner !== undefined && user !== undefined && (
    owner.type === 'user' ? owner.id === user.id : orgRole === 'owner' || (orgRole === 'member' && Boolean(owner.membersCanCreate))
  );
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

/**
 * One statement (a row of outer joins from a one-row table) for the owner, the user if enabled, and the user's
 * role in the owner's organization: on PostgreSQL each statement is a round trip and a socket write, which the
 * three lookups this replaces spent on every package request.
 */
async function loadFacts(db: Db, userId: number | null, ownerLogin: string): Promise<Facts> {
  const row = await db.selectFrom(sql<{ one: number }>`(select 1 as one)`.as('x'))
    .leftJoin('accounts as o', (j) => j.on('o.lowerLogin', '=', ownerLogin.toLowerCase()))
    .leftJoin('accounts as u', (j) => j.on('u.id', '=', userId ?? -1).on('u.disabledAt', 'is', null))
    .leftJoin('orgMembers as m', (j) => j.onRef('m.orgId', '=', 'o.id').onRef('m.userId', '=', 'u.id'))
    .select(['o.id as ownerId', 'o.type as ownerType', 'o.membersCanCreate', 'u.id as userId', 'u.isAdmin', 'm.role'])
    .executeTakeFirstOrThrow();
  return {
    owner: row.ownerId === null ? undefined : { id: row.ownerId, type: row.ownerType!, membersCanCreate: row.membersCanCreate! },
    user: row.userId === null ? undefined : { id: row.userId, isAdmin: row.isAdmin! },
    orgRole: row.ownerType === 'org' ? row.role ?? null : null,
  };
}

async function targetsOf(db: Db, facts: Facts, repos: readonly PackageRow[]): Promise<Map<number, Target>> {
  const { owner, user, orgRole } = facts;
  if (repos.length === 0) return new Map();
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

/** A condition on `repositories as r`: see `readableRepositories`. */
export type ReadableFilter = Expression<SqlBool>;

/**
 * The packages `subject` may read (pull), as one SQL condition on `repositories as r`, so listings filter, count and
 * page in the database. The same decision as `allowedActions(subject, target).has('pull')` over `loadTargetsByName`
 * (test/scale/listings.test.ts compares the two on seeded data): public packages are readable by anyone; any other
 * needs a credential with read:packages (write:packages alone reads through a write or admin role only) within its
 * repository limit, and an active user who is an instance admin, the namespace's own user, an owner of the
 * organization, holds a role on the package (directly or through a team), or, for an internal package, is a
 * member of the organization (any signed-in user, in a namespace that is no organization).
 *
 * The user's facts are subqueries that do not depend on the row (the user's account, the organizations they own or
 * belong to, their teams), which both databases evaluate once per statement, and the row's own grants, looked up in
 * the primary key of `package_permissions`; a row then costs a few lookups, so the condition needs no query of its
 * own and can be built anywhere. Deleted packages are the caller's to exclude.
 */
export function readableRepositories(subject: Subject): ReadableFilter {
  const eb = expressionBuilder<Database & { r: RepositoriesTable }, 'r'>();
  const isPublic = eb('r.visibility', '=', 'public');
  const userId = subject.userId;
  const read = subject.scopes.has('read:packages');
  // A bot (no user): public packages and those its grant lets it pull, by the same globs (`*` → `%`, `?` → `_`).
  if (subject.grant) {
    const { grant } = subject;
    if (!grant.actions.includes('pull')) return isPublic;
    const like = (glob: string): string => `${grant.org}/${glob}`.replace(/[!%_]/g, '!$&').replace(/\*/g, '%').replace(/\?/g, '_');
    return eb.or([isPublic, ...grant.packages.map((g) => sql<SqlBool>`${sql.ref('r.name')} like ${like(g)} escape '!'`)]);
  }
  if (userId === null || (!read && !subject.scopes.has('write:packages'))) return isPublic;
  const grantRoles: Role[] = read ? ['read', 'write', 'admin'] : ['write', 'admin'];
  const active = eb.selectFrom('accounts as u').where('u.id', '=', userId).where('u.disabledAt', 'is', null);
  const orgs = (role: 'owner' | 'any') => eb.selectFrom('orgMembers as om').innerJoin('accounts as o', 'o.id', 'om.orgId')
    .select('o.lowerLogin').where('om.userId', '=', userId).$if(role === 'owner', (q) => q.where('om.role', '=', 'owner'));
  // Internal: members of the owning organization; outside organizations, any signed-in user of the instance.
  const internalReader = read ? [eb.and([eb('r.visibility', '=', 'internal'), eb.or([
    eb('r.owner', 'in', orgs('any')),
    eb.not(eb.exists(eb.selectFrom('accounts as o').select(eb.lit(1).as('one')).whereRef('o.lowerLogin', '=', 'r.owner').where('o.type', '=', 'org'))),
  ])])] : [];
  const withinLimit = subject.repositoryLimit === null ? [] : [eb('r.name', '=', subject.repositoryLimit)];
  return eb.or([isPublic, eb.and([
    ...withinLimit,
    eb.exists(active.select(eb.lit(1).as('one'))),
    eb.or([
      eb.exists(active.select(eb.lit(1).as('one')).where('u.isAdmin', '<>', 0)),
      eb('r.owner', '=', active.select('u.lowerLogin')),
      eb('r.owner', 'in', orgs('owner')),
      ...internalReader,
      eb.exists(grantsOnRow(userId, grantRoles)),
    ]),
  ])]);
}

/**
 * The packages `subject` may restore once deleted, as one SQL condition on `repositories as r` (the deleted-packages
 * listing pages in the database): `allowedOperations`' `restore`, i.e. an admin role with write:packages, which an
 * active user has as an instance admin, the namespace's own user, an owner of the organization, or through an admin
 * grant (directly or through a team). CI tokens (limited to one name, which a deleted package no longer has) and bots
 * (no user, no role) restore nothing from a listing.
 */
export function restorableRepositories(subject: Subject): ReadableFilter {
  const eb = expressionBuilder<Database & { r: RepositoriesTable }, 'r'>();
  const userId = subject.userId;
  if (userId === null || subject.grant || subject.repositoryLimit !== null || !subject.scopes.has('write:packages')) return sql<SqlBool>`1 = 0`;
  const active = eb.selectFrom('accounts as u').where('u.id', '=', userId).where('u.disabledAt', 'is', null);
  const ownedOrgs = eb.selectFrom('orgMembers as om').innerJoin('accounts as o', 'o.id', 'om.orgId')
    .select('o.lowerLogin').where('om.userId', '=', userId).where('om.role', '=', 'owner');
  return eb.and([
    eb.exists(active.select(eb.lit(1).as('one'))),
    eb.or([
      eb.exists(active.select(eb.lit(1).as('one')).where('u.isAdmin', '<>', 0)),
      eb('r.owner', '=', active.select('u.lowerLogin')),
      eb('r.owner', 'in', ownedOrgs),
      eb.exists(grantsOnRow(userId, ['admin'])),
    ]),
  ]);
}

/**
 * The grants of one of `roles` on the row `r` held by the user, directly or through a team. Correlated (a lookup of
 * the row's grants in the primary key) rather than `r.id IN (the user's grants)`: SQLite builds that list whole for
 * every statement (2,667 grants for the seeded member: 0.56 ms of a 0.63 ms page).
 */
function grantsOnRow(userId: number, roles: readonly Role[]) {
  const eb = expressionBuilder<Database & { r: RepositoriesTable }, 'r'>();
  return eb.selectFrom('packagePermissions as pp').select(eb.lit(1).as('one')).whereRef('pp.repositoryId', '=', 'r.id').where('pp.role', 'in', roles)
    .where((w) => w.or([
      w.and([w('pp.principalType', '=', 'user'), w('pp.principalId', '=', userId)]),
      w.and([w('pp.principalType', '=', 'team'), w('pp.principalId', 'in', w.selectFrom('teamMembers').select('teamId').where('userId', '=', userId))]),
    ]));
}
