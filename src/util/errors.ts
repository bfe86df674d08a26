/**
 * The one error type Berth throws on purpose. Every surface (OCI, GitHub REST, UI) serialises it in its own shape;
 * anything that is not a BerthError is a bug and leaves as a generic 500.
 */
export class BerthError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: unknown;
  readonly headers: Readonly<Record<string, string>>;

  constructor(opts: {
    status: number;
    code: string;
    message: string;
    detail?: unknown;
    headers?: Record<string, string>;
    cause?: unknown;
  }) {
    super(opts.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BerthError';
    this.status = opts.status;
    this.code = opts.code;
    this.detail = opts.detail;
    this.headers = opts.headers ?? {};
  }
}

export function isBerthError(err: unknown): err is BerthError {
  return err instanceof BerthError;
}

/** Generic errors not tied to one protocol. */
export const notFound = (message: string): BerthError => new BerthError({ status: 404, code: 'NOT_FOUND', message });
export const badRequest = (message: string): BerthError => new BerthError({ status: 400, code: 'BAD_REQUEST', message });
export const conflict = (message: string): BerthError => new BerthError({ status: 409, code: 'CONFLICT', message });
/** Well-formed input that breaks a rule (a taken name, an unknown scope): GitHub's 422 "Validation Failed". */
export const invalid = (message: string): BerthError => new BerthError({ status: 422, code: 'INVALID', message });

/** Seconds a client is asked to wait (Retry-After) when a backing service is away. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/**
 * A service the registry depends on is unreachable (the metadata database restarting or failing over, the S3
 * endpoint down): 503 with Retry-After, whatever the request. `code` is distribution's errcode for 503.
 */
export const unavailable = (service: 'database' | 'blob storage', cause?: unknown): BerthError => new BerthError({
  status: 503,
  code: 'UNAVAILABLE',
  message: `the registry's ${service} is unreachable; retry in a few seconds`,
  headers: { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
  cause,
});

/** A 503 from `unavailable`. */
export function isUnavailable(err: unknown): boolean {
  // Not a 507 (storageFull), which shares the code.
  return isBerthError(err) && err.status === 503 && err.code === 'UNAVAILABLE';
}

const NETWORK_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** A socket-level failure to reach a server (refused, reset, unreachable, DNS), as Node reports it. */
export function isNetworkFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NETWORK_ERRNOS.has(code);
}

/**
 * The disk under the registry's data is full: ENOSPC or EDQUOT from a file write, SQLITE_FULL from the embedded
 * database. 507 Insufficient Storage: the server cannot store what the request needs (RFC 4918 §11.5), its fault
 * and not the client's. docker, podman and skopeo show no body of a 5xx response, only "received unexpected HTTP
 * status: 507 Insufficient Storage", so the status line carries the news; curl, the UI and the REST API get the
 * message, and the server log the original error. The code is distribution's UNAVAILABLE: the OCI list
 * ("Error Codes") is for 4XX responses and has no code for a server that cannot store.
 */
export const storageFull = (cause: unknown): BerthError => new BerthError({
  status: 507,
  code: 'UNAVAILABLE',
  message: 'the registry\'s storage is full, so nothing new can be stored; already stored images can still be pulled. '
    + 'The registry operator must free disk space (berth gc --delete, delete unused packages, or grow the volume); then push again.',
  cause,
});

export function isStorageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}

/** For a bookkeeping write that may be skipped: ignores a storage-full error, rethrows anything else. */
export function unlessStorageFull(err: unknown): void {
  if (!isStorageFull(err)) throw err;
}
