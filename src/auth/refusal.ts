import type { Action } from './actions.js';
import type { Namespace, Scope } from './permissions.js';

/** What a /v2 request asked for, what its credential grants, and what the permission model says now. */
export interface RefusalFacts {
  readonly name: string;
  readonly requested: readonly Action[];
  /** The actions the credential (the registry token's entry for `name`) grants. */
  readonly granted: readonly Action[];
  /** The user's login; null for an anonymous caller. */
  readonly login: string | null;
  readonly scopes: ReadonlySet<Scope>;
  readonly repositoryLimit: string | null;
  /** `allowedActions` for the subject now, and whether the package exists. */
  readonly allowed: ReadonlySet<Action>;
  readonly exists: boolean;
  /** The caller's standing in the package's namespace, when known: what a refused push to an unknown name blames. */
  readonly namespace?: Namespace;
}

/** How to refuse: ask to log in (401 + challenge), "no such repository" (404), or DENIED (403) with a message. */
export type Refusal = { readonly kind: 'login' } | { readonly kind: 'unknown' } | { readonly kind: 'denied'; readonly message: string };

const WHAT: Record<Action, string> = { pull: 'read_package', push: 'write_package', delete: 'delete_package' };

/**
 * Why a /v2 request is refused, in ghcr.io's words, or null when its credential grants every requested action.
 * A package the caller cannot read is answered exactly as one that does not exist: 404 for a read or delete, and
 * for a push one DENIED whose status, code and message do not depend on whether the package exists (a private
 * package of others, or a name in a namespace the caller may not create packages in) — the message says what to
 * check instead.
 */
export function refusal(f: RefusalFacts): Refusal | null {
  const missing = f.requested.filter((a) => !f.granted.includes(a));
  if (missing.length === 0) return null;
  if (f.login === null) return { kind: 'login' };
  if (!f.exists && !f.requested.includes('push')) return { kind: 'unknown' };
  // What the caller may know of: a package it can read, or a name it may create (whose absence is no secret).
  const known = f.exists ? f.granted.includes('pull') || f.allowed.has('pull') : f.allowed.has('push');
  if (!known) {
    if (!f.requested.includes('push')) return { kind: 'unknown' };
    // A push to a name the caller cannot read: the same answer whether it exists or not.
    if (f.repositoryLimit !== null && f.repositoryLimit !== f.name) {
      return { kind: 'denied', message: `permission_denied: write_package: this CI token is limited to ${f.repositoryLimit}` };
    }
    return { kind: 'denied', message: `permission_denied: write_package: ${unknownPush(f)}` };
  }
  const first = missing[0]!;
  return { kind: 'denied', message: `permission_denied: ${WHAT[first]}: ${hint(first, f)}` };
}

/**
 * Why a push to a name the caller cannot read is refused, naming the one thing to fix: the token's scope, the
 * namespace (none such, another user's), the membership of the organization, or its package-creation policy. Each
 * depends on the token and the namespace only, never on whether the package exists.
 */
function unknownPush(f: RefusalFacts): string {
  const owner = f.name.slice(0, f.name.indexOf('/'));
  if (!f.scopes.has('write:packages')) return 'the token lacks the write:packages scope; create a token with write:packages';
  const ns = f.namespace;
  switch (ns?.kind) {
    case 'missing':
      return `there is no user or organization named ${owner}; check the name (its first part is the namespace: your user name or an organization)`;
    case 'other-user':
      return `${owner} is another user's namespace; push to ${f.login}/… or an organization's, or ask ${owner} for the write role on ${f.name}`;
    case 'org':
      if (ns.role === null) {
        return `${f.login} is not a member of the organization ${owner}; ask an owner to add you (berth org add-member ${owner} ${f.login}, or the organization's settings page), or for the write role on ${f.name}`;
      }
      if (ns.role === 'member' && !ns.membersCanCreate) {
        return `${owner} lets only its owners create packages; ask an owner to create ${f.name} or to let members create packages `
          + `(berth org policy ${owner} --members-can-create yes, or the organization's settings page), or for the write role on ${f.name}`;
      }
  }
  return `you may not push to ${f.name}; check the name, that ${owner} is your user name or an organization that lets you create packages `
    + '(or that you have the write role on the package), and that the token has write:packages';
}

function hint(action: Action, f: RefusalFacts): string {
  const scope: Scope = action === 'pull' ? 'read:packages' : action === 'push' ? 'write:packages' : 'delete:packages';
  if (!f.scopes.has(scope)) return `the token lacks the ${scope} scope; create a token with ${scope}`;
  if (f.repositoryLimit) return `this CI token is limited to ${f.repositoryLimit}`;
  const role = action === 'delete' ? 'admin' : action === 'push' ? 'write' : 'read';
  return `${f.login} needs the ${role} role on this package; ask a package or organization admin`;
}
