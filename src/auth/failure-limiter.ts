/**
 * Counts failed authentications per key (client address, account) in a sliding window. Only failures are
 * counted and only a key over its limit is refused, so successful traffic is never slowed. Per process: each
 * replica keeps its own counts (documented approximation).
 */
export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #failures = new Map<string, number[]>();

  constructor(opts: { max: number; windowMs: number }) {
    this.#max = opts.max;
    this.#windowMs = opts.windowMs;
  }

  /** Seconds until `key` may try again, or 0 when it is not blocked. */
  retryAfter(key: string, now: number): number {
    const recent = this.#recent(key, now);
    if (recent.length < this.#max) return 0;
    return Math.max(1, Math.ceil((recent[0]! + this.#windowMs - now) / 1000));
  }

  fail(key: string, now: number): void {
    const recent = this.#recent(key, now);
    recent.push(now);
    this.#failures.set(key, recent);
    if (this.#failures.size > 100_000) this.#failures.clear(); // bound memory under a spray of keys
  }

  #recent(key: string, now: number): number[] {
    return (this.#failures.get(key) ?? []).filter((t) => t > now - this.#windowMs);
  }
}
