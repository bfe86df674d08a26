import type { FastifyRequest } from 'fastify';
import type { RepoName } from '../../oci/names.js';

/** Docker token-auth actions (distribution: GET/HEAD pull, POST/PUT/PATCH push, DELETE delete). */
export type Action = 'pull' | 'push' | 'delete';

/**
 * Decides, per request, what the caller may do. Every /v2 handler goes through it before touching a repository,
 * and cross-repository mounts ask it whether the source may be read.
 */
export interface AccessControl {
  /** `GET /v2/`: may this client use the registry at all? Throws UNAUTHORIZED with a challenge otherwise. */
  requireLogin(request: FastifyRequest): Promise<void>;
  /** Throws UNAUTHORIZED / DENIED / NAME_UNKNOWN unless every action is allowed on `name`. */
  require(request: FastifyRequest, name: RepoName, actions: readonly Action[]): Promise<void>;
  /** For mounts and the catalog: may the caller read `name`? Never throws for a plain "no". */
  canRead(request: FastifyRequest, name: RepoName): Promise<boolean>;
}

/** A registry without accounts: every client may pull, push and delete (distribution's default without `auth`). */
export const openAccess: AccessControl = {
  requireLogin: async () => undefined,
  require: async () => undefined,
  canRead: async () => true,
};
