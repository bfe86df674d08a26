/**
 * `npm run bench [-- --quick] [--postgres-s3] [--ui-pages] [--retention]`: Berth and the CNCF registry side by side on loopback, with a bare
 * Node ingest server and nginx as the machine's limits, all in one run so every ratio compares figures taken
 * minutes apart on the same machine. Prints a table and the targets (PASS/MISS) and writes .bench/results.json.
 * `--postgres-s3` then runs Berth on PostgreSQL + S3 as one and as two replicas (bench/scale-out.ts).
 * `--ui-pages` then measures the web UI's render times at 1,000 packages / 10,000 versions (bench/ui-pages.ts).
 * `--retention` then times a retention dry run over one package of 100,000 versions (bench/retention.ts).
 * `--quota` runs only the quota part (bench/quota-check.ts): the server time storage accounting and the quota check
 * add to a manifest push, for an owner holding 100,000 blobs (target: under 1 ms).
 * `--blob-get` (also with `--quick`) runs only the blob GET comparison: Berth with storage.verifyOnRead off and on,
 * and nginx, on one pushed layer; it prints its own table and writes .bench/blob-get.json.
 * `--seed [--scale F]` runs only the registry-size part (bench/listings.ts): seeds SQLite and PostgreSQL with 100,000
 * repositories, 1,000,000 manifests and 2,000,000 tags (times F), prints the seeding times and the listings' latencies
 * (`--sqlite` or `--postgres`: that backend only). `--gc [--scale F]` times `berth gc` over that registry on SQLite,
 * with blobs and links added (bench/gc-scale.ts). `--pull-storm` (also with `--quick`) runs only the pull storm
 * (bench/pull-storm.ts): 100 concurrent pulls of one image from Berth and the same files from nginx. `--upload-storm`
 * (also with `--quick`) runs only the upload storm (bench/upload-storm.ts): 200 concurrent chunked uploads to Berth,
 * then to the CNCF registry. `--mirror` (also
 * with `--quick`) runs only the pull-through cache part (bench/mirror.ts): first pull through Berth against a direct
 * pull from the CNCF registry, and a cached pull against a pull of a pushed image. `--all` runs every part above in
 * turn, each in its own process (about 30 minutes).
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup } from './cleanup.js';
import { curlGet, run, skopeoPull, skopeoPush, uploadFile, wrk } from './clients.js';
import { buildRandomImage, MANIFEST_MEDIA_TYPE, type BenchImage, type BlobFile } from './image.js';
import { mbPerSecond, measurePhase, settleDisk, timed } from './measure.js';
import {
  evaluate, render, renderBlobGet, type BlobGetFigures, type IngestFigures, type LogCostFigures, type ManifestGetFigures, type PushRun,
  type RegistryFigures, type Results, type VerifyFigures,
} from './report.js';
import { SCHEMA } from '../src/config/schema.js';
import { benchListings } from './listings.js';
import { benchMirror } from './mirror.js';
import { benchGcAtScale } from './gc-scale.js';
import { benchPullStorm } from './pull-storm.js';
import { benchUploadStorm } from './upload-storm.js';
import { measureScaleOut } from './scale-out.js';
import { authorization, startBerth, startCncfRegistry, startIngestServer, startNginx, verifyManifest, type Server } from './servers.js';

const ROOT = new URL('..', import.meta.url).pathname;
const MiB = 1024 * 1024;
/** A hung client or server must not keep the bench (and its servers) alive forever. */
const WATCHDOG_MS = 15 * 60 * 1000;

interface Mode {
  readonly name: 'full' | 'quick';
  readonly layerCount: number;
  readonly layerBytes: number;
  readonly pushRuns: number;
  readonly pullRuns: number;
  readonly getRuns: number;
  readonly ingestRounds: number;
  readonly wrkSeconds: number;
}

/** Quick mode keeps every step and run count, with 1/8 of the bytes and shorter wrk runs: a check, not a figure. */
const MODES: Record<Mode['name'], Mode> = {
  full: { name: 'full', layerCount: 4, layerBytes: 256 * MiB, pushRuns: 3, pullRuns: 3, getRuns: 9, ingestRounds: 3, wrkSeconds: 10 },
  quick: { name: 'quick', layerCount: 4, layerBytes: 32 * MiB, pushRuns: 3, pullRuns: 3, getRuns: 9, ingestRounds: 3, wrkSeconds: 3 },
};

