import type { FastifyRequest } from 'fastify';
import type { AuditScope } from '../audit/audit-log.js';
import { isCaller, type Caller, type CredentialRefusal } from '../auth/credentials.js';

/**
 * What the request log line says about who called and on what (issue 16): the actor (a login, never a secret), the
 * token id that proved it, and the repository. Each surface notes them where it learns them (the credential
 * resolver's answer, the parsed name); the onResponse hook writes them.
 */
export interface RequestFacts {
  actor?: string;
  tokenId?: number;
  /** How the caller proved who they are (`access-token`, `registry-token`, `session`, `anonymous`) or why not. */
  auth?: string;
  repository?: string;
}

const facts = new WeakMap<FastifyRequest, RequestFacts>();
const scopes = new WeakMap<FastifyRequest, AuditScope>();

/**
 * Who the audit records written while serving the request name (src/audit/): the client address (as trustProxy
 * resolved it), the User-Agent, and the actor once the credential resolver answered (`noteCaller`).
 */
export function auditScope(request: FastifyRequest): AuditScope {
  let scope = scopes.get(request);
  if (!scope) {
    const ua = request.headers['user-agent'];
    scope = { actorId: null, actorLogin: null, tokenId: null, address: request.ip ?? null, userAgent: typeof ua === 'string' ? ua : null };
    scopes.set(request, scope);
  }
  return scope;
}

export function noteRepository(request: FastifyRequest, repository: string): void {
  facts.set(request, { ...facts.get(request), repository });
}

/** Notes the credential resolver's answer for the request line. */
export function noteCaller(request: FastifyRequest, resolved: Caller | CredentialRefusal): void {
  const known = facts.get(request);
  if (!isCaller(resolved)) {
    facts.set(request, { ...known, auth: `refused:${resolved.refused}` });
    return;
  }
  const scope = auditScope(request);
  scope.actorId = resolved.subject.userId;
  scope.actorLogin = resolved.login;
  scope.tokenId = resolved.tokenId;
  facts.set(request, {
    ...known,
    auth: resolved.via,
    ...(resolved.login !== null ? { actor: resolved.login } : {}),
    ...(resolved.tokenId !== null ? { tokenId: resolved.tokenId } : {}),
  });
}

export function requestFacts(request: FastifyRequest): RequestFacts {
  const known = facts.get(request) ?? {};
  if (known.repository) return known;
  // GitHub's package routes name the package by owner and name.
  const params = request.params as { org?: string; username?: string; name?: string } | undefined;
  const owner = params?.org ?? params?.username ?? (request.url.startsWith('/api/v3/user/') ? known.actor : undefined);
  if (owner && params?.name && /\/packages\/:type\/:name/.test(request.routeOptions.url ?? '')) {
    return { ...known, repository: `${owner}/${params.name}`.toLowerCase() };
  }
  return known;
}
