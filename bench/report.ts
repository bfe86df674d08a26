import type { WrkResult } from './clients.js';
import { median, type CpuTime } from './measure.js';

/** Full GETs of one layer with curl, one entry per run. */
export interface BlobGetFigures {
  readonly mbps: readonly number[];
  /** Server CPU-seconds (user + system, workers included) per GET. */
  readonly cpuSeconds: readonly number[];
}

/** Berth's blob GETs with storage.verifyOnRead off and on (the same data, interleaved runs). */
export interface VerifyFigures {
  readonly off: BlobGetFigures;
  readonly on: BlobGetFigures;
  /** Which of the two is what `berth serve` does by default. */
  readonly defaultOn: boolean;
}

/** Manifest GET rates (req/s, one per run) of Berth at log.level info (one line per request) and at warn. */
export interface LogCostFigures {
  readonly info: readonly number[];
  readonly warn: readonly number[];
  /** Server CPU milliseconds per 1000 requests, per run. */
  readonly infoCpuMsPerThousand: readonly number[];
  readonly warnCpuMsPerThousand: readonly number[];
}

/** wrk's figures plus the server CPU-seconds spent during the run (one core's worth = the run's duration). */
export interface ManifestGetFigures extends WrkResult {
  readonly serverCpuSeconds: number;
  /**
   * Berth only: an authenticated `GET /v2/` with the same token and wrk settings, measured right after: the cost of
   * a request that reaches the registry with nothing to look up (issue 14: manifest GET ≥ 70% of it).
   */
  readonly ping?: WrkResult;
}

/** One skopeo push of the whole image into a freshly started, empty registry. */
export interface PushRun {
  readonly seconds: number;
  readonly cpu: CpuTime;
  readonly startRssBytes: number;
  readonly peakRssBytes: number;
  readonly hwmBytes: number;
  /** The server was started fresh for this push: seconds from its spawn to its first answer to `GET /v2/`. */
  readonly startSeconds: number;
}

/** What one registry did with the skopeo pushes and pulls of the whole image, and the read benchmarks. */
export interface RegistryFigures {
  readonly pushes: readonly PushRun[];
  readonly pullSeconds: readonly number[];
  readonly blobGet: BlobGetFigures;
  readonly manifestGet: ManifestGetFigures;
}

/** The same layer files uploaded by one client to Berth (monolithic POST) and to the bare ingest server (PUT). */
export interface IngestFigures {
  /** Seconds per round of all layers, sequential. */
  readonly roundSeconds: readonly number[];
  /** Server CPU-seconds per round. */
  readonly roundCpuSeconds: readonly number[];
  /** Server peak RSS per round. */
  readonly roundPeakRssBytes: readonly number[];
}

/** One postgres-s3 setup: skopeo push (fresh cluster per run) and pull seconds, and the manifest GET rate. */
export interface ScaleOutSetup {
  readonly pushSeconds: readonly number[];
  readonly pullSeconds: readonly number[];
  readonly manifestGet: WrkResult;
  /** Authenticated `GET /v2/` right after the manifest GETs (one replica, direct). */
  readonly ping?: WrkResult;
}

/** `--postgres-s3`: Berth on PostgreSQL + S3 as one replica, and as two behind an nginx round-robin. */
export interface ScaleOutFigures {
  readonly metadata: string;
  readonly storage: string;
  /** Its manifestGet is direct; manifestGetBehindNginx the same replica alone behind nginx (the proxy's cost). */
  readonly oneReplica: ScaleOutSetup & { readonly manifestGetBehindNginx: WrkResult };
  /** Every figure through nginx. */
  readonly twoReplicas: ScaleOutSetup;
  /** The CNCF registry with its S3 driver on the same Ceph RGW (its metadata in the bucket too). */
  readonly cncf?: ScaleOutSetup;
}

