import type { IncomingMessage, Server as NodeServer, ServerOptions, ServerResponse } from 'node:http';
import { BlockList, isIPv6, type Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../observability/logger.js';
import {
  headersTimeout, headersTooLarge, requestInvalid, requestTimeout, sizeInvalid, tooManyConnections, uploadInvalid, uploadStalled,
} from '../oci/errors.js';
import type { BerthError } from '../util/errors.js';
import { rawErrorResponse } from './raw-error-response.js';

export interface ConnectionLimits {
  /** A request's headers must arrive within this (Node's `headersTimeout`). */
  readonly headersTimeoutMs: number;
  /** A request's body must arrive within this after its headers; blob upload bodies are exempt (`allowSlowBody`). */
  readonly requestTimeoutMs: number;
  /** Waiting this long on the client (an upload body that stopped arriving, a response it stopped reading) closes the connection. */
  readonly idleTimeoutMs: number;
  /** Open connections per client address; 0: no limit. Trusted proxies are exempt. */
  readonly maxConnectionsPerClient: number;
}

/** Requests whose body may take as long as it likes while it keeps moving: blob uploads (gigabytes on slow links). */
const slowBodies = new WeakSet<IncomingMessage>();

/** Exempts this request's body from the request timeout; the idle timeout still applies. */
export function allowSlowBody(request: FastifyRequest): void {
  slowBodies.add(request.raw);
}

/** One request on a connection and where it stands; progress is measured in socket bytes at each sweep. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly path: string;
  readonly startedAt: number;
  phase: 'receiving' | 'working' | 'sending';
  progressAt: number;
  read: number;
  sent: number;
}

interface Connection {
  /** The address counted against the cap; null when exempt. */
  readonly address: string | null;
  current: Exchange | null;
  /** An error response was written on the socket itself: never a second one. */
  answered: boolean;
}

