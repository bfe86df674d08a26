import type { Account } from '../../accounts/account-service.js';
import type { GithubDeps, RequestContext } from './github-context.js';
import { param } from './github-context.js';
import { notFound, requiresAuthentication } from './github-errors.js';

/**
 * The three forms GitHub gives every package endpoint: an organization's (`/orgs/{org}`), the authenticated
 * user's (`/user`) and a named user's (`/users/{username}`). `docs` is the suffix of the docs anchors.
 */
export interface OwnerScope {
  readonly kind: 'org' | 'me' | 'user';
  /** Route prefix under /api. */
  readonly prefix: string;
  /** How GitHub's docs anchors end for this form: `for-an-organization`, … */
  readonly docs: string;
}

export const OWNER_SCOPES: readonly OwnerScope[] = [
  { kind: 'org', prefix: '/v3/orgs/:org', docs: 'for-an-organization' },
  { kind: 'me', prefix: '/v3/user', docs: 'for-the-authenticated-user' },
  { kind: 'user', prefix: '/v3/users/:username', docs: 'for-a-user' },
];

/** The account the route names: 404 when there is none of that kind (an org under /users is not found, and vice versa). */
export async function resolveOwner(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<Account> {
  if (scope.kind === 'me') {
    const identity = ctx.caller.identity;
    if (!identity) throw requiresAuthentication();
    const me = await deps.accounts.findById(identity.userId);
    if (!me) throw requiresAuthentication();
    return me;
  }
  const account = await deps.accounts.find(param(ctx.request, scope.kind === 'org' ? 'org' : 'username'));
  if (!account || account.type !== (scope.kind === 'org' ? 'org' : 'user')) throw notFound();
  return account;
}
