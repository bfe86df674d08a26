import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Which API a request went to: the label every HTTP series carries. */
export type Surface = 'oci' | 'github' | 'ui' | 'other';

/** How a job run ended, as `berth_job_runs_total{result}` counts it. */
export type JobResult = 'success' | 'failure';

export interface DiskUsage {
  readonly what: string;
  readonly freeBytes: number;
  readonly sizeBytes: number;
}

/** Values read from the database when Prometheus scrapes (see `Metrics.setSources`). */
export interface MetricSources {
  /** Upload sessions open in the whole cluster (rows in the database). */
  readonly openUploads: () => Promise<number>;
  /** Resolves when the metadata database answers a trivial query. */
  readonly databasePing: () => Promise<void>;
  /** Connection pool state; null where there is no pool (SQLite: one connection). */
  readonly databasePool: () => { readonly total: number; readonly idle: number; readonly waiting: number; readonly max: number } | null;
  /** Local filesystems Berth writes to (fs blob store, SQLite), by what they hold ("blob storage and database"). */
  readonly disks: () => Promise<readonly DiskUsage[]>;
  /** The owners using the most storage (bounded: at most `metrics.ownersTop` of them). */
  readonly storageByOwner: () => Promise<readonly { readonly owner: string; readonly bytes: number }[]>;
}

// Seconds. Requests: 1 ms (a cached manifest GET) to a minute (a large layer); storage adds slower S3 operations.
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STORAGE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const JOB_BUCKETS = [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];
/** The database ping behind `berth_database_up` gives up after this, so a hung database cannot hang the scrape. */
const PING_TIMEOUT_MS = 3_000;