/** Named ranges Fastify's `trustProxy` also understands. */
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * Berth's HTTP edge: the timeouts and the per-client connection cap that keep slow or stalled clients from holding
 * the server's connections and file descriptors, and the answers written on the socket itself when HTTP breaks.
 *
 * - headers: Node's `headersTimeout` (its own check runs as often as the sweep here).
 * - request bodies: received in full within `requestTimeoutMs` of the headers, or 408 and the connection closed.
 *   Blob uploads are exempt (a gigabyte layer on a slow link takes what it takes) and get the idle rule instead.
 * - idle: a connection on which Berth waits for the client — an upload body whose bytes stopped arriving, a response
 *   the client stopped reading — is closed after `idleTimeoutMs`. Time Berth itself spends (a digest check, a slow
 *   storage write that holds the body back) never counts: a body counts as stalled only when nothing is buffered
 *   for Berth to read, a response only while bytes wait in the socket for the client.
 *   Node's socket timeout is not used for this, since it would also fire while Berth works.
 * - connections: at most `maxConnectionsPerClient` open per client address; a request on a connection over the
 *   cap is answered 429 (in the surface's error shape, `Connection: close`), and the connection is closed within
 *   a few seconds even if it sends nothing. Trusted proxies are exempt: every client behind them shares their address.
 * One interval timer sweeps all connections; nothing is armed per chunk.
 */
export class ConnectionGuard {
  readonly #limits: ConnectionLimits;
  readonly #log: Logger;
  readonly #exempt: BlockList;
  readonly #connections = new Map<Socket, Connection>();
  readonly #perAddress = new Map<string, number>();
  readonly #overCap = new WeakSet<Socket>();
  readonly #warnedAt = new Map<string, number>();
  readonly #sweepMs: number;

  constructor(deps: { limits: ConnectionLimits; trustedProxies: readonly string[]; log: Logger }) {
    this.#limits = deps.limits;
    this.#log = deps.log.child({ module: 'http.edge' });
    this.#exempt = new BlockList();
    for (const entry of deps.trustedProxies.flatMap((p) => NAMED_RANGES[p] ?? [p])) addToBlockList(this.#exempt, entry);
    // Checks run a few times per shortest limit, at most once a second: a cut comes at most that late.
    const shortest = Math.min(deps.limits.headersTimeoutMs, deps.limits.requestTimeoutMs, deps.limits.idleTimeoutMs);
    this.#sweepMs = Math.max(50, Math.min(1000, Math.floor(shortest / 4)));
  }

  /** Options for Node's HTTP(S) server. Its own `requestTimeout` is off: it cannot spare upload bodies. */
  serverOptions(): ServerOptions & { handshakeTimeout: number } {
    return {
      headersTimeout: this.#limits.headersTimeoutMs,
      requestTimeout: 0,
      connectionsCheckingInterval: this.#sweepMs,
      // TLS: a handshake gets as long as headers would.
      handshakeTimeout: this.#limits.headersTimeoutMs,
    };
  }

  /**
   * Watches the server's connections: `connectionEvent` is the one its HTTP layer takes sockets from
   * (`secureConnection` under TLS, so a socket here is the one requests arrive on).
   */
  attach(app: FastifyInstance, connectionEvent: 'connection' | 'secureConnection'): void {
    this.watch(app.server, connectionEvent);
    app.addHook('onRequest', async (request) => {
      if (this.#overCap.has(request.raw.socket)) throw tooManyConnections(this.#limits.maxConnectionsPerClient);
    });
    const timer = setInterval(() => this.#sweep(), this.#sweepMs).unref();
    app.addHook('onClose', async () => clearInterval(timer));
  }

  /**
   * Watches one more server whose requests go to the app attached (`app.routing`): HTTPS beside the app's HTTP.
   * Its 'request' listener must come after the one handing requests to the app, as on the app's own server.
   */
  watch(server: NodeServer, connectionEvent: 'connection' | 'secureConnection'): void {
    server.on(connectionEvent, (socket: Socket) => this.#connected(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#request(req, res));
  }

  /**
   * Node's `clientError` (Fastify's `clientErrorHandler`): HTTP broke on a connection. Answered in the shape of the
   * surface the request was for, on the socket itself, unless a response is already under way; then closed.
   */
  onClientError(error: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
    const conn = this.#connections.get(socket);
    if (error.code === 'ECONNRESET' || socket.destroyed || conn?.answered) {
      socket.destroy();
      return;
    }
    const x = conn?.current ?? null;
    const hadBody = x !== null && (Number(x.req.headers['content-length'] ?? 0) > 0 || x.req.headers['transfer-encoding'] !== undefined);
    let answer: BerthError;
    let path = x?.path ?? requestPath(error.rawPacket) ?? '/';
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      // Node's headers timeout: which request it was is unknown.
      answer = headersTimeout(Math.round(this.#limits.headersTimeoutMs / 1000));
      path = '/';
    } else if (error.code === 'HPE_HEADER_OVERFLOW') {
      answer = headersTooLarge();
    } else if (x && !x.req.complete) {
      // The body broke off: the client closed its side before Content-Length bytes, or sent bad chunked framing.
      answer = error.code === 'HPE_INVALID_EOF_STATE'
        ? uploadInvalid(`the request body ended before its Content-Length (${x.req.headers['content-length'] ?? 'chunked'})`)
        : uploadInvalid('the request body is malformed (bad chunked encoding)');
    } else if (hadBody) {
      // Bytes after a complete request that do not start a request: the body was longer than its Content-Length.
      answer = sizeInvalid('the request body is longer than its Content-Length');
    } else {
      answer = requestInvalid('malformed HTTP request');
    }
    this.#answer(socket, conn, path, answer);
  }

  #connected(socket: Socket): void {
    const remote = normaliseAddress(socket.remoteAddress);
    const limit = this.#limits.maxConnectionsPerClient;
    const address = limit > 0 && remote !== null && !this.#exempt.check(remote, isIPv6(remote) ? 'ipv6' : 'ipv4') ? remote : null;
    this.#connections.set(socket, { address, current: null, answered: false });
    let count = 0;
    if (address !== null) {
      count = (this.#perAddress.get(address) ?? 0) + 1;
      this.#perAddress.set(address, count);
    }
    socket.once('close', () => {
      this.#connections.delete(socket);
      if (address === null) return;
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else {
        this.#perAddress.delete(address);
        this.#warnedAt.delete(address);
      }
    });
    if (address === null || count <= limit) return;
    // Over the cap: its first request gets 429 (onRequest above); one that sends nothing is closed soon anyway.
    this.#overCap.add(socket);
    const grace = setTimeout(() => socket.destroy(), Math.min(this.#limits.headersTimeoutMs, 5000)).unref();
    socket.once('close', () => clearTimeout(grace));
    const now = Date.now();
    if (now - (this.#warnedAt.get(address) ?? 0) > 60_000) {
      this.#warnedAt.set(address, now);
      this.#log.warn({ address, limit }, 'a client reached server.maxConnectionsPerClient; its further connections get 429');
    }
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const conn = this.#connections.get(req.socket);
    if (!conn) return;
    const now = Date.now();
    conn.current = {
      req, res, path: req.url ?? '/', startedAt: now, phase: 'receiving', progressAt: now, read: req.socket.bytesRead, sent: delivered(req.socket),
    };
  }

  #sweep(): void {
    const now = Date.now();
    for (const [socket, conn] of this.#connections) {
      const x = conn.current;
      if (!x || socket.destroyed) continue;
      const phase = !x.req.complete && !x.req.destroyed ? 'receiving' : x.res.headersSent && !x.res.writableFinished ? 'sending' : 'working';
      const read = socket.bytesRead;
      const sent = delivered(socket);
      if (phase !== x.phase) {
        x.phase = phase;
        x.progressAt = now;
      }
      if (phase === 'receiving' && !slowBodies.has(x.req)) {
        if (now - x.startedAt > this.#limits.requestTimeoutMs) this.#cut(socket, conn, x, requestTimeout(Math.round(this.#limits.requestTimeoutMs / 1000)));
      } else if (phase === 'receiving') {
        // Bytes arrived, or some wait in the request stream for Berth to read (its storage is slow): not idle.
        if (read !== x.read || x.req.readableLength > 0) x.progressAt = now;
        else if (now - x.progressAt > this.#limits.idleTimeoutMs) this.#cut(socket, conn, x, uploadStalled(Math.round(this.#limits.idleTimeoutMs / 1000)));
      } else if (phase === 'sending') {
        // Bytes left for the client, or nothing waits for it (Berth is producing slowly): not idle.
        if (sent !== x.sent || socket.writableLength === 0) x.progressAt = now;
        else if (now - x.progressAt > this.#limits.idleTimeoutMs) {
          this.#log.info({ remoteAddress: socket.remoteAddress }, 'connection closed: the client stopped reading the response');
          socket.destroy();
        }
      }
      x.read = read;
      x.sent = sent;
    }
  }

  #cut(socket: Socket, conn: Connection, x: Exchange, error: BerthError): void {
    this.#log.info({ remoteAddress: socket.remoteAddress, status: error.status }, `connection closed: ${error.message}`);
    this.#answer(socket, conn, x.path, error);
  }

  /** Writes `error` unless a response is already under way on the socket, then closes it. */
  #answer(socket: Socket, conn: Connection | undefined, path: string, error: BerthError): void {
    const x = conn?.current;
    // A response under way, or already given to a request whose body is still coming: no second one.
    const busy = x !== undefined && x !== null && x.res.headersSent && (!x.res.writableFinished || !x.req.complete);
    if (conn) conn.answered = true;
    // As Node answers its own timeouts: the bytes go to the kernel before the close.
    if (!busy && socket.writable) socket.write(rawErrorResponse(path, error));
    socket.destroy();
  }
}

/**
 * Bytes handed to the kernel so far, which grows as the client reads. One write of a 1 MiB buffer (send-file.ts)
 * leaves the handle bit by bit, so it is counted by the handle's `writeQueueSize` as Node's own socket timeout does
 * (net.js `_onTimeout`); by finished writes only, a client reading 8 KB/s would look idle for two minutes.
 */
function delivered(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { bytesWritten?: unknown; writeQueueSize?: unknown } | null })._handle;
  if (typeof handle?.bytesWritten === 'number' && typeof handle.writeQueueSize === 'number') return handle.bytesWritten - handle.writeQueueSize;
  return (socket.bytesWritten ?? 0) - socket.writableLength;
}

/** `::ffff:10.0.0.1` (a dual-stack listener) is the IPv4 client 10.0.0.1. */
function normaliseAddress(address: string | undefined): string | null {
  if (!address) return null;
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}

function addToBlockList(list: BlockList, entry: string): void {
  const [address, prefix] = entry.split('/');
  const type = isIPv6(address!) ? 'ipv6' : 'ipv4';
  if (prefix === undefined) list.addAddress(address!, type);
  else list.addSubnet(address!, Number(prefix), type);
}

/** The path of the request line at the start of `packet`, if it has one. */
function requestPath(packet: unknown): string | null {
  const m = Buffer.isBuffer(packet) ? /^[A-Z]+ (\/\S*) HTTP\/1\.[01]\r?\n/.exec(packet.subarray(0, 8192).toString('latin1')) : null;
  return m ? m[1]! : null;
}
