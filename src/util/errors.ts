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
