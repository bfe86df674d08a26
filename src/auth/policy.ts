import type { Db } from '../db/schema.js';
import { ACTIONS, type Action } from './actions.js';
import { botActions, botDenial, type Bot } from './bot-grant.js';
import type { Caller } from './credentials.js';
import type { MirrorReaders } from '../oci/names.js';
import { mirrorActions } from './mirror-access.js';
import { loadNamespace, loadTargets, loadTargetsByName, type PackageRow } from './package-access.js';
import { allowedActions, allowedOperations, type PackageOperation, type Subject } from './permissions.js';
import { refusal, type Refusal } from './refusal.js';
import { trustedActions } from './trust-policy.js';
import type { AccessEntry } from './registry-token.js';

export type { PackageRow };

/**
 * A bot refused `requested` on `name` (null: `granted` covers it). A read of what it cannot read is answered as for a
 * package that does not exist (404, as refusal.ts does for everyone; HEAD has no body to carry words anyway); a push,
 * or a delete of what it can read, is DENIED naming the bot's grant.
 */
function botRefusal(bot: Bot, name: string, requested: readonly Action[], granted: readonly Action[]): Refusal | null {
  const missing = requested.filter((a) => !granted.includes(a));
  if (missing.length === 0) return null;
  if (!requested.includes('push') && !granted.includes('pull')) return { kind: 'unknown' };
  return { kind: 'denied', message: botDenial(bot, name, missing) };
}

/** Tells whether a repository name is served by a pull-through mirror (src/mirror/), and who may pull there. */
export type MirrorLookup = (name: string) => Promise<MirrorReaders | null>;

/** An account as the policy needs it: who is asking (a user) or whose namespace it is (a user or an organization). */
export interface AccountRef {
  readonly id: number;
  readonly type: 'user' | 'org';
  readonly isAdmin?: boolean;
}

/**
 * The one policy API every surface asks (`/v2`, `/token`, `/api/v3`, the web UI): what a subject may do with a
 * package, what a registry request is refused and why, who administers an organization, and which visibilities a
 * package admin may choose. The decisions are pure functions (permissions.ts, refusal.ts); this class reads the facts
 * they need. Surfaces only turn a decision into their own challenge and error body.
 */
export class Policy {
  readonly #db: Db;
  readonly #mirrorOf: MirrorLookup | null;

  constructor(deps: { db: Db; mirrorOf?: MirrorLookup }) {
    this.#db = deps.db;
    this.#mirrorOf = deps.mirrorOf ?? null;
  }

