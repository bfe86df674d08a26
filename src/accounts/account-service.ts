import type { Db } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import { hashPassword, needsRehash, passwordProblem, spendPasswordCheck, verifyPassword } from '../auth/password.js';
import { conflict, invalid, notFound } from '../util/errors.js';
import { lastOwnerRefusal, type OrgRole } from './org-rules.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from '../audit/audit-log.js';
import { hashId } from './session-service.js';

export interface Account {
  readonly id: number;
  readonly login: string;
  readonly type: 'user' | 'org';
  readonly displayName: string | null;
  readonly email: string | null;
  readonly isAdmin: boolean;
  readonly disabled: boolean;
  readonly createdAt: number;
}

/** What removing a member took away (or, with `keepPackageRoles`, left in place). */
export interface RemovedMember {
  readonly teams: string[];
  readonly packageRoles: { package: string; role: 'read' | 'write' | 'admin' }[];
  readonly keptPackageRoles: boolean;
}

function checkNewPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem) throw invalid(problem);
}

/** GitHub's login grammar: alphanumerics and single hyphens, not at the ends, at most 39 characters. */
const LOGIN = /^[a-zA-Z0-9](?:[a-zA-Z0-9]|-(?=[a-zA-Z0-9])){0,38}$/;


/** Users, organizations, memberships and teams. Logins are unique case-insensitively across users and orgs. */
export class AccountService {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #audit: AuditLog;
  readonly #onPasswordSet: (account: Account) => Promise<void>;

  /** `onPasswordSet`: told after a password change is committed (the first-start admin password file goes then). */
  constructor(deps: { db: Db; clock: Clock; audit: AuditLog; onPasswordSet?: (account: Account) => Promise<void> }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#onPasswordSet = deps.onPasswordSet ?? (async () => {});
  }