/** What `berth serve` does without configuration; the bench measures the other setting beside it. */
const VERIFY_DEFAULT: boolean = SCHEMA['storage.verifyOnRead'].default;
const WORK_PREFIX = 'berth-bench-';
/** Names the bench process that owns a work dir, so a later run can tell an abandoned one. */
const OWNER_FILE = 'owner.pid';
const REPO = 'bench/big';
const TAG = '1';
const started = Date.now();

function progress(message: string): void {
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--all' && args.length === 1) return everything();
  if (args[0] === '--seed') return seedOnly(args.slice(1));
  if (args[0] === '--gc') return gcOnly(args.slice(1));
  if (args.includes('--pull-storm')) return pullStormOnly(args);
  if (args.includes('--upload-storm')) return uploadStormOnly(args);
  if (args.includes('--mirror')) return mirrorOnly(args);
  if (args[0] === '--quota') return quotaOnly(args.slice(1));
  if (args.some((a) => a !== '--quick' && a !== '--postgres-s3' && a !== '--ui-pages' && a !== '--retention' && a !== '--blob-get')) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const mode = args.includes('--quick') ? MODES.quick : MODES.full;
  const postgresS3 = args.includes('--postgres-s3');
  if (args.includes('--blob-get')) return benchBlobGetOnly(mode);
  const cleanup = new Cleanup();
  cleanup.installHandlers();
  const watchdog = setTimeout(() => {
    progress(`still running after ${WATCHDOG_MS / 60000} min: giving up`);
    void cleanup.run().finally(() => process.exit(1));
  }, WATCHDOG_MS);
  watchdog.unref();
  try {
    const results = await bench(mode, cleanup, postgresS3);
    const checks = evaluate(results);
    process.stdout.write(render(results, checks));
    await mkdir(join(ROOT, '.bench'), { recursive: true });
    await writeFile(join(ROOT, '.bench/results.json'), `${JSON.stringify({ ...results, checks }, null, 2)}\n`);
    progress('results written to .bench/results.json');
  } catch (err) {
    if (!cleanup.interrupted) process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  } finally {
    clearTimeout(watchdog);
    progress('stopping servers, removing temp files');
    await cleanup.run();
  }
  // Its own process and servers, once the registries above are gone; it prints its own table and PASS/FAIL.
  if (args.includes('--ui-pages') && process.exitCode !== 1) {
    const pages = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/ui-pages.ts')], { stdio: 'inherit' });
    if (pages.status !== 0) process.exitCode = 1;
  }
  if (args.includes('--retention') && process.exitCode !== 1) {
    const retention = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/retention.ts')], { stdio: 'inherit' });
    if (retention.status !== 0) process.exitCode = 1;
  }
}

const USAGE = 'usage: npm run bench [-- --all | [--quick] [--postgres-s3] [--ui-pages] [--retention] | [--quick] --blob-get | --seed [--scale F] [--sqlite | --postgres] | --gc [--scale F] | [--quick] --pull-storm | [--quick] --upload-storm | [--quick] --mirror | --quota [BLOBS]]';

/**
 * `--all`: every part of the bench in turn (issue 14: "prints all of it in one run"), each in its own process as if
 * run alone, so each starts and removes its own servers and data: the full bench with PostgreSQL + S3, the web UI
 * pages and retention, then the registry-size listings at full size, GC over the seeded registry, the pull and
 * upload storms, and the pull-through cache. About 30 minutes on the 2-core test machine.
 */
function everything(): void {
  const parts = [
    ['--postgres-s3', '--ui-pages', '--retention'], ['--seed'], ['--gc'], ['--pull-storm'], ['--upload-storm'], ['--mirror'],
  ];
  const outcomes: string[] = [];
  for (const part of parts) {
    progress(`npm run bench -- ${part.join(' ')}`);
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/run.ts'), ...part], { stdio: 'inherit' });
    outcomes.push(`${part.join(' ')}: ${run.status === 0 ? 'done' : `failed (${run.status ?? run.signal})`}`);
    if (run.status !== 0) process.exitCode = 1;
  }
  process.stdout.write(`\nbench --all: ${((Date.now() - started) / 60000).toFixed(1)} min\n${outcomes.map((o) => `  ${o}`).join('\n')}\n`);
}