/**
 * Berth's Prometheus metrics (one registry per app, never prom-client's global one). Label values are bounded:
 * route templates (never raw URLs or repository names), methods, statuses, driver and job names; storage per owner
 * is limited to the largest owners. Modules record through the methods here; the `berth_*` names and their labels
 * are documented in the README ("Metrics") and used by deploy/monitoring/.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #requestDuration: Histogram<'surface' | 'route' | 'method' | 'status'>;
  readonly #bytesReceived: Counter<'surface'>;
  readonly #bytesSent: Counter<'surface'>;
  readonly #storageDuration: Histogram<'driver' | 'operation'>;
  readonly #storageErrors: Counter<'driver' | 'operation'>;
  readonly #dbErrors: Counter<'dialect' | 'reason'>;
  readonly #jobRuns: Counter<'job' | 'result'>;
  readonly #jobDuration: Histogram<'job'>;
  readonly #jobLastSuccess: Gauge<'job'>;
  readonly #webhookDeliveries: Counter<'result'>;
  readonly #mirrorRequests: Counter<'upstream' | 'kind' | 'result'>;
  readonly #mirrorBytes: Counter<'upstream' | 'source'>;
  readonly #manifestCache: Counter<'result'>;
  readonly #listingCache: Counter<'result'>;
  #sources: MetricSources | null = null;
  #ownerUsage: { at: number; rows: readonly { owner: string; bytes: number }[] } | null = null;
  readonly #ownersRefreshMs: number;

  /** `ownersRefreshMs`: storage per owner is one aggregate over every reference, recomputed at most this often. */
  constructor(opts: { ownersRefreshMs: number }) {
    this.#ownersRefreshMs = opts.ownersRefreshMs;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_' });
    this.#requestDuration = new Histogram({
      name: 'berth_http_request_duration_seconds', registers, buckets: REQUEST_BUCKETS,
      help: 'HTTP requests by surface (oci, github, ui, other), route template, method and status; _count is the request count.',
      labelNames: ['surface', 'route', 'method', 'status'],
    });
    this.#bytesReceived = new Counter({
      name: 'berth_http_received_bytes_total', registers, labelNames: ['surface'], help: 'Bytes received from HTTP clients (headers and bodies).',
    });
    this.#bytesSent = new Counter({
      name: 'berth_http_sent_bytes_total', registers, labelNames: ['surface'], help: 'Bytes sent to HTTP clients (headers and bodies).',
    });
    this.#storageDuration = new Histogram({
      name: 'berth_storage_operation_duration_seconds', registers, buckets: STORAGE_BUCKETS, labelNames: ['driver', 'operation'],
      help: 'Blob store operations by driver (fs, s3) and operation; for reads, the time until the stream is open.',
    });
    this.#storageErrors = new Counter({
      name: 'berth_storage_errors_total', registers, labelNames: ['driver', 'operation'], help: 'Blob store operations that failed, by driver and operation.',
    });
    this.#dbErrors = new Counter({
      name: 'berth_database_errors_total', registers, labelNames: ['dialect', 'reason'],
      help: 'Failed database statements by dialect and reason: unreachable (the server is away), constraint (a uniqueness race Berth handles), other.',
    });
    this.#webhookDeliveries = new Counter({
      name: 'berth_webhook_deliveries_total', registers, labelNames: ['result'],
      help: 'Webhook delivery attempts by result: success (2xx), failure (another status or no connection), timeout, refused (a private target).',
    });
    this.#mirrorRequests = new Counter({
      name: 'berth_mirror_requests_total', registers, labelNames: ['upstream', 'kind', 'result'],
      help: 'Pull-through cache requests by upstream namespace, kind (manifest, blob) and result: hit, miss (fetched from the upstream), '
        + 'revalidated (a tag checked with a HEAD), stale (served cached while the upstream failed), not_found, error.',
    });
    this.#mirrorBytes = new Counter({
      name: 'berth_mirror_bytes_total', registers, labelNames: ['upstream', 'source'],
      help: 'Blob bytes sent through the pull-through cache by upstream namespace and source: cache (bytes the upstream was spared) or upstream (fetched while they were stored).',
    });
    this.#manifestCache = new Counter({
      name: 'berth_manifest_cache_lookups_total', registers, labelNames: ['result'],
      help: 'Manifest GET/HEAD lookups by result: hit (answered from memory), miss (read from the database), '
        + 'bypass (the change feed is down: PostgreSQL\'s listener lost).',
    });
    this.#listingCache = new Counter({
      name: 'berth_package_listing_cache_lookups_total', registers, labelNames: ['result'],
      help: 'Package listings (REST API and web UI) by how the readable packages\' ids were found: hit (from memory), miss (read from the '
        + 'database), bypass (the change feed is down).',
    });
    ({ runs: this.#jobRuns, duration: this.#jobDuration, lastSuccess: this.#jobLastSuccess } = jobMetrics(this.registry));

    const sources = (): MetricSources | null => this.#sources;
    new Gauge({
      name: 'berth_upload_sessions_open', registers, help: 'Blob upload sessions open (in the whole cluster: rows in the database).',
      async collect() {
        const s = sources();
        if (s) this.set(await s.openUploads().catch(() => Number.NaN));
      },
    });
    new Gauge({
      name: 'berth_database_up', registers, help: '1 when the metadata database answered a trivial query during this scrape, else 0.',
      async collect() {
        const s = sources();
        if (s) this.set(await withTimeout(s.databasePing(), PING_TIMEOUT_MS).then(() => 1, () => 0));
      },
    });
    new Gauge({
      name: 'berth_database_pool_connections', registers, labelNames: ['state'],
      help: 'PostgreSQL pool connections by state: used, idle, waiting (requests queued for one), max (the pool size). Absent on SQLite.',
      collect() {
        const pool = sources()?.databasePool();
        if (!pool) return;
        this.set({ state: 'used' }, pool.total - pool.idle);
        this.set({ state: 'idle' }, pool.idle);
        this.set({ state: 'waiting' }, pool.waiting);
        this.set({ state: 'max' }, pool.max);
      },
    });
    const disks = async (): Promise<readonly DiskUsage[]> => (await sources()?.disks().catch(() => null)) ?? [];
    new Gauge({
      name: 'berth_disk_free_bytes', registers, labelNames: ['what'],
      help: 'Bytes available to Berth on the local filesystems it writes to (fs blob store, SQLite database), by what they hold.',
      async collect() {
        this.reset();
        for (const d of await disks()) this.set({ what: d.what }, d.freeBytes);
      },
    });
    new Gauge({
      name: 'berth_disk_size_bytes', registers, labelNames: ['what'], help: 'Size of those filesystems.',
      async collect() {
        this.reset();
        for (const d of await disks()) this.set({ what: d.what }, d.sizeBytes);
      },
    });
    const ownerUsage = (): Promise<readonly { owner: string; bytes: number }[]> => this.#storageByOwner();
    new Gauge({
      name: 'berth_storage_owner_bytes', registers, labelNames: ['owner'],
      help: 'Storage used by the owners using the most (live versions\' distinct blobs plus manifests), recomputed every metrics.ownersRefresh at most.',
      async collect() {
        const rows = await ownerUsage().catch(() => null);
        if (rows === null) return;
        this.reset();
        for (const r of rows) this.set({ owner: r.owner }, r.bytes);
      },
    });
  }

  /** Where the scrape-time gauges read from; set once by the composition root. */
  setSources(sources: MetricSources): void {
    this.#sources = sources;
  }

  /** One finished HTTP request. */
  observeRequest(r: { surface: Surface; route: string; method: string; status: number; seconds: number; bytesIn: number; bytesOut: number }): void {
    this.#requestDuration.observe({ surface: r.surface, route: r.route, method: r.method, status: r.status }, r.seconds);
    if (r.bytesIn > 0) this.#bytesReceived.inc({ surface: r.surface }, r.bytesIn);
    if (r.bytesOut > 0) this.#bytesSent.inc({ surface: r.surface }, r.bytesOut);
  }

  /** One blob store operation (see storage/measured-blob-store.ts). */
  observeStorage(driver: string, operation: string, seconds: number, failed: boolean): void {
    this.#storageDuration.observe({ driver, operation }, seconds);
    if (failed) this.#storageErrors.inc({ driver, operation });
  }

  databaseError(dialect: string, reason: 'unreachable' | 'constraint' | 'other'): void {
    this.#dbErrors.inc({ dialect, reason });
  }

  /** One webhook delivery attempt and how it ended. */
  webhookDelivery(result: 'success' | 'failure' | 'timeout' | 'refused'): void {
    this.#webhookDeliveries.inc({ result });
  }

  /** One request through the pull-through cache and how it was answered. */
  mirrorRequest(upstream: string, kind: 'manifest' | 'blob', result: string): void {
    this.#mirrorRequests.inc({ upstream, kind, result });
  }

  /** Blob bytes sent through the pull-through cache, from the cache or fetched from the upstream. */
  mirrorBytes(upstream: string, source: string, bytes: number): void {
    this.#mirrorBytes.inc({ upstream, source }, bytes);
  }

  /** One manifest GET/HEAD lookup and how the manifest cache answered it (hit, miss, bypass). */
  manifestCacheLookup(result: 'hit' | 'miss' | 'bypass'): void {
    this.#manifestCache.inc({ result });
  }

  /** One package listing and how the listing cache answered it (hit, miss, bypass). */
  packageListingCacheLookup(result: 'hit' | 'miss' | 'bypass'): void {
    this.#listingCache.inc({ result });
  }

  /**
   * Records one run of a background job. The scheduler calls it for every job it runs; a job run elsewhere (a
   * command, a worker of its own) calls it the same way: `const done = metrics.jobStarted('retention'); …; done('success')`.
   */
  jobStarted(job: string): (result: JobResult) => void {
    return recordJob({ runs: this.#jobRuns, duration: this.#jobDuration, lastSuccess: this.#jobLastSuccess }, job);
  }

  /** The exposition text and its Content-Type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  async #storageByOwner(): Promise<readonly { owner: string; bytes: number }[]> {
    const s = this.#sources;
    if (!s) return [];
    const now = Date.now();
    if (this.#ownerUsage && now - this.#ownerUsage.at < this.#ownersRefreshMs) return this.#ownerUsage.rows;
    const rows = await s.storageByOwner();
    this.#ownerUsage = { at: now, rows };
    return rows;
  }
}

interface JobMetrics {
  readonly runs: Counter<'job' | 'result'>;
  readonly duration: Histogram<'job'>;
  readonly lastSuccess: Gauge<'job'>;
}

/** The `berth_job_*` metrics in `registry`: the server's, or a command's own (see `JobRunFile`). */
function jobMetrics(registry: Registry): JobMetrics {
  const registers = [registry];
  return {
    runs: new Counter({
      name: 'berth_job_runs_total', registers, labelNames: ['job', 'result'], help: 'Background job runs in this process by job and result (success, failure).',
    }),
    duration: new Histogram({
      name: 'berth_job_duration_seconds', registers, buckets: JOB_BUCKETS, labelNames: ['job'], help: 'Duration of background job runs in this process.',
    }),
    lastSuccess: new Gauge({
      name: 'berth_job_last_success_timestamp_seconds', registers, labelNames: ['job'], help: 'When a run of the job last succeeded in this process (Unix time).',
    }),
  };
}

function recordJob(m: JobMetrics, job: string): (result: JobResult) => void {
  const end = m.duration.startTimer({ job });
  return (result) => {
    end();
    m.runs.inc({ job, result });
    if (result === 'success') m.lastSuccess.set({ job }, Date.now() / 1000);
  };
}

/**
 * The job metrics of a command that runs a job and exits (`berth gc --metrics-file`): nothing scrapes such a process,
 * so its run is written in Prometheus text format for node_exporter's textfile collector, the usual way batch
 * jobs reach Prometheus. Same names and labels as the server's.
 */
export class JobRunFile {
  readonly #registry = new Registry();
  readonly #metrics = jobMetrics(this.#registry);

  jobStarted(job: string): (result: JobResult) => void {
    return recordJob(this.#metrics, job);
  }

  render(): Promise<string> {
    return this.#registry.metrics();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
