import type { ChangeFeed } from './change-feed.js';

/** How a lookup was answered (the caches' `*_lookups_total` metrics). */
export type CacheLookup = 'hit' | 'miss' | 'bypass';

/** What one cache may hold, and what an entry weighs. */
export interface CacheLimits<V> {
  readonly maxBytes: number;
  /** Larger entries are read from the database each time rather than crowd out the rest. */
  readonly maxEntryBytes: number;
  /** The entry's weight in bytes, beyond ENTRY_OVERHEAD. */
  readonly sizeOf: (value: V) => number;
  /**
   * Ask the feed exactly on every lookup (`ChangeFeed.version(true)`): for caches off the hottest path, so another
   * process's change (an admin command granting a role) shows in the very next answer on SQLite.
   */
  readonly exact?: boolean;
}

/** Per entry beyond its value: the key, the object and the Map slot. */
const ENTRY_OVERHEAD = 256;

/**
 * Rows read from the database, remembered in memory, least recently used first out, and trusted only while the
 * change feed stands where it stood when they were read: any committed change the feed hears of, by this process or
 * another (a CLI command, another replica), empties the cache (writes to bookkeeping tables alone do not move it:
 * `movesCaches` in change-feed.ts), and a value read while such a change committed is not kept
 * (`ticket`/`put`). Only found values are kept: a miss always asks the database. While the feed is down
 * (PostgreSQL's listener lost) the cache is bypassed. Used for manifest lookups (src/registry/manifest-service.ts)
 * and the package listings' readable ids (src/packages/package-service.ts).
 */
export class ChangeBoundCache<V> {
  readonly #changes: ChangeFeed;
  readonly #limits: CacheLimits<V>;
  readonly #onLookup: (result: CacheLookup) => void;
  readonly #entries = new Map<string, { value: V; size: number }>();
  #bytes = 0;
  /** The feed's version the entries were read at; null: the feed is down. */
  #seen: number | null = null;

  constructor(changes: ChangeFeed, limits: CacheLimits<V>, onLookup: (result: CacheLookup) => void = () => {}) {
    this.#changes = changes;
    this.#limits = limits;
    this.#onLookup = onLookup;
  }

  get(key: string): V | undefined {
    if (this.#sync() === null) {
      this.#onLookup('bypass');
      return undefined;
    }
    const entry = this.#entries.get(key);
    if (entry) {
      // Most recently used last: eviction takes from the front.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    this.#onLookup(entry ? 'hit' : 'miss');
    return entry?.value;
  }

  /** Taken before reading a value from the database, handed back to `put`; null: do not cache. */
  ticket(): number | null {
    return this.#sync();
  }

  put(key: string, value: V, ticket: number | null): void {
    // A change committed since the ticket was taken may have been missed by the read: drop the value.
    if (ticket === null || this.#sync() !== ticket) return;
    const size = this.#limits.sizeOf(value) + key.length + ENTRY_OVERHEAD;
    if (size > this.#limits.maxEntryBytes || this.#entries.has(key)) return;
    this.#entries.set(key, { value, size });
    this.#bytes += size;
    for (const [oldest, old] of this.#entries) {
      if (this.#bytes <= this.#limits.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= old.size;
    }
  }

  /** The value of `key`, read by `load` and kept when it is not in memory. */
  async through(key: string, load: () => Promise<V>): Promise<V> {
    const cached = this.get(key);
    if (cached !== undefined) return cached;
    const ticket = this.ticket();
    const value = await load();
    this.put(key, value, ticket);
    return value;
  }

  /** The feed's version, emptying the cache when it moved. */
  #sync(): number | null {
    const version = this.#changes.version(this.#limits.exact ?? false);
    if (version !== this.#seen) {
      this.#entries.clear();
      this.#bytes = 0;
      this.#seen = version;
    }
    return version;
  }
}
