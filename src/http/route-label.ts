import type { FastifyRequest } from 'fastify';

/**
 * The route template a request is logged and measured under. /v2 matches one wildcard route, so its handler
 * names the spec endpoint (`/v2/<name>/manifests/<reference>`) instead; never the raw URL, which holds names.
 */
const labels = new WeakMap<FastifyRequest, string>();

export function setRouteLabel(request: FastifyRequest, label: string): void {
  labels.set(request, label);
}

export function routeLabel(request: FastifyRequest): string {
  return labels.get(request) ?? request.routeOptions.url ?? 'unmatched';
}
