/**
 * HTTP at the byte level over node:net, for what an HTTP client library will not do: bodies shorter or longer than
 * their Content-Length, a request trickled a byte at a time, a half-closed socket, many idle connections, a chosen
 * local address (127.0.0.2 is another client on loopback).
 */
import { connect, type Socket } from 'node:net';

export interface ParsedResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface RawConnection {
  readonly socket: Socket;
  /** Writes and waits until the bytes are handed to the kernel; rejects if the server closed the connection. */
  write(data: string | Buffer): Promise<void>;
  /** Ends our side (FIN) and keeps reading: a client that sent all it will send. */
  halfClose(): void;
  destroy(): void;
  /** Every byte received so far. */
  received(): Buffer;
  /** The complete responses received so far. */
  responses(): ParsedResponse[];
  /** Resolves with the first response once it is complete; rejects if the connection closes first. */
  response(): Promise<ParsedResponse>;
  /** Resolves when the connection is closed (by either side, or reset), with the time since it was opened in ms. */
  readonly closed: Promise<{ afterMs: number; error: string | null }>;
  /** True once the connection is closed. */
  isClosed(): boolean;
  /** `closed`, or a rejection naming `what` if the connection is still open after `ms`. */
  closedWithin(ms: number, what: string): Promise<{ afterMs: number; error: string | null }>;
}

/** Opens a TCP connection to the server of `url`, from `localAddress` when given. */
export function openConnection(url: string, opts: { localAddress?: string } = {}): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port), ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  const chunks: Buffer[] = [];
  const opened = Date.now();
  let isClosed = false;
  let error: string | null = null;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', (e) => { error = (e as NodeJS.ErrnoException).code ?? e.message; });
  const closed = new Promise<{ afterMs: number; error: string | null }>((resolve) => {
    socket.on('close', () => {
      isClosed = true;
      resolve({ afterMs: Date.now() - opened, error });
    });
  });
  const received = (): Buffer => Buffer.concat(chunks);
  const conn: RawConnection = {
    socket,
    write: (data) => new Promise((resolve, reject) => {
      if (socket.destroyed || socket.writableEnded) return reject(new Error('connection closed'));
      socket.write(data, (err) => (err ? reject(err) : resolve()));
    }),
    halfClose: () => socket.end(),
    destroy: () => socket.destroy(),
    received,
    responses: () => parseResponses(received()),
    response: () => new Promise((resolve, reject) => {
      const check = (): boolean => {
        const [first] = parseResponses(received());
        if (first) {
          socket.off('data', check);
          resolve(first);
          return true;
        }
        return false;
      };
      if (check()) return;
      socket.on('data', check);
      void closed.then(() => {
        if (!check()) reject(new Error(`connection closed without a complete response; received ${JSON.stringify(received().toString('latin1').slice(0, 300))}`));
      });
    }),
    closed,
    isClosed: () => isClosed,
    closedWithin: (ms, what) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`the server did not close the connection within ${ms} ms: ${what}`)), ms);
      });
      return Promise.race([closed, late]).finally(() => clearTimeout(timer));
    },
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(conn));
    socket.once('error', reject);
  });
}

/** Splits bytes into HTTP/1.1 responses (bodies by Content-Length; a response without one is body-less). */
export function parseResponses(data: Buffer): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) return out;
    const [statusLine, ...lines] = data.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
    if (!status) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const length = Number(headers['content-length'] ?? 0);
    if (data.length < end + 4 + length) return out;
    out.push({ status, headers, body: data.subarray(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
}

/** The head of a request, with Host and the given headers. */
export function requestHead(method: string, path: string, headers: Record<string, string | number> = {}): string {
  return `${method} ${path} HTTP/1.1\r\nHost: berth.test\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** Resolves once `condition()` holds, checking every 50 ms; rejects after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
