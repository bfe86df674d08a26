import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MirrorService } from '../../mirror/mirror-service.js';
import type { Registry } from '../../registry/registry.js';
import type { AccessControl } from './access.js';

export interface OciDeps {
  readonly registry: Registry;
  readonly access: AccessControl;
  /** Pull-through caches (mirror.upstreams and those admins add). */
  readonly mirror: MirrorService;
  readonly limits: {
    readonly manifestMaxBytes: number;
    readonly tagsPageSize: number;
    readonly tagsPageMax: number;
    readonly chunkMinLength: number;
  };
}

export type OciHandler<R> = (deps: OciDeps, route: R, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** True when the request carries a body (a length > 0, or chunked transfer encoding). */
export function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return request.headers['transfer-encoding'] !== undefined;
}

export function query(request: FastifyRequest, key: string): string | undefined {
  const value = (request.query as Record<string, string | string[] | undefined>)[key];
  return Array.isArray(value) ? value[0] : value;
}
