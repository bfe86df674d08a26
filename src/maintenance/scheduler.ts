import type { Logger } from '../observability/logger.js';

interface Job {
  readonly name: string;
  readonly everyMs: number;
  readonly run: () => Promise<void>;
}

/**
 * Runs background jobs on fixed intervals, one run of a job at a time; a failing run is logged and retried at
 * the next tick. `stop()` waits for runs in progress.
 */
export class Scheduler {
  readonly #log: Logger;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #running = new Set<Promise<void>>();

  constructor(deps: { log: Logger }) {
    this.#log = deps.log;
  }

  every(job: Job): void {
    let busy = false;
    const tick = (): void => {
      if (busy) return;
      busy = true;
      const run = job.run()
        .catch((err: unknown) => this.#log.error({ err, job: job.name }, 'background job failed'))
        .finally(() => { busy = false; this.#running.delete(run); });
      this.#running.add(run);
    };
    const timer = setInterval(tick, job.everyMs);
    timer.unref();
    this.#timers.push(timer);
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    await Promise.all(this.#running);
  }
}