export interface Results {
  readonly mode: 'full' | 'quick';
  readonly startedAt: string;
  readonly machine: {
    readonly cpus: number;
    readonly node: string;
    readonly skopeo: string;
    readonly registry: string;
    readonly nginx: string;
    /** 1-minute load average before and after: other work on the machine makes every figure noisier. */
    readonly loadBefore: number;
    readonly loadAfter: number;
  };
  readonly image: { readonly layers: number; readonly layerBytes: number; readonly totalBytes: number };
  readonly berth: RegistryFigures;
  readonly cncf: RegistryFigures;
  readonly nginxBlobGet: BlobGetFigures;
  readonly blobGetVerify: VerifyFigures;
  readonly logCost: LogCostFigures;
  readonly ingest: { readonly berth: IngestFigures; readonly bare: IngestFigures; readonly bytesPerRound: number };
  /** Only with `--postgres-s3`. */
  readonly postgresS3?: ScaleOutFigures;
}

export interface Check {
  readonly name: string;
  readonly measured: string;
  readonly ratio: number;
  readonly target: string;
  readonly pass: boolean;
}

/** Issue 14: peak RSS in the 1 GiB push under 120 MiB; cold start to a served `/v2/` under 1 s. */
const RSS_LIMIT_BYTES = 120 * 1024 * 1024;
const COLD_START_LIMIT_SECONDS = 1;

/** The targets Berth is held to, each evaluated from the figures of this one run. */
export function evaluate(r: Results): Check[] {
  const berthPush = pushSeconds(r.berth);
  const cncfPush = pushSeconds(r.cncf);
  const berthRss = peakRss(r.berth);
  const berthStart = startSeconds(r.berth);
  const berthIngest = Math.min(...r.ingest.berth.roundSeconds);
  const bareIngest = Math.min(...r.ingest.bare.roundSeconds);
  const berthGet = median(r.berth.blobGet.mbps);
  const nginxGet = median(r.nginxBlobGet.mbps);
  const pushSpeedup = cncfPush / berthPush;
  const ingestSlowdown = berthIngest / bareIngest;
  const getRatio = berthGet / nginxGet;
  const rpsRatio = r.berth.manifestGet.requestsPerSecond / r.cncf.manifestGet.requestsPerSecond;
  const logRatio = median(r.logCost.info) / median(r.logCost.warn);
  const ping = r.berth.manifestGet.ping;
  const pingRatio = ping ? r.berth.manifestGet.requestsPerSecond / ping.requestsPerSecond : 0;
  return [
    {
      name: 'skopeo push vs CNCF registry',
      measured: `${fmt(berthPush, 2)} s vs ${fmt(cncfPush, 2)} s`,
      ratio: pushSpeedup, target: 'speed ≥ 1.00×', pass: pushSpeedup >= 1,
    },
    {
      name: 'ingest vs bare ingest server',
      measured: `${fmt(berthIngest, 2)} s vs ${fmt(bareIngest, 2)} s`,
      ratio: ingestSlowdown, target: 'time ≤ 1.20×', pass: ingestSlowdown <= 1.2,
    },
    {
      name: 'blob GET vs nginx',
      measured: `${fmt(berthGet, 0)} vs ${fmt(nginxGet, 0)} MB/s`,
      ratio: getRatio, target: '≥ 0.80×', pass: getRatio >= 0.8,
    },
    {
      name: 'manifest GET vs CNCF registry',
      measured: `${fmt(r.berth.manifestGet.requestsPerSecond, 0)} vs ${fmt(r.cncf.manifestGet.requestsPerSecond, 0)} req/s`,
      ratio: rpsRatio, target: '≥ 5.00×',
      // Error responses are fast; a rate with any of them counts for nothing.
      pass: rpsRatio >= 5 && r.berth.manifestGet.non2xx === 0,
    },
    {
      // Issue 14: a manifest GET should cost little more than any authenticated request (the manifest cache).
      name: 'manifest GET vs authenticated GET /v2/',
      measured: `${fmt(r.berth.manifestGet.requestsPerSecond, 0)} vs ${ping ? fmt(ping.requestsPerSecond, 0) : '?'} req/s`,
      ratio: pingRatio, target: '≥ 0.70×', pass: pingRatio >= 0.7 && (ping?.non2xx ?? 1) === 0,
    },
    {
      // Issue 16: the default level's request log may cost at most 5% of the manifest GET rate.
      name: 'manifest GET at log.level info vs warn',
      measured: `${fmt(median(r.logCost.info), 0)} vs ${fmt(median(r.logCost.warn), 0)} req/s`,
      ratio: logRatio, target: '≥ 0.95×', pass: logRatio >= 0.95,
    },
    {
      name: 'Berth peak RSS during pushes',
      measured: `${fmt(berthRss / 1e6, 1)} MB`,
      ratio: berthRss / RSS_LIMIT_BYTES, target: `< ${fmt(RSS_LIMIT_BYTES / 1e6, 1)} MB (120 MiB)`, pass: berthRss < RSS_LIMIT_BYTES,
    },
    {
      name: 'Berth cold start to a served GET /v2/',
      measured: `${fmt(berthStart, 2)} s (median of ${r.berth.pushes.length}; CNCF registry ${fmt(startSeconds(r.cncf), 2)} s)`,
      ratio: berthStart / COLD_START_LIMIT_SECONDS, target: `< ${COLD_START_LIMIT_SECONDS} s`, pass: berthStart < COLD_START_LIMIT_SECONDS,
    },
  ];
}