  /** What `subject` may do with the package `name` now, and whether it exists. */
  async packageActions(subject: Subject, name: string): Promise<{ actions: Set<Action>; exists: boolean }> {
    return (await this.#packagesActions(subject, [name])).get(name)!;
  }

  /** `packageActions` of several packages at once (`/token`'s scopes): see `loadTargetsByName` for the queries. */
  async #packagesActions(subject: Subject, names: readonly string[]): Promise<Map<string, { actions: Set<Action>; exists: boolean }>> {
    const out = new Map<string, { actions: Set<Action>; exists: boolean }>();
    const owned: string[] = [];
    for (const name of new Set(names)) {
      // A mirror's repositories are no account's packages: one rule decides them (auth/mirror-access.ts).
      const mirrorReaders = await this.#mirrorOf?.(name);
      if (mirrorReaders) out.set(name, { actions: await mirrorActions(subject, mirrorReaders, this.#isMember), exists: true });
      else owned.push(name);
    }
    const targets = await loadTargetsByName(this.#db, subject.userId, owned);
    for (const name of owned) {
      const target = targets.get(name)!;
      out.set(name, { actions: allowedActions(subject, target), exists: target.exists });
    }
    return out;
  }

  /** The mirrors `subject` may pull through, each by its access (the mirror pages and REST listings). */
  async mirrorsPullableBy<T extends { readonly access: MirrorReaders }>(subject: Subject, mirrors: readonly T[]): Promise<T[]> {
    const pullable: T[] = [];
    for (const m of mirrors) if ((await mirrorActions(subject, m.access, this.#isMember)).has('pull')) pullable.push(m);
    return pullable;
  }

  readonly #isMember = async (userId: number, org: string): Promise<boolean> => {
    const row = await this.#db.selectFrom('orgMembers as om').innerJoin('accounts as o', 'o.id', 'om.orgId')
      .select('om.userId').where('o.lowerLogin', '=', org).where('om.userId', '=', userId).executeTakeFirst();
    return row !== undefined;
  };

  /**
   * What GitHub's REST API lets `subject` do with each of several packages of one namespace (listings, one package
   * by name or id): a fixed number of queries whatever the count.
   */
  async packageOperations(subject: Subject, ownerLogin: string, rows: readonly PackageRow[]): Promise<Map<number, Set<PackageOperation>>> {
    const targets = await loadTargets(this.#db, subject.userId, ownerLogin, rows);
    return new Map(rows.map((r) => [r.id, allowedOperations(subject, targets.get(r.id)!)]));
  }

  /**
   * A registry token's access (`/token`): for each repository asked for, the actions asked for that the subject may
   * do — a subset, never a failure (distribution's token spec).
   */
  async grant(caller: Caller, requested: readonly { name: string; actions: readonly Action[] }[]): Promise<AccessEntry[]> {
    const granted = await this.#callerActions(caller, requested.map((r) => r.name));
    return requested.map((r) => {
      const actions = granted.get(r.name)!;
      return { type: 'repository', name: r.name, actions: ACTIONS.filter((a) => r.actions.includes(a) && actions.has(a)) };
    });
  }

  /**
   * Why a `/v2` request for `requested` on `name` is refused, or null when the caller's credential covers it. A
   * registry token is held to the access it was issued with (no entry for `name`: fetch a token for it); an access
   * token sent as Basic on `/v2` to what its subject may do now. No credential at all: log in.
   */
  async registryRefusal(caller: Caller, name: string, requested: readonly Action[]): Promise<Refusal | null> {
    if (caller.via === 'anonymous' || caller.via === 'session') return { kind: 'login' };
    if (caller.via === 'bot') {
      // Public packages stay pullable (as anonymous); anything else is told in terms of the bot's own grant.
      if (requested.every((a) => botActions(caller.bot, name).has(a))) return null;
      return botRefusal(caller.bot, name, requested, [...(await this.#callerActions(caller, [name])).get(name)!]);
    }
    if (caller.via === 'oidc') {
      const granted = (await this.#callerActions(caller, [name])).get(name)!;
      const missing = requested.filter((a) => !granted.has(a));
      if (missing.length === 0) return null;
      // Only the policies' own packages are named: nothing is said of whether `name` exists.
      return {
        kind: 'denied',
        message: `permission_denied: the trust policies this ID token meets do not grant ${missing.join(', ')} on ${name}`
          + ' (a trust policy names the packages and actions: berth trust list ORG)',
      };
    }
    let now: { actions: Set<Action>; exists: boolean } | null = null;
    let granted: readonly Action[];
    if (caller.via === 'registry-token') {
      const entry = caller.access.find((e) => e.name === name);
      if (!entry) return { kind: 'login' };
      granted = entry.actions;
      // A bot's registry token lacks what its grant lacks: say so (a new token would not help).
      if (caller.bot) return botRefusal(caller.bot, name, requested, granted);
    } else {
      now = await this.packageActions(caller.subject, name);
      granted = [...now.actions];
    }
    if (requested.every((a) => granted.includes(a))) return null;
    const { subject } = caller;
    if (subject.userId === null) return { kind: 'login' };
    now ??= await this.packageActions(subject, name);
    const namespace = await loadNamespace(this.#db, subject.userId, name.slice(0, name.indexOf('/')));
    return refusal({
      name, requested, granted, login: caller.login, scopes: subject.scopes, repositoryLimit: subject.repositoryLimit,
      allowed: now.actions, exists: now.exists, namespace,
    });
  }

  /** For mounts and the catalog: may the caller pull `name`? */
  async canPull(caller: Caller, name: string): Promise<boolean> {
    if (caller.via === 'registry-token' && caller.access.some((e) => e.name === name && e.actions.includes('pull'))) return true;
    return (await this.#callerActions(caller, [name])).get(name)!.has('pull');
  }

  /**
   * What the caller may do with `name` now: its subject's rights (a bot's grant among them), and for an OIDC ID token
   * (no user, no scopes: as anonymous, so public packages stay pullable) also what the trust policies it meets give
   * on their packages.
   */
  async #callerActions(caller: Caller, names: readonly string[]): Promise<Map<string, Set<Action>>> {
    const out = new Map<string, Set<Action>>();
    for (const [name, { actions }] of await this.#packagesActions(caller.subject, names)) {
      if (caller.via === 'oidc') for (const a of trustedActions(caller.trust.policies, name)) actions.add(a);
      out.set(name, actions);
    }
    return out;
  }

  /** The user's role in the organization, or null when they are not a member. */
  async orgRole(userId: number, orgId: number): Promise<'owner' | 'member' | null> {
    const row = await this.#db.selectFrom('orgMembers').select('role').where('orgId', '=', orgId).where('userId', '=', userId).executeTakeFirst();
    return row?.role ?? null;
  }

  /**
   * Who administers a namespace (its settings, usage, members, teams and package policy): for an organization its
   * owners, for a user that user; instance admins everywhere.
   */
  async administers(user: AccountRef, namespace: AccountRef): Promise<boolean> {
    if (user.isAdmin) return true;
    if (namespace.type === 'user') return namespace.id === user.id;
    return (await this.orgRole(user.id, namespace.id)) === 'owner';
  }

  /**
   * The organization's visibility policy: a package admin who does not administer the owning organization chooses
   * only among the visibilities the organization allows (as on GitHub); its owners and instance admins (and operators
   * through the CLI) choose any.
   */
  async visibilityLimitedByOrg(user: AccountRef, namespace: AccountRef): Promise<boolean> {
    return namespace.type === 'org' && !(await this.administers(user, namespace));
  }
}
