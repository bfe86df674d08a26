import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { JobLeases } from './job-leases.js';

export interface Job {
  readonly name: string;
  readonly everyMs: number;
  /** One run; `signal` aborts when the scheduler stops or the run's lease was lost (another replica took it). */
  readonly run: (signal: AbortSignal) => Promise<void>;
  /**
   * Cluster-wide job: each tick first takes the job's lease in the database, so one replica at a time runs it
   * (and, since the holder keeps the lease until the next tick, about once per interval in the whole cluster).
   * Per-process jobs (flushing this process's buffered counters) leave it off.
   */
  readonly lease?: boolean;
}

/** Lease timing; the defaults suit jobs of seconds to minutes. */
export interface LeaseTiming {
  /** How long a lease lasts without renewal: a holder that dies mid-run blocks the job at most this long. */
  readonly ttlMs: number;
  /** How often a running job renews its lease; well under ttlMs, so a slow statement does not lose it. */
  readonly renewEveryMs: number;
}

const DEFAULT_LEASE: LeaseTiming = { ttlMs: 60_000, renewEveryMs: 15_000 };

/**
 * Runs background jobs on fixed intervals, one run of a job at a time; a failing run is logged and retried at
 * the next tick. Jobs with `lease` run on one replica at a time (see JobLeases). `stop()` waits for runs in
 * progress, then frees the leases this replica holds.
 */
export class Scheduler {
  readonly #log: Logger;
  readonly #leases: JobLeases | null;
  readonly #timing: LeaseTiming;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #running = new Set<Promise<void>>();
  readonly #stopping = new AbortController();
  readonly #metrics: Metrics | null;

  constructor(deps: { log: Logger; leases?: JobLeases; leaseTiming?: LeaseTiming; metrics?: Metrics }) {
    this.#log = deps.log;
    this.#metrics = deps.metrics ?? null;
    this.#leases = deps.leases ?? null;
    this.#timing = deps.leaseTiming ?? DEFAULT_LEASE;
  }

  every(job: Job): void {
    if (job.lease && !this.#leases) throw new Error(`job ${job.name} needs a lease but the scheduler has no JobLeases`);
    let busy = false;
    const tick = (): void => {
      if (busy || this.#stopping.signal.aborted) return;
      busy = true;
      const run = (job.lease ? this.#runLeased(job) : this.#runMeasured(job, this.#stopping.signal))
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
    this.#stopping.abort();
    await Promise.all(this.#running);
    if (this.#leases) {
      await this.#leases.releaseAll().catch((err: unknown) => this.#log.warn({ err }, 'could not free job leases; they expire on their own'));
    }
  }

  /** One run, counted in the job metrics (a leased job only when this replica got the lease). */
  async #runMeasured(job: Job, signal: AbortSignal): Promise<void> {
    const done = this.#metrics?.jobStarted(job.name);
    try {
      await job.run(signal);
      done?.('success');
    } catch (err) {
      done?.('failure');
      throw err;
    }
  }

  async #runLeased(job: Job): Promise<void> {
    const leases = this.#leases!;
    const { ttlMs, renewEveryMs } = this.#timing;
    if (!(await leases.acquire(job.name, Math.max(ttlMs, 1)))) return;
    const lost = new AbortController();
    const signal = AbortSignal.any([lost.signal, this.#stopping.signal]);
    let renewing: Promise<void> = Promise.resolve();
    const renew = setInterval(() => {
      renewing = leases.renew(job.name, ttlMs).then((held) => {
        if (held || lost.signal.aborted) return;
        // The run outlived its lease (a stall longer than ttlMs): another replica may be running the job now.
        this.#log.warn({ job: job.name }, 'job lease lost while running; asking the run to stop');
        lost.abort();
      }, (err: unknown) => this.#log.warn({ err, job: job.name }, 'could not renew job lease'));
    }, renewEveryMs);
    renew.unref();
    try {
      await this.#runMeasured(job, signal);
    } finally {
      clearInterval(renew);
      // A renewal still in flight would otherwise extend the lease after it was released.
      await renewing;
      if (!lost.signal.aborted) await leases.release(job.name, this.#stopping.signal.aborted ? 0 : job.everyMs);
    }
  }
}