/** `--quota [BLOBS]`: the quota check's cost alone, in its own process (bench/quota-check.ts prints PASS/MISS). */
function quotaOnly(args: string[]): void {
  const quota = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/quota-check.ts'), ...args], { stdio: 'inherit' });
  if (quota.status !== 0) process.exitCode = 1;
}

/** `--seed [--scale F]`: the registry-size bench alone (bench/listings.ts). */
async function seedOnly(args: string[]): Promise<void> {
  const only = args.includes('--sqlite') ? 'sqlite' : args.includes('--postgres') ? 'postgres' : null;
  const rest = args.filter((a) => a !== '--sqlite' && a !== '--postgres');
  const scale = rest[0] === '--scale' && rest.length === 2 ? Number(rest[1]) : rest.length === 0 ? 1 : NaN;
  if (!(scale > 0 && scale <= 1)) {
    process.stderr.write(`${USAGE}\n(--scale takes a number in (0, 1])\n`);
    process.exit(2);
  }
  await alone((cleanup) => benchListings(scale, only, cleanup, progress));
}

/** `--gc [--scale F]`: berth gc over a seeded registry (bench/gc-scale.ts). */
async function gcOnly(args: string[]): Promise<void> {
  const scale = args[0] === '--scale' && args.length === 2 ? Number(args[1]) : args.length === 0 ? 1 : NaN;
  if (!(scale > 0 && scale <= 1)) {
    process.stderr.write(`${USAGE}\n(--scale takes a number in (0, 1])\n`);
    process.exit(2);
  }
  await alone((cleanup) => benchGcAtScale(scale, cleanup, progress));
}

/** `--pull-storm [--quick]`: 100 concurrent pulls from Berth and from nginx (bench/pull-storm.ts). */
async function pullStormOnly(args: string[]): Promise<void> {
  if (args.some((a) => a !== '--quick' && a !== '--pull-storm')) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  await alone((cleanup) => benchPullStorm(args.includes('--quick'), cleanup, progress));
}

/** `--upload-storm [--quick]`: 200 concurrent chunked uploads to Berth and to the CNCF registry (bench/upload-storm.ts). */
async function uploadStormOnly(args: string[]): Promise<void> {
  if (args.some((a) => a !== '--quick' && a !== '--upload-storm')) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  await alone((cleanup) => benchUploadStorm(args.includes('--quick'), cleanup, progress));
}

/** `--mirror [--quick]`: the pull-through cache against its upstream and against a pushed image (bench/mirror.ts). */
async function mirrorOnly(args: string[]): Promise<void> {
  if (args.some((a) => a !== '--quick' && a !== '--mirror')) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  await alone((cleanup) => benchMirror(args.includes('--quick'), cleanup, progress));
}

/** A part of the bench run on its own: tools ready, everything it starts stopped and removed however it ends. */
async function alone(task: (cleanup: Cleanup) => Promise<unknown>): Promise<void> {
  const cleanup = new Cleanup();
  cleanup.installHandlers();
  try {
    await prepareTools();
    await task(cleanup);
  } catch (err) {
    if (!cleanup.interrupted) process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  } finally {
    progress('stopping servers, removing temp files');
    await cleanup.run();
  }
}

