import type { FastifyRequest } from 'fastify';
import type { TokenLiveness, TokenService } from '../../accounts/token-service.js';
import type { Action } from '../../auth/actions.js';
import type { Authorizer } from '../../auth/authorizer.js';
import { failureKeys, type FailureLimiter } from '../../auth/failure-limiter.js';
import { effectiveScopes, type Subject } from '../../auth/permissions.js';
import { refusal } from '../../auth/refusal.js';
import type { RegistryClaims, RegistryTokens } from '../../auth/registry-token.js';
import { denied, nameUnknown, tooManyRequests, unauthorized } from '../../oci/errors.js';
import type { RepoName } from '../../oci/names.js';
import type { RepositoryStore } from '../../registry/repositories.js';
import type { Clock } from '../../util/clock.js';
import type { AccessControl } from './access.js';
import { challenge } from './token-endpoint.js';
import { serviceName } from './public-url.js';

export interface TokenAccessDeps {
  readonly registryTokens: RegistryTokens;
  readonly tokens: TokenService;
  readonly liveness: TokenLiveness;
  readonly authorizer: Authorizer;
  readonly repos: RepositoryStore;
  readonly clock: Clock;
  readonly publicUrl: string | null;
  /** Failed Basic credentials on /v2 count against the client address, as /token's do. */
  readonly limiter: FailureLimiter;
}

/**
 * Access control for /v2 from Docker registry tokens (Bearer JWTs issued by /token). `Basic user:TOKEN` is also
 * accepted on /v2 itself, so curl and scripts can skip the token dance; clients that follow the Bearer challenge
 * never send it. Errors follow ghcr.io: UNAUTHORIZED + challenge without usable credentials, DENIED
 * "permission_denied: …" for a known identity without the right, NAME_UNKNOWN for a private package the caller
 * may not read; a push it may not make is answered alike whether the package exists or not (auth/refusal.ts).
 */
export class TokenAccess implements AccessControl {
  readonly #deps: TokenAccessDeps;
  readonly #claims = new WeakMap<FastifyRequest, Promise<RegistryClaims | null>>();

  constructor(deps: TokenAccessDeps) {
    this.#deps = deps;
  }

  async requireLogin(request: FastifyRequest): Promise<void> {
    if (!(await this.#claimsOf(request))) throw unauthorized('authentication required', challenge(this.#deps, request));
  }

  async require(request: FastifyRequest, name: RepoName, actions: readonly Action[]): Promise<void> {
    const claims = await this.#claimsOf(request);
    const scope = `repository:${name}:${actions.join(',')}`;
    const entry = claims?.access.find((e) => e.name === name);
    // No token, or a token for other repositories: ask the client to fetch one for this scope.
    if (!claims || !entry) throw unauthorized('authentication required', challenge(this.#deps, request, scope));
    if (actions.every((a) => entry.actions.includes(a))) return;
    const subject = subjectOf(claims);
    const { actions: allowed, exists } = claims.userId === null
      ? { actions: new Set<Action>(), exists: false }
      : await this.#deps.authorizer.allowed(subject, name);
    const refused = refusal({
      name, requested: actions, granted: entry.actions, login: claims.userId === null ? null : claims.subject,
      scopes: subject.scopes, repositoryLimit: claims.repositoryLimit, allowed, exists,
    });
    if (!refused) return;
    if (refused.kind === 'login') throw unauthorized('authentication required', challenge(this.#deps, request, scope));
    if (refused.kind === 'unknown') throw nameUnknown(name);
    throw denied(refused.message);
  }

  async userId(request: FastifyRequest): Promise<number | null> {
    return (await this.#claimsOf(request))?.userId ?? null;
  }

  async canRead(request: FastifyRequest, name: RepoName): Promise<boolean> {
    const claims = await this.#claimsOf(request);
    if (claims?.access.some((e) => e.name === name && e.actions.includes('pull'))) return true;
    return (await this.#deps.authorizer.allowed(await this.subject(request), name)).actions.has('pull');
  }

  async subject(request: FastifyRequest): Promise<Subject> {
    const claims = await this.#claimsOf(request);
    return claims ? subjectOf(claims) : { userId: null, scopes: new Set(), repositoryLimit: null };
  }

  #claimsOf(request: FastifyRequest): Promise<RegistryClaims | null> {
    let claims = this.#claims.get(request);
    if (!claims) {
      claims = this.#resolve(request);
      this.#claims.set(request, claims);
    }
    return claims;
  }

  async #resolve(request: FastifyRequest): Promise<RegistryClaims | null> {
    const header = request.headers.authorization ?? '';
    const now = this.#deps.clock.now();
    const bearer = /^Bearer\s+(\S+)$/i.exec(header);
    if (bearer) {
      const claims = await this.#deps.registryTokens.verify(bearer[1]!, serviceName(request, this.#deps.publicUrl), now);
      if (!claims) return null;
      if (claims.tokenId !== null && !(await this.#deps.liveness.isActive(claims.tokenId))) return null;
      return claims;
    }
    const basic = /^Basic\s+(\S+)$/i.exec(header);
    if (basic) {
      const text = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const identity = await this.#deps.tokens.authenticate(text.slice(text.indexOf(':') + 1));
      if (typeof identity === 'string') {
        const keys = failureKeys(request.ip);
        const wait = Math.max(...keys.map((k) => this.#deps.limiter.retryAfter(k, now)));
        for (const k of keys) this.#deps.limiter.fail(k, now);
        if (wait > 0) throw tooManyRequests(wait);
        return null;
      }
      // Basic carries no scope request: grant what the identity may do on the repository this request names.
      const name = repositoryOf(request.url);
      const subject: Subject = { userId: identity.userId, scopes: identity.scopes, repositoryLimit: identity.repositoryLimit };
      const access = name ? [{ type: 'repository' as const, name, actions: [...(await this.#deps.authorizer.allowed(subject, name)).actions] }] : [];
      return { subject: identity.login, userId: identity.userId, tokenId: identity.tokenId, access, scopes: [...identity.scopes], repositoryLimit: identity.repositoryLimit };
    }
    return null;
  }
}

function subjectOf(claims: RegistryClaims): Subject {
  return { userId: claims.userId, scopes: effectiveScopes(claims.scopes), repositoryLimit: claims.repositoryLimit };
}

/** The repository a /v2 path names, for Basic-authenticated requests. */
function repositoryOf(url: string): string | null {
  const path = url.split('?', 1)[0]!;
  const m = /^\/v2\/(.+?)\/(?:tags\/list|manifests\/[^/]+|blobs\/uploads\/?[^/]*|blobs\/[^/]+|referrers\/[^/]+)$/.exec(path);
  return m ? m[1]! : null;
}