/** The human-readable report: every figure side by side, then the targets. */
export function render(r: Results, checks: readonly Check[]): string {
  const mb = (bytes: number): string => fmt(bytes / 1e6, 1);
  const pullBest = (f: RegistryFigures): number => Math.min(...f.pullSeconds);
  const pushRate = (f: RegistryFigures): string => fmt(r.image.totalBytes / 1e6 / pushSeconds(f), 0);
  const maxMb = (f: RegistryFigures, key: 'startRssBytes' | 'peakRssBytes' | 'hwmBytes'): string => mb(Math.max(...f.pushes.map((p) => p[key])));
  const runs = (values: readonly number[], digits: number): string => values.map((v) => fmt(v, digits)).join(' / ');
  const spread = (values: readonly number[]): string => `${fmt(Math.min(...values), 0)} – ${fmt(Math.max(...values), 0)}`;
  const ingestRate = (f: IngestFigures): string => fmt(r.ingest.bytesPerRound / 1e6 / Math.min(...f.roundSeconds), 0);
  const perThousand = (m: ManifestGetFigures): string => fmt((m.serverCpuSeconds / m.requests) * 1e6, 0);
  const wrkCell = (w: WrkResult): string => `${fmt(w.requestsPerSecond, 0)}${w.non2xx > 0 ? ` (${w.non2xx} non-2xx!)` : ''}`;
  const n = r.image.layers;
  const layerMiB = r.image.layerBytes / 2 ** 20;

  // The run with the median total, shown with its user/system split.
  const pushCpu = (f: RegistryFigures): string => {
    const sorted = f.pushes.map((p) => p.cpu).sort((a, b) => a.user + a.system - (b.user + b.system));
    const c = sorted[Math.floor((sorted.length - 1) / 2)]!;
    return `${fmt(c.user + c.system, 2)} (${fmt(c.user, 2)} usr + ${fmt(c.system, 2)} sys)`;
  };
  const getRate = (g: BlobGetFigures): string => fmt(median(g.mbps), 0);
  // CPU per GB sent makes a slower path visible even when the client is the bottleneck.
  const getCpu = (g: BlobGetFigures): string => fmt(median(g.cpuSeconds) / (r.image.layerBytes / 1e9), 2);

  const rows: string[][] = [
    ['', 'Berth', 'CNCF registry', 'baseline'],
    [`skopeo push ${n}×${layerMiB} MiB (s, median)`, fmt(pushSeconds(r.berth), 2), fmt(pushSeconds(r.cncf), 2), ''],
    ['  all push runs (s)', runs(r.berth.pushes.map((p) => p.seconds), 2), runs(r.cncf.pushes.map((p) => p.seconds), 2), ''],
    ['  push throughput (MB/s, median)', pushRate(r.berth), pushRate(r.cncf), ''],
    ['  server CPU during push (s, median)', pushCpu(r.berth), pushCpu(r.cncf), ''],
    ['  server RSS before push (MB, max)', maxMb(r.berth, 'startRssBytes'), maxMb(r.cncf, 'startRssBytes'), ''],
    ['  server peak RSS during push (MB, max)', maxMb(r.berth, 'peakRssBytes'), maxMb(r.cncf, 'peakRssBytes'), ''],
    ['  server VmHWM after push (MB, max)', maxMb(r.berth, 'hwmBytes'), maxMb(r.cncf, 'hwmBytes'), ''],
    ['cold start to a served GET /v2/ (s, median)', fmt(startSeconds(r.berth), 2), fmt(startSeconds(r.cncf), 2), ''],
    ['skopeo pull (s, best)', fmt(pullBest(r.berth), 2), fmt(pullBest(r.cncf), 2), ''],
    ['  all pull runs (s)', runs(r.berth.pullSeconds, 2), runs(r.cncf.pullSeconds, 2), ''],
    [`blob GET ${layerMiB} MiB (MB/s, median)`, getRate(r.berth.blobGet), getRate(r.cncf.blobGet), `nginx ${getRate(r.nginxBlobGet)}`],
    [`  slowest – fastest of ${r.berth.blobGet.mbps.length} (MB/s)`, spread(r.berth.blobGet.mbps), spread(r.cncf.blobGet.mbps), `nginx ${spread(r.nginxBlobGet.mbps)}`],
    ['  server CPU per GB sent (s, median)', getCpu(r.berth.blobGet), getCpu(r.cncf.blobGet), `nginx ${getCpu(r.nginxBlobGet)}`],
    ...verifyRows(r.blobGetVerify, r.image.layerBytes),
    ['manifest GET (req/s, 32 conns)', wrkCell(r.berth.manifestGet), wrkCell(r.cncf.manifestGet), ''],
    ['  server CPU per 1000 requests (ms)', perThousand(r.berth.manifestGet), perThousand(r.cncf.manifestGet), ''],
    ['  latency p50 / p99', `${r.berth.manifestGet.latencyP50} / ${r.berth.manifestGet.latencyP99}`,
      `${r.cncf.manifestGet.latencyP50} / ${r.cncf.manifestGet.latencyP99}`, ''],
    ['  Berth at log.level info / warn (req/s, median)', `${fmt(median(r.logCost.info), 0)} / ${fmt(median(r.logCost.warn), 0)}`, '',
      `info/warn ${fmt(median(r.logCost.info) / median(r.logCost.warn), 3)}×`],
    ['  all runs at info / at warn (req/s)', `${runs(r.logCost.info, 0)} / ${runs(r.logCost.warn, 0)}`, '', ''],
    ['  server CPU per 1000 requests at info / warn (ms, median)',
      `${fmt(median(r.logCost.infoCpuMsPerThousand), 0)} / ${fmt(median(r.logCost.warnCpuMsPerThousand), 0)}`, '',
      `info/warn ${fmt(median(r.logCost.infoCpuMsPerThousand) / median(r.logCost.warnCpuMsPerThousand), 3)}×`],
    [`ingest ${n}×${layerMiB} MiB, node client (MB/s, best)`, ingestRate(r.ingest.berth), '', `bare ${ingestRate(r.ingest.bare)}`],
    ['  all ingest rounds (s)', runs(r.ingest.berth.roundSeconds, 2), '', `bare ${runs(r.ingest.bare.roundSeconds, 2)}`],
    ['  server CPU per round (s)', runs(r.ingest.berth.roundCpuSeconds, 2), '', `bare ${runs(r.ingest.bare.roundCpuSeconds, 2)}`],
    ['  server peak RSS per round (MB)', runs(r.ingest.berth.roundPeakRssBytes.map((b) => b / 1e6), 1), '',
      `bare ${runs(r.ingest.bare.roundPeakRssBytes.map((b) => b / 1e6), 1)}`],
  ];
  const checkRows: string[][] = [
    ['target', 'measured', 'ratio', 'goal', ''],
    ...checks.map((c) => [c.name, c.measured, `${fmt(c.ratio, 2)}×`, c.target, c.pass ? 'PASS' : 'MISS']),
  ];
  const m = r.machine;
  const scaleOut = r.postgresS3 ? ['', renderScaleOut(r, r.postgresS3), ''] : [];
  return [
    `Berth benchmark (${r.mode}) — ${r.startedAt}`,
    `image: ${n} layers × ${layerMiB} MiB of random bytes, ${mb(r.image.totalBytes)} MB in all (MB = 10^6 bytes)`,
    `machine: ${m.cpus} CPUs, node ${m.node}; ${m.skopeo}; ${m.registry}; ${m.nginx}`,
    `load average (1 min): ${fmt(m.loadBefore, 2)} before, ${fmt(m.loadAfter, 2)} after`,
    '',
    table(rows),
    '',
    table(checkRows),
    ...scaleOut,
    '',
  ].join('\n');
}

