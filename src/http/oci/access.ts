import { noteCaller } from '../request-facts.js';
import type { FastifyRequest } from 'fastify';
import type { Action } from '../../auth/actions.js';
import { ANONYMOUS, credentialHint, isCaller, type Caller, type CredentialRefusal, type CredentialResolver } from '../../auth/credentials.js';
import type { Subject } from '../../auth/permissions.js';
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
  /** For mounts: may the caller read `name`? Never throws for a plain "no". */
  canRead(request: FastifyRequest, name: RepoName): Promise<boolean>;
  /** Who the caller is for the permission model (anonymous when no usable credentials): the catalog filters by it. */
  subject(request: FastifyRequest): Promise<Subject>;
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
  readonly #callers = new WeakMap<FastifyRequest, Promise<Caller | CredentialRefusal>>();

  constructor(deps: OciAccessDeps) {
    this.#deps = deps;
  }

  async requireLogin(request: FastifyRequest): Promise<void> {
    const caller = await this.#callerOf(request);
    if (!isCaller(caller) || caller.via === 'anonymous') throw unauthorized(loginMessage(request, this.#deps.publicUrl, caller), challenge(this.#deps.publicUrl, request));
  }

  async require(request: FastifyRequest, name: RepoName, actions: readonly Action[]): Promise<void> {
    const resolved = await this.#callerOf(request);
    const caller = isCaller(resolved) ? resolved : ANONYMOUS;
    const refused = await this.#deps.policy.registryRefusal(caller, name, actions);
    if (!refused) return;
    if (refused.kind === 'login') {
      const scope = `repository:${name}:${actions.join(',')}`;
      throw unauthorized(loginMessage(request, this.#deps.publicUrl, resolved), challenge(this.#deps.publicUrl, request, scope));
    }
    if (refused.kind === 'unknown') throw nameUnknown(name);
    throw denied(refused.message);
  }

  async userId(request: FastifyRequest): Promise<number | null> {
    const caller = await this.#callerOf(request);
    return isCaller(caller) ? caller.subject.userId : null;
  }

  async canRead(request: FastifyRequest, name: RepoName): Promise<boolean> {
    const caller = await this.#callerOf(request);
    return this.#deps.policy.canPull(isCaller(caller) ? caller : ANONYMOUS, name);
  }

  async subject(request: FastifyRequest): Promise<Subject> {
    const caller = await this.#callerOf(request);
    return (isCaller(caller) ? caller : ANONYMOUS).subject;
  }

  /** The request's caller, resolved once per request, or why its credentials were refused. */
  #callerOf(request: FastifyRequest): Promise<Caller | CredentialRefusal> {
    let caller = this.#callers.get(request);
    if (!caller) {
      caller = this.#resolve(request);
      this.#callers.set(request, caller);
    }
    return caller;
  }

  async #resolve(request: FastifyRequest): Promise<Caller | CredentialRefusal> {
    const resolved = await this.#deps.credentials.resolve(
      { authorization: request.headers.authorization, address: request.ip },
      { bearer: { registryAudience: serviceName(request, this.#deps.publicUrl) }, basic: true, limitFailures: true },
    );
    noteCaller(request, resolved);
    if (!isCaller(resolved) && resolved.retryAfter > 0) throw tooManyRequests(resolved.retryAfter);
    return resolved;
  }
}

/**
 * The message of a 401: why the credentials were refused, or, for a client that has none (no header, or an anonymous
 * registry token), the command that gets some. Clients show it (`docker pull`, skopeo); the challenge does the rest.
 */
function loginMessage(request: FastifyRequest, publicUrl: string | null, resolved: Caller | CredentialRefusal): string {
  if (!isCaller(resolved)) return credentialHint(resolved);
  if (resolved.subject.userId !== null) return 'authentication required';
  return `authentication required: log in with docker login ${serviceName(request, publicUrl)}`;
}