async function bench(mode: Mode, cleanup: Cleanup, postgresS3: boolean): Promise<Results> {
  const loadBefore = loadavg()[0]!;
  const versions = await prepareTools();
  await removeStaleWorkDirs();
  const work = await mkdtemp(join(tmpdir(), WORK_PREFIX));
  cleanup.add('remove temp dir', () => rm(work, { recursive: true, force: true }));
  await writeFile(join(work, OWNER_FILE), String(process.pid));
  // nginx workers run unprivileged and must reach the image blobs below this directory.
  await chmod(work, 0o755);
  await requireFreeSpace(work, mode.layerCount * mode.layerBytes * 7);

  progress(`generating ${mode.layerCount} × ${mode.layerBytes / MiB} MiB random layers in ${work}`);
  const image = await buildRandomImage(join(work, 'image'), { layerCount: mode.layerCount, layerBytes: mode.layerBytes, tag: 'bench' });

  const { pushes, registries } = await measurePushes(mode, image, [
    (run) => startBerth(join(work, `berth-${run}`), cleanup),
    (run) => startCncfRegistry(join(work, `cncf-${run}`), cleanup),
  ]);
  const [berth, cncf] = registries as [Server, Server];
  progress('starting nginx and the bare ingest server');
  const nginx = await startNginx(join(work, 'nginx'), image.dir, cleanup);
  const bare = await startIngestServer(join(work, 'bare'), cleanup);
  const pulls = await measurePulls(mode, join(work, 'pulled'), registries);
  const layer = image.layers[0]!;
  // The cost of storage.verifyOnRead: a second Berth on the same data, with the setting the first does not have.
  const otherVerify = await startOtherVerifyBerth(berth, cleanup);
  const gets = await measureBlobGets(mode, layer, [
    { server: berth, path: `/v2/${REPO}/blobs/${layer.digest}` },
    { server: cncf, path: `/v2/${REPO}/blobs/${layer.digest}` },
    // nginx serves the OCI layout itself: the very file the registries got.
    { server: nginx, path: `/blobs/sha256/${layer.digest.slice('sha256:'.length)}` },
    { server: otherVerify, path: `/v2/${REPO}/blobs/${layer.digest}` },
  ]);
  await otherVerify.stop();
  const rates = await measureManifestRates(mode, registries);
  const logCost = await measureLogCost(mode, berth, cleanup);
  const ingest = await measureIngest(mode, image, berth, bare);
  // The embedded servers are done; stopping them leaves the machine to the postgres-s3 clusters.
  if (postgresS3) await Promise.all([berth.stop(), cncf.stop(), nginx.stop(), bare.stop()]);
  const scaleOut = postgresS3 ? await measureScaleOut(mode, image, work, cleanup, progress) : undefined;

  const figures = (k: 0 | 1): RegistryFigures => ({
    pushes: pushes[k]!,
    pullSeconds: pulls[k]!,
    blobGet: gets[k]!,
    manifestGet: rates[k]!,
  });
  return {
    mode: mode.name,
    startedAt: new Date(started).toISOString(),
    machine: { cpus: availableParallelism(), node: process.version, ...versions, loadBefore, loadAfter: loadavg()[0]! },
    image: { layers: mode.layerCount, layerBytes: mode.layerBytes, totalBytes: image.totalBytes },
    berth: figures(0),
    cncf: figures(1),
    nginxBlobGet: gets[2]!,
    blobGetVerify: verifyFigures(gets[0]!, gets[3]!),
    logCost,
    ingest: { ...ingest, bytesPerRound: image.layers.reduce((sum, l) => sum + l.size, 0) },
    ...(scaleOut ? { postgresS3: scaleOut } : {}),
  };
}

/**
 * skopeo pushes of the whole image, each into a registry started fresh for it, watching the server's CPU and
 * memory meanwhile. Fresh matters twice: an empty store, and a new port, so skopeo's blob-info cache knows no
 * location to mount the layers from and really uploads them. The last instance of each stays up for the
 * read benchmarks; earlier ones are stopped and their data removed.
 */
async function measurePushes(mode: Mode, image: BenchImage, launchers: readonly ((run: number) => Promise<Server>)[]):
  Promise<{ pushes: PushRun[][]; registries: Server[] }> {
  const pushes = launchers.map((): PushRun[] => []);
  const registries: Server[] = [];
  for (let run = 1; run <= mode.pushRuns; run++) {
    const last = run === mode.pushRuns;
    // Alternate who goes first, so a slow moment of the machine does not always fall on the same one.
    const order = run % 2 === 1 ? launchers.map((_, k) => k) : launchers.map((_, k) => launchers.length - 1 - k);
    for (const k of order) {
      const server = await launchers[k]!(run);
      progress(`skopeo push → ${server.name} (run ${run}/${mode.pushRuns})`);
      settleDisk();
      const phase = await measurePhase(server.pid, () => skopeoPush(image.dir, image.tag, `${server.host}/${REPO}:${TAG}`, server.credentials));
      await verifyManifest(server, REPO, TAG, image.manifestDigest);
      const { seconds, cpu, startRssBytes, peakRssBytes, hwmBytes } = phase;
      if (server.startSeconds === null) throw new Error(`${server.name}: no start time measured`);
      pushes[k]!.push({ seconds, cpu, startRssBytes, peakRssBytes, hwmBytes, startSeconds: server.startSeconds });
      if (last) registries[k] = server;
      else await server.stop().then(() => rm(server.dataDir, { recursive: true, force: true }));
    }
  }
  return { pushes, registries };
}

