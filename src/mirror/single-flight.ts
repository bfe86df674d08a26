/**
 * Concurrent callers with the same key share one run of `work` (within this process): the first starts it, the
 * others wait for its outcome. The entry goes as soon as the run settles, so a later call starts afresh.
 */
export class SingleFlight {
  readonly #running = new Map<string, Promise<unknown>>();

  /** The run in progress for `key`, if any. */
  current(key: string): Promise<unknown> | undefined {
    return this.#running.get(key);
  }

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key);
    if (running) return running as Promise<T>;
    const started = work().finally(() => this.#running.delete(key));
    this.#running.set(key, started);
    return started;
  }

  /** Registers a run started elsewhere (a blob being stored while it streams to its first client). */
  track(key: string, running: Promise<unknown>): void {
    const settled = running.then(() => undefined, () => undefined).finally(() => {
      if (this.#running.get(key) === settled) this.#running.delete(key);
    });
    this.#running.set(key, settled);
  }
}
