import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { requestLineWriter, type Logger } from '../observability/logger.js';
import type { OciDeps } from './oci/context.js';
import { BerthError, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../util/errors.js';
import { ConnectionGuard, type ConnectionLimits } from './connection-guard.js';
import type { GithubDeps } from './github/github-context.js';
import { githubApi } from './github/github-api.js';
import { clientError, DOCS_ROOT, sendGithubError } from './github/github-errors.js';
import { ociApi } from './oci/oci-api.js';
import { sendOciError } from './oci/oci-errors.js';
import { tokenEndpoint, type TokenEndpointDeps } from './oci/token-endpoint.js';
import { registerMetrics, type MetricsExposure } from './metrics-endpoint.js';
import { routeLabel } from './route-label.js';
import type { AuditLog } from '../audit/audit-log.js';
import { auditScope, requestFacts } from './request-facts.js';
import type { UiDeps } from './ui/ui-context.js';
import { sendBareErrorPage, uiPlugin } from './ui/ui-plugin.js';

export interface ServerDeps {
  readonly log: Logger;
  /** Audit records written while a request is served name its actor, address and User-Agent. */
  readonly audit: AuditLog;
  readonly oci: OciDeps;
  readonly token: TokenEndpointDeps;
  readonly github: GithubDeps;
  /** The server-rendered web UI at the site root. */
  readonly ui: UiDeps;
  /** Readiness: resolves when the database answers. */
  readonly ready: () => Promise<void>;
  /** Conditions an operator should look at that do not stop serving (low disk space), for /healthz. */
  readonly warnings: () => Promise<readonly HealthWarning[]>;
  /**
   * PEM certificate and key: serve HTTPS (gh talks to enterprise hosts over https only). `besideHttp`: the app
   * serves plain HTTP and a second server HTTPS, both from the same routes (config `server.tls.port`).
   */
  readonly tls: { readonly cert: Buffer; readonly key: Buffer; readonly besideHttp: boolean } | null;
  /**
   * Reverse proxies whose X-Forwarded-Proto/Host/For Fastify believes (its `trustProxy`: addresses and CIDRs);
   * empty: none, the socket's own address and the Host header count.
   */
  readonly trustedProxies: readonly string[];
  /** Timeouts and the per-client connection cap (src/http/connection-guard.ts). */
  readonly connections: ConnectionLimits;
  /** Request metrics, and /metrics on this port when a token is configured; null: no metrics are kept. */
  readonly metrics: MetricsExposure | null;
}

export interface HealthWarning {
  readonly check: string;
  readonly message: string;
}

export interface BuiltServer {
  readonly app: FastifyInstance;
  /** With `tls.besideHttp`: the HTTPS server handing its requests to `app` (the caller listens on it); else null. */
  readonly https: HttpsServer | null;
}

/** Builds the HTTP server: one encapsulated plugin per API surface, plus health endpoints. */
export function buildServer(deps: ServerDeps): BuiltServer {
  const guard = new ConnectionGuard({ limits: deps.connections, trustedProxies: deps.trustedProxies, log: deps.log });
  const httpsOnly = deps.tls !== null && !deps.tls.besideHttp;
  // Fastify's types make an HTTPS instance a different type; every route and hook here works the same on both.
  const app = Fastify({
    ...(deps.tls && httpsOnly ? { https: { cert: deps.tls.cert, key: deps.tls.key, ...guard.serverOptions() } } : { http: guard.serverOptions() }),
    trustProxy: deps.trustedProxies.length > 0 ? [...deps.trustedProxies] : false,
    loggerInstance: deps.log as FastifyBaseLogger,
    // Fastify's own request lines are replaced by the single line per request below.
    logController: new LogController({ disableRequestLogging: true }),
    // The guard does the timeouts Node's cannot (a total for request bodies that spares uploads, idle time spent
    // waiting on the client only); Node's socket timeout would also fire while Berth itself works.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 75_000,
    // Broken HTTP (a body shorter or longer than its Content-Length, bad framing) answered in the surface's shape.
    clientErrorHandler: (error, socket) => guard.onClientError(error, socket),
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
      if (/^\/api(\/|\?|$)/.test(request.url) && status < 500) {
        return sendGithubError(reply, clientError(status, status === 404 ? 'Not Found' : error.message), DOCS_ROOT);
      }
      if (status < 500) return sendBareErrorPage(reply as FastifyReply, status);
      return (reply as FastifyReply).code(status).send(error);
    },
  }) as unknown as FastifyInstance;

  guard.attach(app, httpsOnly ? 'secureConnection' : 'connection');
  const https = deps.tls?.besideHttp ? httpsBeside(app, guard, deps.tls) : null;

  // Browsers must not second-guess a Content-Type (a blob served as octet-stream is never run as a page), and once
  // they reached Berth over HTTPS (directly, or through a trusted proxy that says so) they must never use plain HTTP.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    if (request.protocol === 'https') reply.header('Strict-Transport-Security', 'max-age=31536000');
  });

  // The audit scope of the request, entered before any handler (and after body parsing, whose stream events run
  // outside the request's async context): services called from here on record its actor, address and User-Agent.
  // The surfaces fill in the actor when they resolve the credentials (request-facts.ts noteCaller), before or after.
  app.addHook('preHandler', (request, _reply, done) => {
    deps.audit.run(auditScope(request), done);
  });

  // One line per request: method, route template (never the raw URL with its tokens), status, time, bytes, and
  // the caller as request-facts.ts names it (login, token id, never a credential). Written by requestLineWriter,
  // which skips pino's serialization and redaction: they were most of what logging cost a manifest GET (`npm run
  // bench`). A callback hook, not an async one: no promise per request.
  const writeRequestLine = requestLineWriter(deps.log);
  app.addHook('onResponse', (request, reply, done) => {
    writeRequestLine({
      reqId: request.id,
      method: request.method,
      route: routeLabel(request),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      bytesIn: Number(request.headers['content-length'] ?? 0),
      bytesOut: Number(reply.getHeader('content-length') ?? 0),
      ...requestFacts(request),
    });
    done();
  });
  if (deps.metrics) registerMetrics(app, deps.metrics);

  // Readiness (load balancers, Kubernetes): 503 while the database does not answer, so traffic goes elsewhere;
  // liveness stays 200, since the process recovers by itself when the database is back. Low disk space is a warning,
  // not a failure: failing readiness would take every replica (all on the same full volume) out of the load balancer
  // at once, and reads still work when writes no longer do.
  app.get('/healthz', async (_request, reply) => {
    try {
      await deps.ready();
    } catch {
      return reply.code(503).header('Retry-After', UNAVAILABLE_RETRY_AFTER_SECONDS).send({ status: 'unavailable', reason: 'the database does not answer' });
    }
    const warnings = await deps.warnings();
    return reply.send(warnings.length > 0 ? { status: 'ok', warnings } : { status: 'ok' });
  });
  app.get('/livez', async (_request, reply) => reply.send({ status: 'ok' }));

  // Each surface under its own prefix, so each one's not-found handler answers only for its own paths.
  void app.register(ociApi(deps.oci), { prefix: '/v2' });
  void app.register(githubApi(deps.github), { prefix: '/api' });
  void app.register(tokenEndpoint(deps.token));
  // The web UI at the root: its not-found handler answers every path no other surface claims, as an HTML page.
  void app.register(uiPlugin(deps.ui));
  return { app, https };
}

/**
 * HTTPS beside the app's plain HTTP, from one process: `gh` needs https on 443 while docker on a trusted network
 * uses HTTP. Requests go through `app.routing`, so every route, hook and error handler is the same; a request's
 * protocol (HSTS, Secure cookies, URLs) follows its socket. The guard watches its connections too, and the app's
 * close closes it (idle keep-alive connections at once, as Fastify does with its own).
 */
function httpsBeside(app: FastifyInstance, guard: ConnectionGuard, tls: { cert: Buffer; key: Buffer }): HttpsServer {
  const server = createHttpsServer({ cert: tls.cert, key: tls.key, ...guard.serverOptions() }, (req, res) => app.routing(req, res));
  server.keepAliveTimeout = 75_000;
  server.on('clientError', (error, socket) => guard.onClientError(error, socket as Parameters<ConnectionGuard['onClientError']>[1]));
  guard.watch(server, 'secureConnection');
  app.addHook('onClose', async () => {
    if (!server.listening) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  });
  return server;
}
