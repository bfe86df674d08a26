import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from '../observability/logger.js';
import type { OciDeps } from './oci/context.js';
import { BerthError } from '../util/errors.js';
import { ociApi, sendOciError } from './oci/oci-api.js';
import { tokenEndpoint, type TokenEndpointDeps } from './oci/token-endpoint.js';
import { routeLabel } from './route-label.js';

export interface ServerDeps {
  readonly log: Logger;
  readonly oci: OciDeps;
  readonly token: TokenEndpointDeps;
  /** Readiness: resolves when the database answers. */
  readonly ready: () => Promise<void>;
}

/** Builds the HTTP server: one encapsulated plugin per API surface, plus health endpoints. */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // Fastify's own request lines are replaced by the single line per request below.
    logController: new LogController({ disableRequestLogging: true }),
    // Layer uploads can take long: no request or idle timeout cuts a push off (ghcr gives 10 minutes).
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 75_000,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 1024 },
    genReqId: () => crypto.randomUUID(),
    // Requests Fastify rejects before routing (a malformed percent-encoding, an over-long parameter) would otherwise
    // leave in Fastify's own JSON shape; under /v2 they must be OCI errors like everything else there.
    frameworkErrors: (error, request, reply) => {
      const status = error.statusCode ?? 500;
      if (/^\/v2(\/|\?|$)/.test(request.url) && status < 500) {
        reply.header('Docker-Distribution-API-Version', 'registry/2.0');
        return sendOciError(reply, new BerthError({ status, code: status === 404 ? 'NAME_UNKNOWN' : 'UNSUPPORTED', message: error.message }));
      }
      return (reply as FastifyReply).code(status).send(error);
    },
  });

  // One line per request: method, route template (never the raw URL with its tokens), status, time, bytes.
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({
      method: request.method,
      route: routeLabel(request),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      bytesIn: Number(request.headers['content-length'] ?? 0),
      bytesOut: Number(reply.getHeader('content-length') ?? 0),
    }, 'request');
  });

  app.get('/healthz', async (_request, reply) => {
    await deps.ready();
    return reply.send({ status: 'ok' });
  });
  app.get('/livez', async (_request, reply) => reply.send({ status: 'ok' }));

  void app.register(ociApi(deps.oci));
  void app.register(tokenEndpoint(deps.token));
  return app;
}
