import type { Action } from './actions.js';
import { trustedActions, type PackageGrant } from './trust-policy.js';

export type Scope = 'read:packages' | 'write:packages' | 'delete:packages';
export const SCOPES: readonly Scope[] = ['read:packages', 'write:packages', 'delete:packages'];
export type Role = 'read' | 'write' | 'admin';
export type Visibility = 'public' | 'private' | 'internal';

/** Who is asking: an anonymous client, or a user through a token with scopes. */
export interface Subject {
  readonly userId: number | null;
  /** Effective scopes of the credential (`write:packages` implies `read:packages`). Empty for anonymous. */
  readonly scopes: ReadonlySet<Scope>;
  /** A CI token is limited to one repository name. */
  readonly repositoryLimit: string | null;
  /**
   * A bot's grant (auth/bot-grant.ts): actions on some packages of its organization, which it has whatever roles
   * and scopes say (it has neither: no user). Absent for everyone else.
   */
  readonly grant?: PackageGrant;
}

/** What is known about the package the subject asks for. */
export type Target =
  | { readonly exists: true; readonly name: string; readonly visibility: Visibility; readonly role: Role | null; readonly internalReader: boolean }
  | { readonly exists: false; readonly name: string; readonly canCreate: boolean };

/** The caller's standing in a namespace (auth/package-access.ts `loadNamespace`). */
export type Namespace =
  | { readonly kind: 'missing' | 'own' | 'other-user'; readonly login: string }
  | { readonly kind: 'org'; readonly login: string; readonly role: 'owner' | 'member' | null; readonly membersCanCreate: boolean };

const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };

export function atLeast(role: Role | null, wanted: Role): boolean {
  return role !== null && RANK[role] >= RANK[wanted];
}

export function maxRole(roles: Iterable<Role | null>): Role | null {
  let best: Role | null = null;
  for (const r of roles) if (r !== null && (best === null || RANK[r] > RANK[best])) best = r;
  return best;
}

/** Normalises a scope list: `write:packages` implies `read:packages`. */
export function effectiveScopes(scopes: Iterable<string>): Set<Scope> {
  const out = new Set<Scope>();
  for (const s of scopes) if ((SCOPES as readonly string[]).includes(s)) out.add(s as Scope);
  if (out.has('write:packages')) out.add('read:packages');
  return out;
}

/**
 * The one place that decides what a subject may do with a package (GHCR's model): the actions allowed are those
 * both the credential's scopes and the subject's role on the package permit. Public packages are readable by
 * anyone; internal ones by `internalReader`s (members); private ones need a role.
 */
export function allowedActions(subject: Subject, target: Target): Set<Action> {
  const allowed = roleActions(subject, target);
  if (subject.grant) for (const a of trustedActions([subject.grant], target.name)) allowed.add(a);
  return allowed;
}

/** What the subject's user may do through its roles, within its credential's scopes and limit. */
function roleActions(subject: Subject, target: Target): Set<Action> {
  const allowed = new Set<Action>();
  const signedIn = subject.userId !== null;
  const outOfLimit = subject.repositoryLimit !== null && subject.repositoryLimit !== target.name;
  if (!target.exists) {
    if (signedIn && !outOfLimit && subject.scopes.has('write:packages') && target.canCreate) {
      allowed.add('push').add('pull');
    }
    return allowed;
  }
  const canRead = subject.scopes.has('read:packages') && !outOfLimit;
  if (target.visibility === 'public') allowed.add('pull');
  else if (canRead && (atLeast(target.role, 'read') || (target.visibility === 'internal' && target.internalReader))) allowed.add('pull');
  if (outOfLimit) return allowed;
  if (subject.scopes.has('write:packages') && atLeast(target.role, 'write')) allowed.add('push').add('pull');
  if (subject.scopes.has('delete:packages') && canRead && atLeast(target.role, 'admin')) allowed.add('delete');
  return allowed;
}

/**
 * What GitHub's REST API lets a subject do with an existing package (classic-PAT scopes × package role, docs
 * "About permissions for GitHub Packages"): `read` (list/get) = pull; `delete` = admin + delete:packages;
 * `restore` = admin + write:packages. The endpoint's own scope check (X-Accepted-OAuth-Scopes) comes first.
 * A CI token pulls and pushes; it deletes or restores (through its creator's admin role) only when it carries
 * delete:packages, which it gets only when asked for at creation (`berth token create --allow-delete`).
 */
export type PackageOperation = 'read' | 'delete' | 'restore';

export function allowedOperations(subject: Subject, target: Target): Set<PackageOperation> {
  const out = new Set<PackageOperation>();
  if (!target.exists) return out;
  const actions = allowedActions(subject, target);
  if (actions.has('pull')) out.add('read');
  if (actions.has('delete')) out.add('delete');
  const outOfLimit = subject.repositoryLimit !== null && subject.repositoryLimit !== target.name;
  const ciWithoutDelete = subject.repositoryLimit !== null && !subject.scopes.has('delete:packages');
  if (out.has('read') && !outOfLimit && !ciWithoutDelete && subject.scopes.has('write:packages') && atLeast(target.role, 'admin')) out.add('restore');
  return out;
}
