import type { Endpoint, GithubDeps, RequestContext } from './github-context.js';
import { param } from './github-context.js';
import { notFound, requiresAuthentication } from './github-errors.js';
import { organization, rateLimitJson, rootJson, user } from './serializers.js';

/** The endpoints around the packages API that clients call: the root, users, organizations, rate limit, GraphQL. */
export function metaRoutes(): Endpoint[] {
  return [
    { method: 'GET', url: '/v3/', docs: 'https://docs.github.com/rest/meta/meta#github-api-root', access: 'public', handle: apiRoot },
    { method: 'GET', url: '/v3', docs: 'https://docs.github.com/rest/meta/meta#github-api-root', access: 'public', handle: apiRoot },
    { method: 'GET', url: '/v3/user', docs: 'https://docs.github.com/rest/users/users#get-the-authenticated-user', access: 'user', handle: getAuthenticatedUser },
    { method: 'GET', url: '/v3/users/:username', docs: 'https://docs.github.com/rest/users/users#get-a-user', access: 'public', handle: getUser },
    { method: 'GET', url: '/v3/orgs/:org', docs: 'https://docs.github.com/rest/orgs/orgs#get-an-organization', access: 'public', handle: getOrganization },
    { method: 'GET', url: '/v3/rate_limit', docs: 'https://docs.github.com/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user', access: 'public', handle: getRateLimit },
    { method: 'POST', url: '/graphql', docs: 'https://docs.github.com/graphql', access: 'user', handle: graphql },
  ];
}

/**
 * GET /api/v3/ — "GitHub API Root". `gh auth login` calls it first and reads `X-OAuth-Scopes`; the API plugin
 * leaves that header off here (see README "GitHub REST API"), so gh accepts a Berth token like an integration's.
 */
async function apiRoot(_deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  return ctx.reply.send(rootJson(ctx.urls));
}

/** GET /user — "Get the authenticated user". */
async function getAuthenticatedUser(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const me = await deps.accounts.findById(ctx.caller.identity!.userId);
  if (!me) throw requiresAuthentication();
  return ctx.reply.send(user(me, ctx.urls, me.id));
}

/** GET /users/{username} — "Get a user"; organizations answer too, with `type: Organization`, as on GitHub. */
async function getUser(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const account = await deps.accounts.find(param(ctx.request, 'username'));
  if (!account) throw notFound();
  return ctx.reply.send(user(account, ctx.urls, ctx.caller.identity?.userId ?? null));
}

/** GET /orgs/{org} — "Get an organization". */
async function getOrganization(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const account = await deps.accounts.find(param(ctx.request, 'org'));
  if (!account || account.type !== 'org') throw notFound();
  return ctx.reply.send(organization(account, ctx.urls));
}

/** GET /rate_limit — "Get rate limit status"; not counted against the limit. */
async function getRateLimit(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const identity = ctx.caller.identity;
  const key = identity ? `token:${identity.tokenId}` : `ip:${ctx.request.ip}`;
  const limit = identity ? deps.rateLimits.authenticated : deps.rateLimits.anonymous;
  const now = deps.clock.now();
  return ctx.reply.send(rateLimitJson(
    deps.rateLimiter.peek(key, 'core', limit, now), deps.rateLimiter.peek(key, 'graphql', limit, now),
  ));
}

/**
 * POST /api/graphql — only `query { viewer { login } }`, which `gh auth login` and `gh auth status` send to learn
 * the user name. Anything else gets a GraphQL error (status 200, as GitHub answers queries it cannot run).
 */
async function graphql(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const body = ctx.request.body as { query?: unknown } | undefined;
  const query = typeof body?.query === 'string' ? body.query : '';
  if (/^\s*(?:query\b[^{]*)?\{\s*viewer\s*\{\s*login\s*\}\s*\}\s*$/.test(query)) {
    const me = await deps.accounts.findById(ctx.caller.identity!.userId);
    return ctx.reply.send({ data: { viewer: { login: me?.login ?? ctx.caller.identity!.login } } });
  }
  return ctx.reply.send({
    errors: [{ type: 'NOT_SUPPORTED', message: 'Berth answers only `query { viewer { login } }` over GraphQL; use the REST API under /api/v3.' }],
  });
}
