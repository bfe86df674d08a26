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
    const owner = f.name.slice(0, f.name.indexOf('/'));
    return {
      kind: 'denied',
      message: `permission_denied: write_package: you may not push to ${f.name}; check the name, that ${owner} is your user name or an `
        + 'organization that lets you create packages (or that you have the write role on the package), and that the token has write:packages',
    };
  }
  const first = missing[0]!;
  return { kind: 'denied', message: `permission_denied: ${WHAT[first]}: ${hint(first, f)}` };
}

function hint(action: Action, f: RefusalFacts): string {
  const scope: Scope = action === 'pull' ? 'read:packages' : action === 'push' ? 'write:packages' : 'delete:packages';
  if (!f.scopes.has(scope)) return `the token lacks the ${scope} scope; create a token with ${scope}`;
  if (f.repositoryLimit) return `this CI token is limited to ${f.repositoryLimit}`;
  const role = action === 'delete' ? 'admin' : action === 'push' ? 'write' : 'read';
  return `${f.login} needs the ${role} role on this package; ask a package or organization admin`;
}
