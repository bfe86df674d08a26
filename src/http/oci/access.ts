import type { FastifyRequest } from 'fastify';
import type { Action } from '../../auth/actions.js';
import { ANONYMOUS, isCaller, type Caller, type CredentialResolver } from '../../auth/credentials.js';
import type { Policy } from '../../auth/policy.js';
import { denied, nameUnknown, tooManyRequests, unauthorized } from '../../oci/errors.js';
import type { RepoName } from '../../oci/names.js';
import { challenge } from './challenge.js';
import { serviceName } from './public-url.js';

export type { Action };

/**
 * Decides, per request, what the caller may do. Every /v2 handler goes through it before touching a repository,
 * and cross-repository mounts ask it whether the source may be read.
 */
export interface AccessControl {
  /** `GET /v2/`: may this client use the registry at all? Throws UNAUTHORIZED with a challenge otherwise. */
  requireLogin(request: FastifyRequest): Promise<void>;
  /** Throws UNAUTHORIZED / DENIED / NAME_UNKNOWN unless every action is allowed on `name`. */
  require(request: FastifyRequest, name: RepoName, actions: readonly Action[]): Promise<void>;
  /** The signed-in user behind the request (null when anonymous): a first push makes them the package's creator. */
  userId(request: FastifyRequest): Promise<number | null>;
  /** For mounts and the catalog: may the caller read `name`? Never throws for a plain "no". */
  canRead(request: FastifyRequest, name: RepoName): Promise<boolean>;
}

export interface OciAccessDeps {
  readonly credentials: CredentialResolver;
  readonly policy: Policy;
  readonly publicUrl: string | null;
}

/**
 * `/v2`'s access control: the caller comes from the credential resolver (a registry token from `/token` as Bearer,
 * or `Basic user:TOKEN` so curl and scripts can skip the token dance), the decision from the policy; this class only
 * turns a refusal into the OCI answer, as ghcr.io gives it: UNAUTHORIZED + challenge without usable credentials,
 * DENIED "permission_denied: …" for a known identity without the right, NAME_UNKNOWN for a private package the
 * caller may not read (auth/refusal.ts).
 */
export class OciAccess implements AccessControl {
  readonly #deps: OciAccessDeps;
  readonly #callers = new WeakMap<FastifyRequest, Promise<Caller | null>>();

  constructor(deps: OciAccessDeps) {
    this.#deps = deps;
  }

  async requireLogin(request: FastifyRequest): Promise<void> {
    if (!(await this.#callerOf(request))) throw unauthorized('authentication required', challenge(this.#deps.publicUrl, request));
  }

  async require(request: FastifyRequest, name: RepoName, actions: readonly Action[]): Promise<void> {
    const caller = await this.#callerOf(request) ?? ANONYMOUS;
    const refused = await this.#deps.policy.registryRefusal(caller, name, actions);
    if (!refused) return;
    if (refused.kind === 'login') {
      const scope = `repository:${name}:${actions.join(',')}`;
      throw unauthorized('authentication required', challenge(this.#deps.publicUrl, request, scope));
    }
    if (refused.kind === 'unknown') throw nameUnknown(name);
    throw denied(refused.message);
  }

  async userId(request: FastifyRequest): Promise<number | null> {
    return (await this.#callerOf(request))?.subject.userId ?? null;
  }

  async canRead(request: FastifyRequest, name: RepoName): Promise<boolean> {
    return this.#deps.policy.canPull(await this.#callerOf(request) ?? ANONYMOUS, name);
  }

  /** The request's caller, once per request; null without usable credentials (none, or refused ones). */
  #callerOf(request: FastifyRequest): Promise<Caller | null> {
    let caller = this.#callers.get(request);
    if (!caller) {
      caller = this.#resolve(request);
      this.#callers.set(request, caller);
    }
    return caller;
  }

  async #resolve(request: FastifyRequest): Promise<Caller | null> {
    const resolved = await this.#deps.credentials.resolve(
      { authorization: request.headers.authorization, address: request.ip },
      { bearer: { registryAudience: serviceName(request, this.#deps.publicUrl) }, basic: true, limitFailures: true },
    );
    if (isCaller(resolved)) return resolved.via === 'anonymous' ? null : resolved;
    if (resolved.retryAfter > 0) throw tooManyRequests(resolved.retryAfter);
    return null;
  }
}
