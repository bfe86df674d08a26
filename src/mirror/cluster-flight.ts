import { setTimeout as sleep } from 'node:timers/promises';

/** Leases in the database shared by the replicas (maintenance/job-leases.ts JobLeases fits). */
export interface FetchLeases {
  acquire(name: string, ttlMs: number): Promise<boolean>;
  renew(name: string, ttlMs: number): Promise<boolean>;
  release(name: string): Promise<void>;
}

/** The right to fetch one thing from the upstream, held until `release()`. */
export interface FetchClaim {
  release(): Promise<void>;
}

/**
 * Single flight across replicas (issue 17): before a replica fetches a manifest or blob from the upstream it takes a
 * lease on it in the database; a replica that finds the lease taken waits, looking every `pollMs` whether the
 * holder's copy is in the cache yet (then it serves that), and takes the lease over when the holder released it
 * without caching (its fetch failed) or died (the lease expired). The holder renews the lease while it streams, so
 * a slow large blob is not fetched twice. In-process waiters are already joined by SingleFlight; this adds one
 * statement per miss, so only replicated deployments (PostgreSQL) use it.
 */
export class ClusterFlight {
  readonly #leases: FetchLeases;
  readonly #ttlMs: number;
  readonly #pollMs: number;

  constructor(deps: { leases: FetchLeases; ttlMs: number; pollMs?: number }) {
    this.#leases = deps.leases;
    this.#ttlMs = deps.ttlMs;
    this.#pollMs = deps.pollMs ?? 200;
  }

  /** The claim to fetch `key`, or null once `cached()` says another replica has stored it meanwhile. */
  async claim(key: string, cached: () => Promise<boolean>): Promise<FetchClaim | null> {
    const name = `mirror-fetch:${key}`;
    let waited = false;
    while (!(await this.#leases.acquire(name, this.#ttlMs))) {
      waited = true;
      await sleep(this.#pollMs);
      if (await cached()) return null;
    }
    // Taken over from a holder that just finished: its copy may have landed between our last look and now.
    if (waited && (await cached())) {
      await this.#leases.release(name).catch(() => undefined);
      return null;
    }
    const renewing = setInterval(() => {
      this.#leases.renew(name, this.#ttlMs).catch(() => undefined);
    }, Math.max(1, Math.floor(this.#ttlMs / 3)));
    renewing.unref();
    return {
      release: async () => {
        clearInterval(renewing);
        // Not freed (database away): it expires within ttlMs, and the others fetch then.
        await this.#leases.release(name).catch(() => undefined);
      },
    };
  }
}