  async createUser(input: { login: string; password?: string; email?: string; displayName?: string; isAdmin?: boolean }): Promise<Account> {
    if (input.password) checkNewPassword(input.password);
    return this.#create('user', input.login, {
      email: input.email ?? null,
      displayName: input.displayName ?? null,
      passwordHash: input.password ? await hashPassword(input.password) : null,
      isAdmin: input.isAdmin ? 1 : 0,
    });
  }

  /**
   * A user made by a first single sign-on, without a password, and in the same transaction the record of which
   * identity (issuer, subject) it is: later sign-ins find the user by that pair (sso-accounts.ts).
   */
  async createSsoUser(input: { login: string; email: string | null }, identity: { issuer: string; subject: string }): Promise<Account> {
    return this.#create('user', input.login, { email: input.email, displayName: null, passwordHash: null, isAdmin: 0 }, async (tx, user) => {
      const now = this.#clock.now();
      await tx.insertInto('ssoIdentities').values({ issuer: identity.issuer, subject: identity.subject, userId: user.id, createdAt: now, lastLoginAt: now }).execute();
      await this.#audit.record(tx, { action: 'user.create', target: user.login, after: { is_admin: false, sso_issuer: identity.issuer } });
    });
  }

  async createOrg(login: string, owner: string, displayName?: string): Promise<Account> {
    const ownerAccount = await this.getUser(owner);
    return this.#create('org', login, { displayName: displayName ?? null, email: null, passwordHash: null, isAdmin: 0 }, async (tx, org) => {
      await tx.insertInto('orgMembers').values({ orgId: org.id, userId: ownerAccount.id, role: 'owner' }).execute();
      await this.#audit.record(tx, { action: 'org.create', org, target: org.login, after: { owner: ownerAccount.login } });
    });
  }

  async find(login: string): Promise<Account | null> {
    // Not a possible login (e.g. a NUL from a URL): no such account, and no query with bytes a database may refuse.
    if (!LOGIN.test(login)) return null;
    const row = await this.#db.selectFrom('accounts').selectAll().where('lowerLogin', '=', login.toLowerCase()).executeTakeFirst();
    return row ? toAccount(row) : null;
  }

  async findById(id: number): Promise<Account | null> {
    const row = await this.#db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toAccount(row) : null;
  }

  async getUser(login: string): Promise<Account> {
    const account = await this.find(login);
    if (!account || account.type !== 'user') throw notFound(`no user named "${login}"`);
    return account;
  }

  async getOrg(login: string): Promise<Account> {
    const account = await this.find(login);
    if (!account || account.type !== 'org') throw notFound(`no organization named "${login}"`);
    return account;
  }

  /** Users or organizations by login, the first `limit` of them (all without one). */
  async list(type: 'user' | 'org', limit?: number): Promise<Account[]> {
    const rows = await this.#db.selectFrom('accounts').selectAll().where('type', '=', type).orderBy('lowerLogin')
      .$if(limit !== undefined, (q) => q.limit(limit!)).execute();
    return rows.map(toAccount);
  }

  async countUsers(): Promise<number> {
    const row = await this.#db.selectFrom('accounts').select((eb) => eb.fn.countAll<number>().as('n')).where('type', '=', 'user').executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async setDisabled(login: string, disabled: boolean): Promise<void> {
    const user = await this.getUser(login);
    await transaction(this.#db, async (tx) => {
      await tx.updateTable('accounts').set({ disabledAt: disabled ? this.#clock.now() : null, updatedAt: this.#clock.now() }).where('id', '=', user.id).execute();
      await this.#audit.record(tx, { action: disabled ? 'user.disable' : 'user.enable', target: user.login, before: { disabled: user.disabled }, after: { disabled } });
    });
  }

  /**
   * Sets (or, for a user created without one, gives) the web UI password: the CLI's `user passwd` and an admin's
   * reset. The user's sessions end with the old password, on every replica: whoever signed in with it (perhaps
   * someone who should not have) must sign in again.
   */
  async setPassword(login: string, password: string): Promise<void> {
    checkNewPassword(password);
    await this.#storePassword(await this.getUser(login), password, null);
  }

  /**
   * The user's own change from the settings page: the current password must be right (else a 422 saying so, and
   * nothing changes). Every other session of the user ends; `keepSessionId`, the one making the change, stays.
   */
  async changePassword(login: string, current: string, password: string, keepSessionId: string): Promise<void> {
    checkNewPassword(password);
    const user = await this.getUser(login);
    const row = await this.#db.selectFrom('accounts').select('passwordHash').where('id', '=', user.id).executeTakeFirstOrThrow();
    if (!row.passwordHash) throw invalid('your account has no password to change (you sign in with single sign-on); an administrator can set one');
    if (!(await verifyPassword(current, row.passwordHash))) throw invalid('the current password is not right');
    await this.#storePassword(user, password, keepSessionId);
  }

  /** Whether the user has a web UI password (users made by single sign-on or `user create` without one do not). */
  async hasPassword(login: string): Promise<boolean> {
    const user = await this.getUser(login);
    const row = await this.#db.selectFrom('accounts').select('passwordHash').where('id', '=', user.id).executeTakeFirstOrThrow();
    return row.passwordHash !== null;
  }

  async #storePassword(user: Account, password: string, keepSessionId: string | null): Promise<void> {
    const hash = await hashPassword(password);
    await transaction(this.#db, async (tx) => {
      await tx.updateTable('accounts').set({ passwordHash: hash, updatedAt: this.#clock.now() }).where('id', '=', user.id).execute();
      let sessions = tx.deleteFrom('sessions').where('userId', '=', user.id);
      if (keepSessionId !== null) sessions = sessions.where('idHash', '!=', hashId(keepSessionId));
      await sessions.execute();
      await this.#audit.record(tx, { action: 'user.change_password', target: user.login });
    });
    await this.#onPasswordSet(user);
  }

  /**
   * The user if the password is right and the account enabled; null otherwise (never says which, not even by taking
   * less time: without a hash to check, the same scrypt work is done on a dummy). A hash made with older scrypt
   * parameters is replaced by one with today's, now that the password is known. This is the sign-in check: it
   * records `user.login` or `user.failed_login` (the caller limits failures per address and login first).
   */
  async checkPassword(login: string, password: string): Promise<Account | null> {
    const row = await this.#db.selectFrom('accounts').selectAll().where('lowerLogin', '=', login.toLowerCase()).where('type', '=', 'user').executeTakeFirst();
    const failed = async (why: string): Promise<null> => {
      // An unknown login is not kept: it is often a password typed into the wrong field.
      await this.#audit.recordAlone({ action: 'user.failed_login', actor: { id: row?.id ?? null, login: row?.login ?? null }, target: row?.login ?? null, after: { reason: why } });
      return null;
    };
    if (!row?.passwordHash || row.disabledAt !== null) {
      await spendPasswordCheck(password);
      return failed(!row ? 'unknown login' : row.disabledAt !== null ? 'account disabled' : 'no password set');
    }
    if (!(await verifyPassword(password, row.passwordHash))) return failed('wrong password');
    if (needsRehash(row.passwordHash)) {
      // Only over the hash just verified: a password changed meanwhile is not overwritten.
      await this.#db.updateTable('accounts').set({ passwordHash: await hashPassword(password), updatedAt: this.#clock.now() })
        .where('id', '=', row.id).where('passwordHash', '=', row.passwordHash).execute();
    }
    await this.#audit.recordAlone({ action: 'user.login', actor: { id: row.id, login: row.login }, target: row.login });
    return toAccount(row);
  }

  /** Adds a member or changes a member's role; an organization keeps at least one owner. */
  async addMember(org: string, user: string, role: OrgRole): Promise<void> {
    const [o, u] = await Promise.all([this.getOrg(org), this.getUser(user)]);
    await transaction(this.#db, async (tx) => {
      const members = await lockedMembers(tx, o.id);
      const refused = lastOwnerRefusal(o.login, members, u.login, role);
      if (refused) throw invalid(refused);
      await tx.insertInto('orgMembers').values({ orgId: o.id, userId: u.id, role })
        .onConflict((oc) => oc.columns(['orgId', 'userId']).doUpdateSet({ role })).execute();
      const was = members.find((m) => m.userId === u.id)?.role ?? null;
      if (was !== role) {
        await this.#audit.record(tx, {
          action: was === null ? 'org.add_member' : 'org.update_member', org: o, target: u.login,
          ...(was === null ? {} : { before: { role: was } }), after: { role },
        });
      }
    });
  }

  /**
   * Removes a member from the organization and its teams, and (unless `keepPackageRoles`) the roles the user was
   * given on the organization's packages, the creator's admin role included: a removed member keeps no access
   * through the organization. An organization keeps at least one owner. Returns what went (or was kept).
   */
  async removeMember(org: string, user: string, opts: { keepPackageRoles?: boolean } = {}): Promise<RemovedMember> {
    const [o, u] = await Promise.all([this.getOrg(org), this.getUser(user)]);
    return transaction(this.#db, async (tx) => {
      const members = await lockedMembers(tx, o.id);
      if (!members.some((m) => m.userId === u.id)) throw notFound(`${u.login} is not a member of ${o.login}`);
      const refused = lastOwnerRefusal(o.login, members, u.login, null);
      if (refused) throw invalid(refused);
      // addTeamMember checks the membership without a lock: a team membership it adds while this runs survives, with
      // the team's package roles (a known gap of two admin actions racing).
      await tx.deleteFrom('orgMembers').where('orgId', '=', o.id).where('userId', '=', u.id).execute();
      const teams = tx.selectFrom('teams').select('id').where('orgId', '=', o.id);
      const teamNames = await tx.selectFrom('teams as t').innerJoin('teamMembers as tm', 'tm.teamId', 't.id')
        .select('t.name').where('t.orgId', '=', o.id).where('tm.userId', '=', u.id).orderBy('t.lowerName').execute();
      await tx.deleteFrom('teamMembers').where('userId', '=', u.id).where('teamId', 'in', teams).execute();
      // Every package of the organization, deleted ones too: a restore must not bring the access back.
      const packages = tx.selectFrom('repositories').select('id').where('owner', '=', o.login.toLowerCase());
      const roles = await tx.selectFrom('packagePermissions as p').innerJoin('repositories as r', 'r.id', 'p.repositoryId')
        .select(['r.name', 'r.deletedName', 'p.role']).where('p.principalType', '=', 'user').where('p.principalId', '=', u.id)
        .where('r.owner', '=', o.login.toLowerCase()).orderBy('r.name').execute();
      if (!opts.keepPackageRoles) {
        await tx.deleteFrom('packagePermissions').where('principalType', '=', 'user').where('principalId', '=', u.id)
          .where('repositoryId', 'in', packages).execute();
      }
      await this.#audit.record(tx, {
        action: 'org.remove_member', org: o, target: u.login,
        before: { role: members.find((m) => m.userId === u.id)!.role, teams: teamNames.map((t) => t.name) },
        ...(opts.keepPackageRoles ? { after: { kept_package_roles: true } } : {}),
      });
      return {
        teams: teamNames.map((t) => t.name),
        packageRoles: roles.map((r) => ({ package: r.deletedName ?? r.name, role: r.role })),
        keptPackageRoles: Boolean(opts.keepPackageRoles),
      };
    });
  }

  async members(org: string): Promise<{ login: string; role: 'owner' | 'member' }[]> {
    const o = await this.getOrg(org);
    return this.#db.selectFrom('orgMembers as m').innerJoin('accounts as a', 'a.id', 'm.userId')
      .select(['a.login', 'm.role']).where('m.orgId', '=', o.id).orderBy('a.lowerLogin').execute();
  }

  /**
   * Organization package policy: whether members (not only owners) may create packages, which visibilities
   * packages may have, and the visibility a new package gets.
   */
  async setOrgPolicy(org: string, policy: { membersCanCreate?: boolean; allowedVisibilities?: string[]; defaultVisibility?: string }): Promise<void> {
    const o = await this.getOrg(org);
    const current = await this.#db.selectFrom('accounts').select(['allowedVisibilities', 'defaultVisibility']).where('id', '=', o.id).executeTakeFirstOrThrow();
    const allowed = policy.allowedVisibilities ?? current.allowedVisibilities.split(',');
    const fallback = (['private', 'internal', 'public'] as const).find((v) => allowed.includes(v));
    const wanted = policy.defaultVisibility ?? (allowed.includes(current.defaultVisibility) ? current.defaultVisibility : fallback);
    if (allowed.length === 0 || allowed.some((v) => !['public', 'private', 'internal'].includes(v))) {
      throw invalid('allowed visibilities must be some of public, private, internal');
    }
    if (wanted === undefined || !allowed.includes(wanted)) throw invalid(`the default visibility must be one of the allowed ones (${allowed.join(', ')})`);
    const before = await this.orgPolicy(o.login);
    await transaction(this.#db, async (tx) => {
      await tx.updateTable('accounts').set({
        ...(policy.membersCanCreate === undefined ? {} : { membersCanCreate: policy.membersCanCreate ? 1 : 0 }),
        allowedVisibilities: allowed.join(','),
        defaultVisibility: wanted as 'public' | 'private' | 'internal',
        updatedAt: this.#clock.now(),
      }).where('id', '=', o.id).execute();
      const after = {
        membersCanCreate: policy.membersCanCreate ?? before.membersCanCreate, allowedVisibilities: allowed, defaultVisibility: wanted,
      };
      await this.#audit.record(tx, { action: 'org.update_package_policy', org: o, target: o.login, before: policyJson(before), after: policyJson(after) });
    });
  }

  /** The organization's package policy, as `setOrgPolicy` sets it. */
  async orgPolicy(org: string): Promise<{ membersCanCreate: boolean; allowedVisibilities: ('public' | 'private' | 'internal')[]; defaultVisibility: 'public' | 'private' | 'internal' }> {
    const o = await this.getOrg(org);
    const row = await this.#db.selectFrom('accounts').select(['membersCanCreate', 'allowedVisibilities', 'defaultVisibility']).where('id', '=', o.id).executeTakeFirstOrThrow();
    return {
      membersCanCreate: Boolean(row.membersCanCreate),
      allowedVisibilities: row.allowedVisibilities.split(',').filter((v): v is 'public' | 'private' | 'internal' => ['public', 'private', 'internal'].includes(v)),
      defaultVisibility: row.defaultVisibility,
    };
  }

  async createTeam(org: string, name: string): Promise<void> {
    const o = await this.getOrg(org);
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(name)) throw invalid(`"${name}" is not a valid team name`);
    await transaction(this.#db, async (tx) => {
      const added = await tx.insertInto('teams').values({ orgId: o.id, name, lowerName: name.toLowerCase(), createdAt: this.#clock.now() })
        .onConflict((oc) => oc.columns(['orgId', 'lowerName']).doNothing()).executeTakeFirst();
      if (Number(added.numInsertedOrUpdatedRows ?? 0) > 0) await this.#audit.record(tx, { action: 'team.create', org: o, target: `${o.login}/${name}` });
    });
  }

  async teamId(org: string, team: string): Promise<number> {
    const o = await this.getOrg(org);
    const row = await this.#db.selectFrom('teams').select('id').where('orgId', '=', o.id).where('lowerName', '=', team.toLowerCase()).executeTakeFirst();
    if (!row) throw notFound(`no team "${team}" in ${org}`);
    return row.id;
  }

  async addTeamMember(org: string, team: string, user: string): Promise<void> {
    const [teamId, u, o] = await Promise.all([this.teamId(org, team), this.getUser(user), this.getOrg(org)]);
    const member = await this.#db.selectFrom('orgMembers').select('userId').where('userId', '=', u.id)
      .where('orgId', '=', o.id).executeTakeFirst();
    if (!member) throw invalid(`${user} must be a member of ${org} before joining one of its teams`);
    await transaction(this.#db, async (tx) => {
      const added = await tx.insertInto('teamMembers').values({ teamId, userId: u.id }).onConflict((oc) => oc.columns(['teamId', 'userId']).doNothing()).executeTakeFirst();
      if (Number(added.numInsertedOrUpdatedRows ?? 0) > 0) await this.#audit.record(tx, { action: 'team.add_member', org: o, target: `${o.login}/${team}`, after: { user: u.login } });
    });
  }

  async removeTeamMember(org: string, team: string, user: string): Promise<void> {
    const [teamId, u, o] = await Promise.all([this.teamId(org, team), this.getUser(user), this.getOrg(org)]);
    await transaction(this.#db, async (tx) => {
      const gone = await tx.deleteFrom('teamMembers').where('teamId', '=', teamId).where('userId', '=', u.id).executeTakeFirst();
      if (Number(gone.numDeletedRows) > 0) await this.#audit.record(tx, { action: 'team.remove_member', org: o, target: `${o.login}/${team}`, before: { user: u.login } });
    });
  }

  /** Deletes a team: its memberships go with it, and so do the package roles it was given (they name the team by id). */
  async deleteTeam(org: string, team: string): Promise<void> {
    const [id, o] = await Promise.all([this.teamId(org, team), this.getOrg(org)]);
    // READ COMMITTED: a role granted to the team while this runs may outlive it as a row naming a team id that is
    // never reused (ids are not recycled on either dialect), so it grants nothing.
    await transaction(this.#db, async (tx) => {
      await tx.deleteFrom('packagePermissions').where('principalType', '=', 'team').where('principalId', '=', id).execute();
      await tx.deleteFrom('teams').where('id', '=', id).execute();
      await this.#audit.record(tx, { action: 'team.destroy', org: o, target: `${o.login}/${team}` });
    });
  }

  async teams(org: string): Promise<{ name: string; members: string[] }[]> {
    const o = await this.getOrg(org);
    const rows = await this.#db.selectFrom('teams as t').leftJoin('teamMembers as tm', 'tm.teamId', 't.id').leftJoin('accounts as a', 'a.id', 'tm.userId')
      .select(['t.name', 'a.login']).where('t.orgId', '=', o.id).orderBy('t.lowerName').execute();
    const out = new Map<string, string[]>();
    for (const r of rows) {
      const list = out.get(r.name) ?? [];
      if (r.login) list.push(r.login);
      out.set(r.name, list);
    }
    return [...out].map(([name, members]) => ({ name, members }));
  }

  /** Creates the account and, in the same transaction, what `then` adds (an organization's owner) and the record. */
  async #create(
    type: 'user' | 'org', login: string, fields: { email: string | null; displayName: string | null; passwordHash: string | null; isAdmin: number },
    then?: (tx: Db, account: { id: number; login: string }) => Promise<void>,
  ): Promise<Account> {
    // Registry owners must also be valid repository path components, hence lowercase-compatible logins.
    if (!LOGIN.test(login)) throw invalid(`"${login}" is not a valid name (letters, digits and single hyphens, at most 39)`);
    if (await this.find(login)) throw conflict(`the name "${login}" is already taken by a user or organization`);
    const now = this.#clock.now();
    await transaction(this.#db, async (tx) => {
      const { id } = await tx.insertInto('accounts').values({
        login, lowerLogin: login.toLowerCase(), type, ...fields, createdAt: now, updatedAt: now,
      }).returning('id').executeTakeFirstOrThrow();
      if (then) await then(tx, { id, login });
      else await this.#audit.record(tx, { action: 'user.create', target: login, after: { is_admin: fields.isAdmin === 1 } });
    });
    return (await this.find(login))!;
  }
}

