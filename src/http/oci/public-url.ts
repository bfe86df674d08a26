import type { FastifyRequest } from 'fastify';

/** The token `service` (and JWT audience): the public URL's host, or the host the client addressed. */
export function serviceName(request: FastifyRequest, publicUrl: string | null): string {
  return publicUrl ? new URL(publicUrl).host : request.host;
}
