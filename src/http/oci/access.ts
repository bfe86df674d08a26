import type { FastifyRequest } from 'fastify';
import type { RepoName } from '../../oci/names.js';

import type { Action } from '../../auth/actions.js';
import type { Subject } from '../../auth/permissions.js';

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
