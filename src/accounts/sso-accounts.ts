import type { Db } from '../db/schema.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { SsoIdentity } from '../auth/oidc-sign-in.js';
import { ssoRefused } from '../auth/oidc-sign-in.js';
import type { Clock } from '../util/clock.js';
import { isBerthError } from '../util/errors.js';
import type { Account, AccountService } from './account-service.js';

/** A group of the identity provider standing for a team of an organization (config auth.sso.teamMap). */
export interface TeamMapping {
  readonly group: string;
  readonly org: string;
  readonly team: string;
}

/** What a single sign-on did to the user's teams; `skipped`: mappings whose organization does not exist. */
export interface TeamSync {
  readonly joined: string[];
  readonly left: string[];
  readonly skipped: string[];
}

/**
 * The Berth user behind a verified single sign-on: found by (issuer, sub); at the first sign-in made from the
 * username and email claims, with no password. A name already taken by an account not linked to this identity is
 * refused, never taken over (a provider's username is not proof of owning a local account). Then the mapped teams
 * follow the groups claim.
 */
export class SsoAccounts {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #audit: AuditLog;
  readonly #accounts: AccountService;

  constructor(deps: { db: Db; clock: Clock; audit: AuditLog; accounts: AccountService }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#accounts = deps.accounts;
  }

  async signIn(identity: SsoIdentity, usernameClaim: string, teamMap: readonly TeamMapping[]): Promise<{ account: Account; teams: TeamSync }> {
    const linked = await this.#db.selectFrom('ssoIdentities').select('userId')
      .where('issuer', '=', identity.issuer).where('subject', '=', identity.subject).executeTakeFirst();
    let account: Account;
    if (linked) {
      account = (await this.#accounts.findById(Number(linked.userId)))!;
      await this.#db.updateTable('ssoIdentities').set({ lastLoginAt: this.#clock.now() })
        .where('issuer', '=', identity.issuer).where('subject', '=', identity.subject).execute();
    } else {
      if (!identity.username) throw ssoRefused(`the identity provider did not send the ${usernameClaim} claim that names your Berth user; tell your administrator (auth.sso.usernameClaim)`, 403);
      if (await this.#accounts.find(identity.username)) {
        throw ssoRefused(`a Berth account named ${identity.username} already exists and is not linked to your single sign-on identity; sign in with its password, or ask an administrator`, 409);
      }
      account = await this.#accounts.createSsoUser({ login: identity.username, email: identity.email }, identity).catch((err: unknown) => {
        // Not a valid login (an e-mail address, a space): the mapping is the administrator's to fix.
        if (isBerthError(err) && err.status === 422) {
          throw ssoRefused(`the ${usernameClaim} claim (${JSON.stringify(identity.username!.slice(0, 60))}) is not a valid Berth username (letters, digits and single hyphens, at most 39); tell your administrator (auth.sso.usernameClaim)`, 403);
        }
        throw err;
      });
    }
    if (account.disabled) throw ssoRefused(`the account ${account.login} is disabled`, 403);
    const teams = await this.#syncTeams(account, identity.groups, teamMap);
    await this.#audit.recordAlone({ action: 'user.login', actor: { id: account.id, login: account.login }, target: account.login, after: { sso_issuer: identity.issuer } });
    return { account, teams };
  }

  /**
   * Joins the teams of the groups the user is in (first the organization, as a member: an owner stays an owner),
   * leaves the mapped teams of the groups they are not in. Teams not in the map are never touched.
   */
  async #syncTeams(account: Account, groups: readonly string[], teamMap: readonly TeamMapping[]): Promise<TeamSync> {
    const sync: TeamSync = { joined: [], left: [], skipped: [] };
    for (const m of teamMap) {
      const name = `${m.org}/${m.team}`;
      const org = await this.#accounts.find(m.org);
      if (!org || org.type !== 'org') {
        sync.skipped.push(name);
        continue;
      }
      const teams = await this.#accounts.teams(m.org);
      const team = teams.find((t) => t.name.toLowerCase() === m.team.toLowerCase());
      const inTeam = team?.members.some((u) => u.toLowerCase() === account.login.toLowerCase()) ?? false;
      if (groups.includes(m.group)) {
        if (inTeam) continue;
        const member = await this.#db.selectFrom('orgMembers').select('role').where('orgId', '=', org.id).where('userId', '=', account.id).executeTakeFirst();
        if (!member) await this.#accounts.addMember(m.org, account.login, 'member');
        if (!team) await this.#accounts.createTeam(m.org, m.team);
        await this.#accounts.addTeamMember(m.org, m.team, account.login);
        sync.joined.push(name);
      } else if (inTeam) {
        await this.#accounts.removeTeamMember(m.org, team!.name, account.login);
        sync.left.push(name);
      }
    }
    return sync;
  }
}
