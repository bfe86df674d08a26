import type { ChangeFeed } from '../db/change-feed.js';

/** How a lookup was answered (`berth_manifest_cache_lookups_total`). */
export type ManifestCacheResult = 'hit' | 'miss' | 'bypass';

/** What the cache may hold: a few thousand manifests of ordinary size. */
const MAX_BYTES = 32 * 1024 * 1024;
/** Larger manifests (big indexes) are read from the database each time rather than crowd out the rest. */
const MAX_ENTRY_BYTES = 1024 * 1024;
/** Per entry beyond its body: the key, the row object and the Map slot. */
const ENTRY_OVERHEAD = 256;

/**
 * The manifest GET lookups (repository, tag or digest → row with body), remembered in memory, least recently used
 * first out (issue 14: the database query was the largest cost of the registry's hottest request). An entry is
 * trusted only while the change feed stands where it stood when the row was read: any committed change to tags,
 * manifests or repositories, by this process or another, empties the cache, and a row read while such a change
 * committed is not kept (`ticket`/`put`). Only found rows are kept: a miss always asks the database. While the feed
 * is down (PostgreSQL listener lost) the cache is bypassed.
 */
export class ManifestCache<Row extends { readonly body: Buffer }> {
  readonly #changes: ChangeFeed;
  readonly #onLookup: (result: ManifestCacheResult) => void;
  readonly #entries = new Map<string, Row>();
  #bytes = 0;
  /** The feed's version the entries were read at; null: the feed is down. */
  #seen: number | null = null;

  constructor(changes: ChangeFeed, onLookup: (result: ManifestCacheResult) => void = () => {}) {
    this.#changes = changes;
    this.#onLookup = onLookup;
  }

  static key(repository: string, kind: 'tag' | 'digest', reference: string): string {
    return `${repository}\n${kind}\n${reference}`;
  }

  get(key: string): Row | undefined {
    if (this.#sync() === null) {
      this.#onLookup('bypass');
      return undefined;
    }
    const row = this.#entries.get(key);
    if (row) {
      // Most recently used last: eviction takes from the front.
      this.#entries.delete(key);
      this.#entries.set(key, row);
    }
    this.#onLookup(row ? 'hit' : 'miss');
    return row;
  }

  /** Taken before reading a row from the database, handed back to `put`; null: do not cache. */
  ticket(): number | null {
    return this.#sync();
  }

  put(key: string, row: Row, ticket: number | null): void {
    // A change committed since the ticket was taken may have been missed by the read: drop the row.
    if (ticket === null || this.#sync() !== ticket) return;
    const size = row.body.length + key.length + ENTRY_OVERHEAD;
    if (size > MAX_ENTRY_BYTES || this.#entries.has(key)) return;
    this.#entries.set(key, row);
    this.#bytes += size;
    for (const [oldest, old] of this.#entries) {
      if (this.#bytes <= MAX_BYTES) break;
      this.#entries.delete(oldest);
      this.#bytes -= old.body.length + oldest.length + ENTRY_OVERHEAD;
    }
  }

  /** The feed's version, emptying the cache when it moved. */
  #sync(): number | null {
    const version = this.#changes.version();
    if (version !== this.#seen) {
      this.#entries.clear();
      this.#bytes = 0;
      this.#seen = version;
    }
    return version;
  }
}
