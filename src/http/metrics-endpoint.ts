import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { MetricsToken } from '../auth/metrics-token.js';
import type { Metrics, Surface } from '../observability/metrics.js';
import { routeLabel } from './route-label.js';

/** Where /metrics is served (config `metrics.*`). */
export interface MetricsExposure {
  readonly metrics: Metrics;
  /** Bearer token for /metrics on the main port; null: /metrics is not served there. */
  readonly token: string | null;
}

/** The API surface a request belongs to, from its path. */
export function surfaceOf(url: string): Surface {
  if (url.startsWith('/v2/') || url === '/v2' || url.startsWith('/v2?') || url.startsWith('/token')) return 'oci';
  if (url.startsWith('/api/') || url === '/api') return 'github';
  if (url.startsWith('/healthz') || url.startsWith('/livez') || url.startsWith('/metrics')) return 'other';
  return 'ui';
}

/**
 * Bytes on the wire per request: what the socket read and wrote since the previous request on it ended (HTTP/1.1
 * runs one request at a time per connection). Counting the socket, not Content-Length, includes headers and chunked
 * upload bodies, and needs no listener on the body stream.
 */
const seen = new WeakMap<object, { read: number; written: number }>();

/** Records every response in `metrics`, and serves /metrics behind the bearer token when one is configured. */
export function registerMetrics(app: FastifyInstance, exposure: MetricsExposure): void {
  const { metrics } = exposure;
  app.addHook('onResponse', async (request, reply) => {
    const socket = request.raw.socket;
    const before = seen.get(socket) ?? { read: 0, written: 0 };
    const now = { read: socket.bytesRead, written: socket.bytesWritten };
    seen.set(socket, now);
    metrics.observeRequest({
      surface: surfaceOf(request.url),
      route: routeLabel(request),
      method: request.method,
      status: reply.statusCode,
      seconds: reply.elapsedTime / 1000,
      bytesIn: now.read - before.read,
      bytesOut: now.written - before.written,
    });
  });

  if (exposure.token === null) return;
  const token = new MetricsToken(exposure.token);
  app.get('/metrics', async (request, reply) => {
    if (!token.accepts(request.headers)) {
      return reply.code(401).header('WWW-Authenticate', 'Bearer realm="metrics"').type('text/plain; charset=utf-8')
        .send('401 Unauthorized: /metrics needs "Authorization: Bearer <metrics.token>"\n');
    }
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).header('Cache-Control', 'no-store').send(body);
  });
}

/**
 * /metrics on an address of its own (config `metrics.listen`, e.g. 127.0.0.1:9464 or a cluster-internal interface),
 * without a token: what reaches that address decides who may scrape. Anything but GET /metrics is 404.
 */
export async function listenForMetrics(metrics: Metrics, address: { host: string; port: number }): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?', 1)[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 Not Found: only GET /metrics is served here\n');
      return;
    }
    metrics.render().then(({ contentType, body }) => {
      res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' }).end(body);
    }, () => {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('500: the metrics could not be collected\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
