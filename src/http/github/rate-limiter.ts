/** The rate-limit headers' values (docs "Rate limits for the REST API"). */
export interface RateLimitState {
  readonly limit: number;
  readonly remaining: number;
  readonly used: number;
  /** End of the current window, UTC epoch seconds. */
  readonly reset: number;
  readonly resource: string;
}

/**
 * Fixed-window request counts per key (a token, or a client address for anonymous calls) and resource (`core`,
 * `graphql`), as GitHub counts: the window starts at a key's first request and `reset` is its end. Counts are
 * per process (each replica counts its own: documented approximation) and only for the current window.
 */
export class RateLimiter {
  readonly #windowMs: number;
  readonly #buckets = new Map<string, { start: number; used: number }>();

  constructor(opts: { windowMs: number }) {
    this.#windowMs = opts.windowMs;
  }

  /** Counts one request; `allowed` is false (and nothing is counted) once the limit is used up. */
  take(key: string, resource: string, limit: number, now: number): RateLimitState & { readonly allowed: boolean } {
    const bucket = this.#bucket(`${resource}:${key}`, now);
    const allowed = bucket.used < limit;
    if (allowed) bucket.used++;
    return { ...this.#state(bucket, resource, limit), allowed };
  }

  /** The state without counting (GET /rate_limit is free, as on GitHub). */
  peek(key: string, resource: string, limit: number, now: number): RateLimitState {
    const bucket = this.#buckets.get(`${resource}:${key}`);
    return this.#state(bucket && bucket.start + this.#windowMs > now ? bucket : { start: now, used: 0 }, resource, limit);
  }

  #bucket(id: string, now: number): { start: number; used: number } {
    let bucket = this.#buckets.get(id);
    if (!bucket || bucket.start + this.#windowMs <= now) {
      if (this.#buckets.size >= 100_000) this.#sweep(now); // bound memory under a spray of addresses
      bucket = { start: now, used: 0 };
      this.#buckets.set(id, bucket);
    }
    return bucket;
  }

  #sweep(now: number): void {
    for (const [id, b] of this.#buckets) if (b.start + this.#windowMs <= now) this.#buckets.delete(id);
    if (this.#buckets.size >= 100_000) this.#buckets.clear();
  }

  #state(bucket: { start: number; used: number }, resource: string, limit: number): RateLimitState {
    return {
      limit, used: bucket.used, remaining: Math.max(0, limit - bucket.used),
      reset: Math.ceil((bucket.start + this.#windowMs) / 1000), resource,
    };
  }
}
