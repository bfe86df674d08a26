import type { FastifyRequest } from 'fastify';
import type { TokenService } from '../../accounts/token-service.js';
import type { Scope, Subject } from '../../auth/permissions.js';
import type { Caller, EndpointAccess, RequestContext } from './github-context.js';
import { missingScopes, requiresAuthentication } from './github-errors.js';

const ANONYMOUS: Caller = { identity: null, refusal: null };

/**
 * The caller behind `Authorization: Bearer <PAT>`, `token <PAT>` (what gh sends) or `Basic user:<PAT>` (curl -u),
 * as GitHub accepts them. Only personal access tokens and CI tokens are credentials here; anything else presented
 * is refused as bad credentials rather than silently treated as anonymous.
 */
export async function resolveCaller(tokens: TokenService, request: FastifyRequest): Promise<Caller> {
  const header = request.headers.authorization;
  if (header === undefined || header.trim() === '') return ANONYMOUS;
  let secret: string | null = null;
  const scheme = /^(Bearer|token)\s+(\S+)\s*$/i.exec(header);
  if (scheme) secret = scheme[2]!;
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (basic) {
    const text = Buffer.from(basic[1]!, 'base64').toString('utf8');
    secret = text.slice(text.indexOf(':') + 1);
  }
  if (secret === null) return { identity: null, refusal: 'malformed' };
  const identity = await tokens.authenticate(secret);
  return typeof identity === 'string' ? { identity: null, refusal: identity } : { identity, refusal: null };
}

export function subjectOf(caller: Caller): Subject {
  const id = caller.identity;
  return id ? { userId: id.userId, scopes: id.scopes, repositoryLimit: id.repositoryLimit } : { userId: null, scopes: new Set(), repositoryLimit: null };
}

/** Throws 401 unless signed in, and 403 when the token lacks a scope the endpoint needs. */
export function checkAccess(ctx: RequestContext, access: EndpointAccess, what: string): void {
  if (access === 'public') return;
  const identity = ctx.caller.identity;
  if (!identity) throw requiresAuthentication();
  if (access === 'user') return;
  if (access.some((s) => !identity.scopes.has(s))) throw missingScopes(access, what);
}

/**
 * `X-OAuth-Scopes`: the token's scopes, normalised as GitHub does (a scope implied by another is dropped:
 * `write:packages` implies `read:packages`).
 */
export function scopesHeader(scopes: ReadonlySet<Scope>): string {
  const out = [...scopes].filter((s) => !(s === 'read:packages' && scopes.has('write:packages')));
  return out.sort().join(', ');
}
