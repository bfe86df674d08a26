import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isBerthError, isStorageFull, storageFull, type BerthError } from '../../util/errors.js';
import { CREDENTIAL_HINTS } from '../../auth/credentials.js';
import { checkAccess, resolveCaller, scopesHeader } from './github-auth.js';
import { urlsFor, type Caller, type Endpoint, type GithubDeps } from './github-context.js';
import {
  badCredentials, clientError, DOCS_ROOT, notFound, problemsParsingJson, RATE_LIMIT_DOCS, RATE_LIMITED, rateLimited, sendGithubError,
  unsupportedApiVersion,
} from './github-errors.js';
import { auditRoutes } from './audit-routes.js';
import { hookRoutes } from './hook-routes.js';
import { lifecycleRoutes } from './lifecycle-routes.js';
import { trustRoutes } from './trust-routes.js';
import { botRoutes } from './bot-routes.js';
import { metaRoutes } from './meta-routes.js';
import { mirrorRoutes } from './mirror-routes.js';
import { packageRoutes } from './package-routes.js';
import type { RateLimitState } from './rate-limiter.js';
import { statsRoutes } from './stats-routes.js';
import { versionRoutes } from './version-routes.js';

/** `X-GitHub-Api-Version` values accepted (docs "API Versions"); none sent means 2022-11-28. */
const API_VERSIONS = ['2022-11-28', '2026-03-10'];

/**
 * GitHub's REST API for container packages under /api/v3 (GHES layout) and the sliver of GraphQL at /api/graphql
 * that gh needs, as one encapsulated Fastify plugin registered with prefix /api: its own JSON parser, auth and
 * rate-limit hook, and its own error and not-found handlers, so everything under /api answers in GitHub's shape.
 */
export function githubApi(deps: GithubDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const callers = new WeakMap<FastifyRequest, Caller>();
    const docsOf = new WeakMap<FastifyRequest, string>();

    // gh and curl may POST with a JSON Content-Type and no body (restore): that is no parse error.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_request, body, done) => {
      const text = (body as string).trim();
      if (text === '') return done(null, undefined);
      try {
        done(null, JSON.parse(text));
      } catch {
        done(problemsParsingJson());
      }
    });

    // Every response under /api: who is calling, the rate-limit headers, then the refusals that apply to all routes.
    app.addHook('onRequest', async (request, reply) => {
      reply.header('X-GitHub-Media-Type', 'github.v3; format=json').header('X-GitHub-Request-Id', request.id);
      const caller = await resolveCaller(deps.credentials, request);
      callers.set(request, caller);
      const path = request.url.split('?', 1)[0]!;
      const identity = caller.identity;
      // Left off the root only: gh reads it there and wants `repo`+`read:org` whenever it is present.
      if (identity && path !== '/api/v3/' && path !== '/api/v3') reply.header('X-OAuth-Scopes', scopesHeader(identity.scopes));
      const key = identity ? `token:${identity.tokenId}` : `ip:${request.ip}`;
      const limit = identity ? deps.rateLimits.authenticated : deps.rateLimits.anonymous;
      const resource = path === '/api/graphql' ? 'graphql' : 'core';
      const now = deps.clock.now();
      const counted = path !== '/api/v3/rate_limit';
      const state = counted ? deps.rateLimiter.take(key, resource, limit, now) : { ...deps.rateLimiter.peek(key, resource, limit, now), allowed: true };
      rateLimitHeaders(reply, state);
      if (caller.refusal) throw badCredentials(caller.refusal === 'github-token' ? CREDENTIAL_HINTS['github-token'].replace(/^unauthenticated: /, '') : undefined);
      if (!state.allowed) {
        throw rateLimited(identity
          ? `API rate limit exceeded for user ID ${identity.userId}.`
          : `API rate limit exceeded for ${request.ip}. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)`);
      }
      const version = request.headers['x-github-api-version'];
      if (typeof version === 'string' && !API_VERSIONS.includes(version)) throw unsupportedApiVersion(version, API_VERSIONS);
    });

    const endpoints: Endpoint[] = [
      ...metaRoutes(), ...packageRoutes(), ...versionRoutes(), ...statsRoutes(), ...lifecycleRoutes(), ...hookRoutes(), ...auditRoutes(), ...trustRoutes(), ...botRoutes(), ...mirrorRoutes(),
    ];
    for (const endpoint of endpoints) {
      app.route({
        method: endpoint.method,
        url: endpoint.url,
        handler: async (request, reply) => {
          docsOf.set(request, endpoint.docs);
          if (endpoint.access !== 'public') reply.header('X-Accepted-OAuth-Scopes', endpoint.access === 'user' ? '' : [...endpoint.access].sort().join(', '));
          const ctx = { request, reply, caller: callers.get(request)!, urls: urlsFor(request, deps.publicUrl) };
          checkAccess(ctx, endpoint.access, endpoint.what ?? 'use this endpoint', endpoint.bots);
          return endpoint.handle(deps, ctx);
        },
      });
    }

    app.setNotFoundHandler((_request, reply) => {
      void sendGithubError(reply, notFound(), DOCS_ROOT);
    });
    app.setErrorHandler((error: FastifyError | Error, request, reply) => {
      const known = toBerthError(error);
      if (!known) {
        request.log.error({ err: error }, 'unexpected error in /api handler');
        return reply.code(500).type('application/json; charset=utf-8')
          .send(JSON.stringify({ message: 'Server Error', documentation_url: DOCS_ROOT, status: '500' }));
      }
      // A condition the operator must fix: logged with the original error (ENOSPC, SQLITE_FULL). An outage's 503s
      // are logged, throttled, where they are detected.
      if (isStorageFull(error)) request.log.error({ err: error }, known.message);
      const docs = known.code === RATE_LIMITED ? RATE_LIMIT_DOCS : docsOf.get(request) ?? DOCS_ROOT;
      return sendGithubError(reply, known, docs);
    });
  };
}

function rateLimitHeaders(reply: FastifyReply, state: RateLimitState): void {
  reply.header('X-RateLimit-Limit', state.limit)
    .header('X-RateLimit-Remaining', state.remaining)
    .header('X-RateLimit-Used', state.used)
    .header('X-RateLimit-Reset', state.reset)
    .header('X-RateLimit-Resource', state.resource);
}

/** Berth's own errors as they are; Fastify's client errors (body too large, bad Content-Type) with their status. */
function toBerthError(error: unknown): BerthError | null {
  if (isBerthError(error)) return error;
  if (isStorageFull(error)) return storageFull(error);
  const e = error as FastifyError;
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
      ? problemsParsingJson()
      : clientError(e.statusCode, e.message);
  }
  return null;
}
