import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The scrape credential of `/metrics` on the main port (config `metrics.token`): a shared secret Prometheus sends
 * as `Authorization: Bearer <token>`, not an account, so it never goes through the CredentialResolver; read here,
 * with the other credentials, all the same.
 */
export class MetricsToken {
  readonly #expected: Buffer;

  constructor(token: string) {
    this.#expected = digest(token);
  }

  /** Whether the request's headers carry `Bearer <the token>`; compared as hashes in constant time. */
  accepts(headers: { readonly authorization?: string | undefined }): boolean {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
    return m !== null && timingSafeEqual(digest(m[1]!), this.#expected);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