/** Seconds per skopeo pull into an empty OCI layout, alternating registries run by run. */
async function measurePulls(mode: Mode, dir: string, registries: readonly Server[]): Promise<number[][]> {
  const pulls = registries.map((): number[] => []);
  for (let i = 0; i < mode.pullRuns; i++) {
    for (const [k, server] of registries.entries()) {
      progress(`skopeo pull ← ${server.name} (run ${i + 1}/${mode.pullRuns})`);
      settleDisk();
      const { seconds } = await timed(() => skopeoPull(`${server.host}/${REPO}:${TAG}`, dir, 'bench', server.credentials));
      pulls[k]!.push(seconds);
      // Each pull starts from an empty layout, or skopeo would find the blobs already there.
      await rm(dir, { recursive: true, force: true });
    }
  }
  return pulls;
}

/** Berth on `berth`'s data directory with storage.verifyOnRead the other way round from its default. */
function startOtherVerifyBerth(berth: Server, cleanup: Cleanup): Promise<Server> {
  const on = !VERIFY_DEFAULT;
  return startBerth(berth.dataDir, cleanup, {
    env: { BERTH_STORAGE_VERIFY_ON_READ: String(on) }, credentials: berth.credentials, name: `Berth (verifyOnRead ${on ? 'on' : 'off'})`,
  });
}

/** The default Berth's GETs and the other's, as verification off and on. */
function verifyFigures(defaultBerth: BlobGetFigures, other: BlobGetFigures): VerifyFigures {
  return VERIFY_DEFAULT ? { on: defaultBerth, off: other, defaultOn: true } : { on: other, off: defaultBerth, defaultOn: false };
}

/**
 * `--blob-get`: the blob GET part alone, for the cost of storage.verifyOnRead. One layer pushed to Berth, then full
 * GETs from Berth with verification off, on, and nginx serving the same file, interleaved.
 */
async function benchBlobGetOnly(mode: Mode): Promise<void> {
  const cleanup = new Cleanup();
  cleanup.installHandlers();
  try {
    const loadBefore = loadavg()[0]!;
    await prepareTools();
    await removeStaleWorkDirs();
    const work = await mkdtemp(join(tmpdir(), WORK_PREFIX));
    cleanup.add('remove temp dir', () => rm(work, { recursive: true, force: true }));
    await writeFile(join(work, OWNER_FILE), String(process.pid));
    await chmod(work, 0o755);
    await requireFreeSpace(work, mode.layerBytes * 4);
    progress(`generating one ${mode.layerBytes / MiB} MiB random layer in ${work}`);
    const image = await buildRandomImage(join(work, 'image'), { layerCount: 1, layerBytes: mode.layerBytes, tag: 'bench' });
    const berth = await startBerth(join(work, 'berth'), cleanup);
    progress('skopeo push → Berth');
    await skopeoPush(image.dir, image.tag, `${berth.host}/${REPO}:${TAG}`, berth.credentials);
    await verifyManifest(berth, REPO, TAG, image.manifestDigest);
    const other = await startOtherVerifyBerth(berth, cleanup);
    const nginx = await startNginx(join(work, 'nginx'), image.dir, cleanup);
    const layer = image.layers[0]!;
    const [first, nginxGet, second] = await measureBlobGets(mode, layer, [
      { server: berth, path: `/v2/${REPO}/blobs/${layer.digest}` },
      { server: nginx, path: `/blobs/sha256/${layer.digest.slice('sha256:'.length)}` },
      { server: other, path: `/v2/${REPO}/blobs/${layer.digest}` },
    ]);
    const figures = { layerBytes: layer.size, verify: verifyFigures(first!, second!), nginx: nginxGet!, loadBefore, loadAfter: loadavg()[0]! };
    process.stdout.write(renderBlobGet(figures));
    await mkdir(join(ROOT, '.bench'), { recursive: true });
    await writeFile(join(ROOT, '.bench/blob-get.json'), `${JSON.stringify({ mode: mode.name, startedAt: new Date(started).toISOString(), ...figures }, null, 2)}\n`);
    progress('results written to .bench/blob-get.json');
  } catch (err) {
    if (!cleanup.interrupted) process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  } finally {
    progress('stopping servers, removing temp files');
    await cleanup.run();
  }
}

