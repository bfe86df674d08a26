/**
 * Counts failed authentications per key (client address, account) with a two-window sliding counter: the count of
 * the current fixed window plus the previous window's count weighted by how much of it still overlaps the sliding
 * window. Constant time and memory per key, whatever the failure rate. Only failures are counted and only a key over
 * its limit is refused, so successful traffic is never slowed; failures of a key already blocked are not counted
 * (an attacker hammering a blocked key costs a map lookup and never extends the block). Per process: each replica
 * keeps its own counts (documented approximation).
 */
export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #entries = new Map<string, Entry>();
  /** Keys in the order they were first counted, oldest from `#head` on: what goes first when the table is full. */
  #queue: string[] = [];
  #head = 0;

  constructor(opts: { max: number; windowMs: number; maxKeys?: number }) {
    this.#max = opts.max;
    this.#windowMs = opts.windowMs;
    this.#maxKeys = opts.maxKeys ?? 100_000;
  }

  /** Seconds until `key` may try again, or 0 when it is not blocked. */
  retryAfter(key: string, now: number): number {
    const entry = this.#entries.get(key);
    if (!entry) return 0;
    const window = Math.floor(now / this.#windowMs);
    const { previous, current } = counts(entry, window);
    const start = window * this.#windowMs;
    const overlap = 1 - (now - start) / this.#windowMs;
    if (previous * overlap + current < this.#max) return 0;
    // When the estimate drops below the limit: later in this window as the previous one slides out, or, when this
    // window alone is at the limit, in the next one as this window's count slides out.
    const until = current < this.#max
      ? start + this.#windowMs * (1 - (this.#max - current) / previous)
      : start + this.#windowMs * (2 - this.#max / current);
    return Math.max(1, Math.ceil((until - now) / 1000));
  }

  /** Records a failure of `key`, unless the key is blocked already. */
  fail(key: string, now: number): void {
    if (this.retryAfter(key, now) > 0) return;
    const window = Math.floor(now / this.#windowMs);
    const old = this.#entries.get(key);
    if (old) {
      const { previous, current } = counts(old, window);
      this.#entries.set(key, { window, previous, current: current + 1 });
      return;
    }
    this.#evict(window);
    this.#entries.set(key, { window, previous: 0, current: 1 });
    this.#queue.push(key);
  }

  /** How many keys are tracked (for tests and the bench). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Before a new key: the oldest keys go while their last failure is two windows old (they count nothing any more)
   * or while the table is full (a spray of addresses or names): one key per new key, never everyone's state at once.
   * O(1) amortised; no scan of the table.
   */
  #evict(window: number): void {
    while (this.#head < this.#queue.length) {
      const oldest = this.#queue[this.#head]!;
      const entry = this.#entries.get(oldest)!;
      if (entry.window >= window - 1 && this.#entries.size < this.#maxKeys) break;
      this.#entries.delete(oldest);
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}

interface Entry {
  /** Index of the fixed window (`floor(now / windowMs)`) `current` counts. */
  readonly window: number;
  readonly previous: number;
  readonly current: number;
}

/** The counts of the previous and the current window at `window`, rolling the entry forward. */
function counts(entry: Entry, window: number): { previous: number; current: number } {
  if (entry.window === window) return entry;
  if (entry.window === window - 1) return { previous: entry.current, current: 0 };
  return { previous: 0, current: 0 };
}

/**
 * The counters a failed authentication is charged to. Registry credentials (`/token`, Basic on `/v2`) are charged to
 * the client address only: their user name is arbitrary (any name works with a token), so charging it would let
 * anyone lock an account out with a few bad requests. The sign-in form, where the name is the account, also
 * charges the account, against password spraying from many addresses.
 */
export function failureKeys(address: string, account?: string): string[] {
  return account === undefined ? [`ip:${address}`] : [`ip:${address}`, `user:${account.toLowerCase()}`];
}
