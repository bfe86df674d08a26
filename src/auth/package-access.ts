import type { Db } from '../db/schema.js';
import { maxRole, type Role, type Target, type Visibility } from './permissions.js';

/**
 * Reads what `allowedActions` needs to know about one package for one user: the package's visibility and the
 * user's role on it (owner, org owner, direct grant, team grant, instance admin), or, for a package that does
 * not exist yet, whether the user may create it in that namespace.
 */
export async function loadTarget(db: Db, userId: number | null, name: string): Promise<Target> {
  const ownerLogin = name.slice(0, name.indexOf('/'));
  const [owner, repo, user] = await Promise.all([
    db.selectFrom('accounts').select(['id', 'type', 'membersCanCreate']).where('lowerLogin', '=', ownerLogin).executeTakeFirst(),
    db.selectFrom('repositories').select(['id', 'visibility']).where('name', '=', name).executeTakeFirst(),
    userId === null ? undefined : db.selectFrom('accounts').select(['id', 'isAdmin', 'disabledAt']).where('id', '=', userId).executeTakeFirst(),
  ]);
  const activeUser = user && user.disabledAt === null ? user : undefined;
  const orgRole = owner?.type === 'org' && activeUser
    ? (await db.selectFrom('orgMembers').select('role').where('orgId', '=', owner.id).where('userId', '=', activeUser.id).executeTakeFirst())?.role ?? null
    : null;

  if (!repo) {
    const canCreate = owner !== undefined && activeUser !== undefined && (
      owner.type === 'user' ? owner.id === activeUser.id : orgRole === 'owner' || (orgRole === 'member' && Boolean(owner.membersCanCreate))
    );
    return { exists: false, name, canCreate };
  }

  let role: Role | null = null;
  if (activeUser) {
    const roles: (Role | null)[] = [];
    if (activeUser.isAdmin) roles.push('admin');
    if (owner?.type === 'user' && owner.id === activeUser.id) roles.push('admin');
    if (orgRole === 'owner') roles.push('admin');
    const grants = await db.selectFrom('packagePermissions').select('role').where('repositoryId', '=', repo.id)
      .where((eb) => eb.or([
        eb.and([eb('principalType', '=', 'user'), eb('principalId', '=', activeUser.id)]),
        eb.and([eb('principalType', '=', 'team'), eb('principalId', 'in', eb.selectFrom('teamMembers').select('teamId').where('userId', '=', activeUser.id))]),
      ]))
      .execute();
    roles.push(...grants.map((g) => g.role));
    role = maxRole(roles);
  }
  // Internal: members of the owning organization; for a user's package, any signed-in user of the instance.
  const internalReader = activeUser !== undefined && (owner?.type === 'org' ? orgRole !== null : true);
  return { exists: true, name, visibility: repo.visibility as Visibility, role, internalReader };
}