/** Full GETs of one layer with curl, from each server in turn, with the server's CPU per GET. */
async function measureBlobGets(mode: Mode, layer: BlobFile, targets: readonly { server: Server; path: string }[]): Promise<BlobGetFigures[]> {
  progress(`blob GET of ${layer.size / MiB} MiB, ${mode.getRuns} runs per server`);
  const gets = targets.map(() => ({ mbps: [] as number[], cpuSeconds: [] as number[] }));
  const headers = await Promise.all(targets.map(({ server }) => authorization(server, `repository:${REPO}:pull`)));
  // One unmeasured GET each warms the page cache for every server alike.
  for (const [k, { server, path }] of targets.entries()) await curlGet(server.url + path, headers[k]);
  for (let i = 0; i < mode.getRuns; i++) {
    // Interleaved, so a noisy moment on the machine is shared rather than landing on one server.
    for (const [k, { server, path }] of targets.entries()) {
      const phase = await measurePhase(server.pid, () => curlGet(server.url + path, headers[k]));
      const { bytes, seconds } = phase.value;
      if (bytes !== layer.size) throw new Error(`GET ${server.url + path} returned ${bytes} bytes, expected ${layer.size}`);
      gets[k]!.mbps.push(mbPerSecond(bytes, seconds));
      gets[k]!.cpuSeconds.push(phase.cpuSeconds);
    }
  }
  return gets;
}

/** Manifest GETs by tag with wrk: 2 threads, 32 connections, the OCI manifest type accepted. */
async function measureManifestRates(mode: Mode, registries: readonly Server[]): Promise<ManifestGetFigures[]> {
  const rates: ManifestGetFigures[] = [];
  for (const server of registries) {
    progress(`manifest GET with wrk → ${server.name} (${mode.wrkSeconds} s)`);
    // Berth checks a registry token on every request (as for docker pull); the CNCF registry runs without auth.
    const auth = await authorization(server, `repository:${REPO}:pull`);
    const phase = await measurePhase(server.pid, () => wrk(`${server.url}/v2/${REPO}/manifests/${TAG}`, {
      threads: 2, connections: 32, seconds: mode.wrkSeconds, headers: { Accept: MANIFEST_MEDIA_TYPE, ...auth },
    }));
    if (!server.credentials) {
      rates.push({ ...phase.value, serverCpuSeconds: phase.cpuSeconds });
      continue;
    }
    progress(`authenticated GET /v2/ with wrk → ${server.name} (${mode.wrkSeconds} s)`);
    const ping = await wrk(`${server.url}/v2/`, { threads: 2, connections: 32, seconds: mode.wrkSeconds, headers: auth });
    rates.push({ ...phase.value, serverCpuSeconds: phase.cpuSeconds, ping });
  }
  return rates;
}

/**
 * The cost of the request log: manifest GETs (as measureManifestRates) from Berth at log.level warn (the bench's
 * Berth: no request lines) and from a second Berth on the same data at info (the default: one line per request,
 * to a pipe the bench drains, as journald or a container runtime would), in alternating runs.
 */
async function measureLogCost(mode: Mode, warnBerth: Server, cleanup: Cleanup): Promise<LogCostFigures> {
  const infoBerth = await startBerth(warnBerth.dataDir, cleanup, { env: { BERTH_LOG_LEVEL: 'info' }, credentials: warnBerth.credentials, name: 'Berth (log.level info)' });
  const figures = { info: [] as number[], warn: [] as number[], infoCpuMsPerThousand: [] as number[], warnCpuMsPerThousand: [] as number[] };
  try {
    for (let run = 1; run <= 3; run++) {
      const order: ['info' | 'warn', Server][] = run % 2 === 1 ? [['info', infoBerth], ['warn', warnBerth]] : [['warn', warnBerth], ['info', infoBerth]];
      for (const [level, server] of order) {
        progress(`manifest GET with wrk → Berth at log.level ${level} (run ${run}/3, ${mode.wrkSeconds} s)`);
        const auth = await authorization(server, `repository:${REPO}:pull`);
        const phase = await measurePhase(server.pid, () => wrk(`${server.url}/v2/${REPO}/manifests/${TAG}`, {
          threads: 2, connections: 32, seconds: mode.wrkSeconds, headers: { Accept: MANIFEST_MEDIA_TYPE, ...auth },
        }));
        const result = phase.value;
        if (result.non2xx > 0) throw new Error(`manifest GET at log.level ${level}: ${result.non2xx} non-2xx responses`);
        figures[level].push(result.requestsPerSecond);
        // The server's CPU per request: what logging costs even when other load on the machine skews the rates.
        figures[level === 'info' ? 'infoCpuMsPerThousand' : 'warnCpuMsPerThousand'].push((phase.cpuSeconds / result.requests) * 1e6);
      }
    }
  } finally {
    await infoBerth.stop();
  }
  return figures;
}

