import type { FastifyRequest } from 'fastify';
import { serviceName } from './public-url.js';

/** The `WWW-Authenticate` challenge of `/v2` and `/token`: where to get a registry token, for which service and scope. */
export function challenge(publicUrl: string | null, request: FastifyRequest, scope?: string): string {
  const base = publicUrl ?? `${request.protocol}://${request.host}`;
  return `Bearer realm="${base}/token",service="${serviceName(request, publicUrl)}"${scope ? `,scope="${scope}"` : ''}`;
}
