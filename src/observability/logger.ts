import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths never written to logs: credentials, cookies, upload state, presigned URLs. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'password',
  'token',
  'secret',
  '*.password',
  '*.token',
  '*.secret',
];

/** Lines are written once this much is buffered (a chunk then stays near the pipe's 4 KiB atomic-write size)… */
const BUFFER_BYTES = 3072;
/** …or at the latest after this long, so a quiet server's lines still show up promptly. */
const FLUSH_EVERY_MS = 250;

/**
 * The root logger. By default JSON lines go to stdout through a buffer written asynchronously: one write per
 * ~3 KiB (a dozen request lines) instead of a blocking write per line, which at `info` cost manifest GETs 15–20% of
 * their rate (`npm run bench` prints both levels). Warnings and errors are rare and wanted at once: each one
 * writes out the buffer with it, synchronously. Buffered lines are not lost on the way out: pino writes them
 * synchronously when the process exits (process.exit, the end of the event loop), and `berth serve` logs uncaught
 * exceptions at fatal before exiting. Only a SIGKILL or a power cut loses the last quarter second of info lines.
 * `destination` (tests) is written as given.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'berth' } };
  if (destination) return pino(options, destination as never);
  // Buffer mode keeps each pending line as its own Buffer, an O(1) append; the default utf8 mode measures the whole
  // pending string again on every write (2.5 µs a line against 0.6 here). pino writes strings: the adapter converts.
  // The exit flush stays with the destination itself (pino registers it there).
  const boom = pino.destination({ dest: 1, sync: false, minLength: BUFFER_BYTES, periodicFlush: FLUSH_EVERY_MS, contentMode: 'buffer' });
  const stream = {
    write: (line: string) => boom.write(Buffer.from(line) as never),
    flush: (cb?: (err?: Error) => void) => boom.flush(cb),
    flushSync: () => boom.flushSync(),
  };
  return pino({
    ...options,
    hooks: {
      logMethod(args, method, lineLevel) {
        method.apply(this, args);
        if (lineLevel >= WARN) flushNow(stream);
      },
    },
  }, stream);
}

const WARN = 40;

function flushNow(stream: { flushSync(): void }): void {
  try {
    stream.flushSync();
  } catch {
    // Not writable right now (a closed stdout): the lines stay buffered for the next write or the exit flush.
  }
}

/** What the request log line says; src/http/server.ts chooses every field (never a credential). */
export interface RequestLine {
  readonly reqId: string;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly ms: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly actor?: string | undefined;
  readonly tokenId?: number | undefined;
  readonly auth?: string | undefined;
  readonly repository?: string | undefined;
}

/**
 * Writes the request line at info, as `log.info(line, 'request')` would (pino's format: level, time, the logger's
 * bindings, the fields, msg), straight to the logger's stream. pino's generic serialization took 4.3 µs a line here,
 * about 4% of a cached manifest GET against issue 16's 5% for all of logging; this takes well under 1 µs. Without
 * redaction, since no field can hold a secret. Nothing when info is off.
 */
export function requestLineWriter(log: Logger): (line: RequestLine) => void {
  const stream = (log as unknown as Record<symbol, { write(chunk: string): unknown }>)[pino.symbols.streamSym]!;
  const bindings = (log as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? '';
  const str = (value: string | undefined): string => JSON.stringify(value);
  const num = (value: number): string => (Number.isFinite(value) ? String(value) : 'null');
  return (line) => {
    if (!log.isLevelEnabled('info')) return;
    stream.write(`{"level":30,"time":${Date.now()}${bindings},"reqId":${str(line.reqId)},"method":${str(line.method)},`
      + `"route":${str(line.route)},"status":${num(line.status)},"ms":${num(line.ms)},"bytesIn":${num(line.bytesIn)},`
      + `"bytesOut":${num(line.bytesOut)}${line.actor !== undefined ? `,"actor":${str(line.actor)}` : ''}`
      + `${line.tokenId !== undefined ? `,"tokenId":${num(line.tokenId)}` : ''}${line.auth !== undefined ? `,"auth":${str(line.auth)}` : ''}`
      + `${line.repository !== undefined ? `,"repository":${str(line.repository)}` : ''},"msg":"request"}\n`);
  };
}