/**
 * The organization's members, read after locking its account row: on PostgreSQL (READ COMMITTED) concurrent
 * membership changes of one organization then run one after the other, so two owners removing each other cannot
 * both pass the last-owner check (SQLite runs one transaction at a time anyway).
 */
async function lockedMembers(tx: Db, orgId: number): Promise<{ userId: number; login: string; role: OrgRole }[]> {
  await tx.updateTable('accounts').set((eb) => ({ updatedAt: eb.ref('updatedAt') })).where('id', '=', orgId).execute();
  return tx.selectFrom('orgMembers as m').innerJoin('accounts as a', 'a.id', 'm.userId')
    .select(['m.userId', 'a.login', 'm.role']).where('m.orgId', '=', orgId).execute();
}

function policyJson(p: { membersCanCreate: boolean; allowedVisibilities: readonly string[]; defaultVisibility: string }): Record<string, unknown> {
  return { members_can_create_packages: p.membersCanCreate, allowed_visibilities: p.allowedVisibilities, default_visibility: p.defaultVisibility };
}

function toAccount(row: { id: number; login: string; type: 'user' | 'org'; displayName: string | null; email: string | null; isAdmin: number; disabledAt: number | null; createdAt: number }): Account {
  return {
    id: row.id, login: row.login, type: row.type, displayName: row.displayName, email: row.email,
    isAdmin: Boolean(row.isAdmin), disabled: row.disabledAt !== null, createdAt: row.createdAt,
  };
}