/** Rows for Berth's blob GET with storage.verifyOnRead off and on, its default marked. */
function verifyRows(v: VerifyFigures, layerBytes: number): string[][] {
  const rate = (g: BlobGetFigures): string => fmt(median(g.mbps), 0);
  const cpu = (g: BlobGetFigures): string => fmt(median(g.cpuSeconds) / (layerBytes / 1e9), 2);
  const label = (on: boolean): string => `  storage.verifyOnRead ${on ? 'on' : 'off'}${v.defaultOn === on ? ' (default)' : ''}: MB/s, CPU s/GB`;
  return [
    [label(false), `${rate(v.off)}, ${cpu(v.off)}`, '', ''],
    [label(true), `${rate(v.on)}, ${cpu(v.on)}`, '', `on/off ${fmt(median(v.on.mbps) / median(v.off.mbps), 2)}×`],
  ];
}

/** `npm run bench -- --blob-get`: Berth's blob GET with verification off and on, and nginx, from one run. */
export function renderBlobGet(f: {
  layerBytes: number; verify: VerifyFigures; nginx: BlobGetFigures; loadBefore: number; loadAfter: number;
}): string {
  const row = (name: string, g: BlobGetFigures): string[] => [
    name, fmt(median(g.mbps), 0), `${fmt(Math.min(...g.mbps), 0)} – ${fmt(Math.max(...g.mbps), 0)}`, fmt(median(g.cpuSeconds) / (f.layerBytes / 1e9), 2),
  ];
  const mark = (on: boolean): string => (f.verify.defaultOn === on ? ' (default)' : '');
  return [
    `blob GET of ${fmt(f.layerBytes / 2 ** 20, 0)} MiB, ${f.nginx.mbps.length} runs each; load average ${fmt(f.loadBefore, 2)} before, ${fmt(f.loadAfter, 2)} after`,
    '',
    table([
      ['', 'MB/s (median)', 'slowest – fastest', 'server CPU s/GB'],
      row(`Berth, verifyOnRead off${mark(false)}`, f.verify.off),
      row(`Berth, verifyOnRead on${mark(true)}`, f.verify.on),
      row('nginx', f.nginx),
    ]),
    '',
    `verification on/off: ${fmt(median(f.verify.on.mbps) / median(f.verify.off.mbps), 2)}× the throughput, `
      + `${fmt(median(f.verify.on.cpuSeconds) / median(f.verify.off.cpuSeconds), 2)}× the CPU per GB`,
    '',
  ].join('\n');
}