/**
 * The same layer files, sequentially, with the same node client: a monolithic `POST ?digest=` to Berth and a
 * `PUT ?digest=` to the bare server. Rounds alternate which server goes first.
 */
async function measureIngest(mode: Mode, image: BenchImage, berth: Server, bare: Server): Promise<{ berth: IngestFigures; bare: IngestFigures }> {
  const targets = {
    berth: { server: berth, method: 'POST' as const, url: (digest: string) => `${berth.url}/v2/bench/ingest/blobs/uploads/?digest=${digest}` },
    bare: { server: bare, method: 'PUT' as const, url: (digest: string) => `${bare.url}/?digest=${digest}` },
  };
  const empty = () => ({ roundSeconds: [] as number[], roundCpuSeconds: [] as number[], roundPeakRssBytes: [] as number[] });
  const out = { berth: empty(), bare: empty() };
  for (let round = 0; round < mode.ingestRounds; round++) {
    const order = round % 2 === 0 ? (['bare', 'berth'] as const) : (['berth', 'bare'] as const);
    for (const key of order) {
      const { server, method, url } = targets[key];
      const auth = await authorization(server, 'repository:bench/ingest:pull,push');
      progress(`ingest ${image.layers.length} blobs → ${server.name} (round ${round + 1}/${mode.ingestRounds})`);
      settleDisk();
      const phase = await measurePhase(server.pid, async () => {
        for (const layer of image.layers) await uploadFile(method, url(layer.digest), layer.path, layer.size, auth);
      });
      out[key].roundSeconds.push(phase.seconds);
      out[key].roundCpuSeconds.push(phase.cpuSeconds);
      out[key].roundPeakRssBytes.push(phase.peakRssBytes);
    }
  }
  return out;
}

/** Installs missing Debian packages (as CI does) and checks every tool the bench drives is there. */
async function prepareTools(): Promise<{ skopeo: string; registry: string; nginx: string }> {
  progress('building Berth (npm run build): the bench measures the compiled server that npm start runs');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0) throw new Error('npm run build failed');
  const install = spawnSync('bash', [join(ROOT, 'scripts/install-test-deps.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (install.status !== 0) progress('scripts/install-test-deps.sh failed; continuing with the tools already installed');
  const missing = ['skopeo', '/usr/bin/docker-registry', '/usr/sbin/nginx', 'wrk', 'curl', 'setpriv']
    .filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length > 0) throw new Error(`missing tools: ${missing.join(', ')} (run scripts/install-test-deps.sh as root)`);
  const firstLine = (text: string): string => text.trim().split('\n')[0] ?? '';
  return {
    skopeo: firstLine(await run('skopeo', ['--version'])),
    registry: `docker-registry ${firstLine(await run('/usr/bin/docker-registry', ['--version'])).split(' ').pop()}`,
    nginx: firstLine(await run('/usr/sbin/nginx', ['-v'])).replace('nginx version: ', ''),
  };
}

/**
 * A bench killed outright (SIGKILL, OOM) cannot remove its gigabytes of temp data; its servers die with it (see
 * servers.ts). The next run removes such dirs, once their owner is gone — never those of a bench still running.
 */
async function removeStaleWorkDirs(): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith(WORK_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const owner = Number(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => ''));
    if (owner > 0 && !isAlive(owner)) {
      progress(`removing ${dir}, left behind by an earlier run`);
      await rm(dir, { recursive: true, force: true });
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function requireFreeSpace(dir: string, bytes: number): Promise<void> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < bytes) throw new Error(`${dir} has ${(free / 1e9).toFixed(1)} GB free; the bench needs about ${(bytes / 1e9).toFixed(1)} GB`);
}

await main();
