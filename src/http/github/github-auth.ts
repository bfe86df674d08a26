import { noteCaller } from '../request-facts.js';
import type { FastifyRequest } from 'fastify';
import { ANONYMOUS, isCaller, type CredentialResolver } from '../../auth/credentials.js';
import type { Scope } from '../../auth/permissions.js';
import type { Caller, EndpointAccess, RequestContext } from './github-context.js';
import { BerthError } from '../../util/errors.js';
import { missingScopes, requiresAuthentication } from './github-errors.js';

/**
 * The caller behind `Authorization: Bearer <PAT>`, `token <PAT>` (what gh sends) or `Basic user:<PAT>` (curl -u),
 * as GitHub accepts them, from the credential resolver. Only personal access tokens and CI tokens are credentials
 * here; anything else presented is refused as bad credentials rather than silently treated as anonymous.
 */
export async function resolveCaller(credentials: CredentialResolver, request: FastifyRequest): Promise<Caller> {
  const resolved = await credentials.resolve(
    { authorization: request.headers.authorization, address: request.ip }, { bearer: 'access-token', basic: true, strictScheme: true },
  );
  noteCaller(request, resolved);
  if (!isCaller(resolved)) return { identity: null, refusal: resolved.refused, subject: ANONYMOUS.subject, bot: null };
  // A bot reads its organization's packages its grant names (its subject carries the grant); it is nobody's identity.
  if (resolved.via === 'bot') return { identity: null, refusal: null, subject: resolved.subject, bot: resolved.login };
  if (resolved.via !== 'access-token') return { identity: null, refusal: null, subject: ANONYMOUS.subject, bot: null };
  const { subject } = resolved;
  return {
    identity: { tokenId: resolved.tokenId, userId: resolved.userId, login: resolved.login, scopes: subject.scopes, repositoryLimit: subject.repositoryLimit },
    refusal: null, subject, bot: null,
  };
}

/**
 * Throws 401 unless signed in, and 403 when the token lacks a scope the endpoint needs. A bot token passes only the
 * endpoints that read packages and versions (`bots`), where its grant decides what it sees; it changes nothing here.
 */
export function checkAccess(ctx: RequestContext, access: EndpointAccess, what: string, bots = false): void {
  if (access === 'public') return;
  const { bot } = ctx.caller;
  if (bot !== null) {
    if (bots) return;
    throw new BerthError({
      status: 403, code: 'BOT_READ_ONLY',
      message: `Bot ${bot} may only read packages through the REST API (it cannot ${what}); it pushes and deletes through the registry (/v2), as its grant allows.`,
    });
  }
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