/** The postgres-s3 figures beside the embedded Berth's (SQLite + filesystem) from the same run. */
function renderScaleOut(r: Results, s: ScaleOutFigures): string {
  const n = r.image.layers;
  const layerMiB = r.image.layerBytes / 2 ** 20;
  const rate = (seconds: number): string => fmt(r.image.totalBytes / 1e6 / seconds, 0);
  const runs = (values: readonly number[]): string => values.map((v) => fmt(v, 2)).join(' / ');
  const wrkCell = (w: WrkResult): string => `${fmt(w.requestsPerSecond, 0)}${w.non2xx > 0 ? ` (${w.non2xx} non-2xx!)` : ''}`;
  const embeddedPush = pushSeconds(r.berth);
  const [one, two] = [s.oneReplica, s.twoReplicas];
  // The CNCF registry on the same S3, when measured: a fourth column, and Berth's 1-replica figures against it.
  const c = s.cncf;
  const col = (f: (x: ScaleOutSetup) => string): string[] => (c ? [f(c)] : []);
  const rows: string[][] = [
    ['', 'embedded (SQLite + fs)', 'postgres-s3, 1 replica', 'postgres-s3, 2 replicas + nginx', ...(c ? ['CNCF registry, same S3'] : [])],
    [`skopeo push ${n}×${layerMiB} MiB (s, median)`, fmt(embeddedPush, 2), fmt(median(one.pushSeconds), 2), fmt(median(two.pushSeconds), 2), ...col((x) => fmt(median(x.pushSeconds), 2))],
    ['  all push runs (s)', runs(r.berth.pushes.map((p) => p.seconds)), runs(one.pushSeconds), runs(two.pushSeconds), ...col((x) => runs(x.pushSeconds))],
    ['  push throughput (MB/s, median)', rate(embeddedPush), rate(median(one.pushSeconds)), rate(median(two.pushSeconds)), ...col((x) => rate(median(x.pushSeconds)))],
    ['skopeo pull (s, best)', fmt(Math.min(...r.berth.pullSeconds), 2), fmt(Math.min(...one.pullSeconds), 2), fmt(Math.min(...two.pullSeconds), 2), ...col((x) => fmt(Math.min(...x.pullSeconds), 2))],
    ['  all pull runs (s)', runs(r.berth.pullSeconds), runs(one.pullSeconds), runs(two.pullSeconds), ...col((x) => runs(x.pullSeconds))],
    ['manifest GET (req/s, 32 conns)', wrkCell(r.berth.manifestGet), wrkCell(one.manifestGet), wrkCell(two.manifestGet), ...col((x) => wrkCell(x.manifestGet))],
    ['  latency p50 / p99', `${r.berth.manifestGet.latencyP50} / ${r.berth.manifestGet.latencyP99}`,
      `${one.manifestGet.latencyP50} / ${one.manifestGet.latencyP99}`, `${two.manifestGet.latencyP50} / ${two.manifestGet.latencyP99}`,
      ...col((x) => `${x.manifestGet.latencyP50} / ${x.manifestGet.latencyP99}`)],
    ['  1 replica behind the same nginx (req/s)', '', wrkCell(one.manifestGetBehindNginx), '', ...col(() => '')],
    ['authenticated GET /v2/ (req/s, 32 conns)', r.berth.manifestGet.ping ? wrkCell(r.berth.manifestGet.ping) : '', one.ping ? wrkCell(one.ping) : '', '', ...col(() => '')],
    ['  manifest GET / authenticated GET /v2/', r.berth.manifestGet.ping ? fmt(r.berth.manifestGet.requestsPerSecond / r.berth.manifestGet.ping.requestsPerSecond, 2) : '',
      one.ping ? fmt(one.manifestGet.requestsPerSecond / one.ping.requestsPerSecond, 2) : '', '', ...col(() => '')],
  ];
  const versus = c
    ? [
      '',
      `Berth postgres-s3 (1 replica) against the CNCF registry on the same S3: push speed ${fmt(median(c.pushSeconds) / median(one.pushSeconds), 2)}×, `
        + `pull speed ${fmt(Math.min(...c.pullSeconds) / Math.min(...one.pullSeconds), 2)}×, manifest GET ${fmt(one.manifestGet.requestsPerSecond / c.manifestGet.requestsPerSecond, 2)}× `
        + `(2 replicas: ${fmt(median(c.pushSeconds) / median(two.pushSeconds), 2)}×, ${fmt(Math.min(...c.pullSeconds) / Math.min(...two.pullSeconds), 2)}×, `
        + `${fmt(two.manifestGet.requestsPerSecond / c.manifestGet.requestsPerSecond, 2)}×)`,
    ]
    : [];
  return [
    `postgres-s3: ${s.metadata}; ${s.storage}; all on this machine (${r.machine.cpus} CPUs), nginx round-robin for 2 replicas`,
    '',
    table(rows),
    ...versus,
  ].join('\n');
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  return rows.map((row) => row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd()).join('\n');
}

function fmt(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function pushSeconds(f: RegistryFigures): number {
  return median(f.pushes.map((p) => p.seconds));
}

function startSeconds(f: RegistryFigures): number {
  return median(f.pushes.map((p) => p.startSeconds));
}

/** The RSS target holds for every push, so the worst run counts. */
function peakRss(f: RegistryFigures): number {
  return Math.max(...f.pushes.map((p) => p.peakRssBytes));
}
