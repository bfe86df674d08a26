/**
 * `npm run bench -- --pull-storm [--quick]`: 100 clients pulling the same image at once, as a rolling deployment
 * does (issue 14). One image of one 100 MiB random layer (16 MiB with --quick) is pushed to Berth with skopeo; then
 * 100 curl processes start together, each fetching what a pull fetches: a registry token from /token (Berth only),
 * the manifest, the config and the layer. The same 100 clients then fetch the same three files from nginx serving
 * the image's OCI layout. Printed: aggregate throughput of each (and the ratio, target ≥ 0.8× nginx), Berth's
 * peak RSS during the storm (target < 250 MB), and the latency of manifest GETs made one after another meanwhile.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Cleanup } from './cleanup.js';
import { skopeoPush } from './clients.js';
import { buildRandomImage, MANIFEST_MEDIA_TYPE } from './image.js';
import { measurePhase } from './measure.js';
import { startBerth, startNginx, verifyManifest, type Server } from './servers.js';

const MiB = 1024 * 1024;
const CLIENTS = 100;
const REPO = 'bench/storm';
const TAG = '1';
const TARGET_RATIO = 0.8;
const TARGET_RSS_BYTES = 250e6;

export interface StormFigures {
  readonly server: string;
  readonly seconds: number;
  readonly bytes: number;
  readonly mbPerSecond: number;
  readonly peakRssBytes: number;
  readonly startRssBytes: number;
  readonly cpuSeconds: number;
  /** Manifest GETs made one after another during the storm (Berth only): p50 and p99 in ms, and how many. */
  readonly manifestGet: { p50Ms: number; p99Ms: number; count: number } | null;
}

export async function benchPullStorm(quick: boolean, cleanup: Cleanup, progress: (message: string) => void): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-storm-'));
  cleanup.add('remove storm data', () => rm(work, { recursive: true, force: true }));
  // nginx workers run unprivileged and must reach the image below this directory.
  await chmod(work, 0o755);
  const layerBytes = (quick ? 16 : 100) * MiB;
  progress(`generating one ${layerBytes / MiB} MiB random layer`);
  const image = await buildRandomImage(join(work, 'image'), { layerCount: 1, layerBytes, tag: 'storm' });
  const manifestPath = join(image.dir, 'blobs/sha256', image.manifestDigest.slice('sha256:'.length));
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { config: { digest: string } };
  const digests = [image.manifestDigest, manifest.config.digest, image.layers[0]!.digest];

  const berth = await startBerth(join(work, 'berth'), cleanup);
  progress('skopeo push → Berth');
  await skopeoPush(image.dir, image.tag, `${berth.host}/${REPO}:${TAG}`, berth.credentials);
  await verifyManifest(berth, REPO, TAG, image.manifestDigest);
  const nginx = await startNginx(join(work, 'nginx'), image.dir, cleanup);

  const berthUrls = [`/v2/${REPO}/manifests/${TAG}`, `/v2/${REPO}/blobs/${digests[1]}`, `/v2/${REPO}/blobs/${digests[2]}`].map((p) => berth.url + p);
  const nginxUrls = digests.map((d) => `${nginx.url}/blobs/sha256/${d.slice('sha256:'.length)}`);
  const basic = `Basic ${Buffer.from(`${berth.credentials!.user}:${berth.credentials!.token}`).toString('base64')}`;
  const token = async (): Promise<string> => {
    const res = await fetch(`${berth.url}/token?service=${berth.host}&scope=repository:${REPO}:pull`, { headers: { authorization: basic } });
    if (!res.ok) throw new Error(`/token answered ${res.status}`);
    return `Bearer ${((await res.json()) as { token: string }).token}`;
  };

  progress(`${CLIENTS} concurrent pulls ← Berth`);
  const probe = manifestProbe(berthUrls[0]!, await token());
  const berthStorm = await storm(berth, berthUrls, token, progress);
  const manifestGet = await probe.stop();
  progress(`${CLIENTS} concurrent pulls ← nginx`);
  const nginxStorm = await storm(nginx, nginxUrls, async () => null, progress);
  const figures = [{ ...berthStorm, manifestGet }, { ...nginxStorm, manifestGet: null }];
  process.stdout.write(renderStorm(figures, image.totalBytes, loadBefore, loadavg()[0]!));
}

/** CLIENTS curl processes started together, each fetching `urls` (after its own token, when `token` gives one). */
async function storm(server: Server, urls: readonly string[], token: () => Promise<string | null>, progress: (m: string) => void): Promise<Omit<StormFigures, 'manifestGet'>> {
  const phase = await measurePhase(server.pid, async () => {
    const start = performance.now();
    const sizes = await Promise.all(Array.from({ length: CLIENTS }, async () => {
      const auth = await token();
      return curlAll(urls, auth === null ? [] : ['-H', `Authorization: ${auth}`, '-H', `Accept: ${MANIFEST_MEDIA_TYPE}`]);
    }));
    return { bytes: sizes.reduce((a, b) => a + b, 0), seconds: (performance.now() - start) / 1000 };
  });
  const { bytes, seconds } = phase.value;
  progress(`${server.name}: ${(bytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(1)} s`);
  return {
    server: server.name, seconds, bytes, mbPerSecond: bytes / 1e6 / seconds,
    peakRssBytes: phase.peakRssBytes, startRssBytes: phase.startRssBytes, cpuSeconds: phase.cpuSeconds,
  };
}

/** One curl fetching every URL into /dev/null; resolves with the bytes received. */
function curlAll(urls: readonly string[], headers: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = ['-sS', '--fail', ...headers, '-w', '%{size_download}\n', ...urls.flatMap((u) => ['-o', '/dev/null', u])];
    const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`curl exited with ${code}: ${out.slice(0, 500)}`));
      resolve(out.trim().split('\n').reduce((sum, line) => sum + Number(line), 0));
    });
  });
}

/** Manifest GETs one after another until stopped; their latencies' p50 and p99. */
function manifestProbe(url: string, auth: string): { stop(): Promise<StormFigures['manifestGet']> } {
  const samples: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      const res = await fetch(url, { headers: { authorization: auth, accept: MANIFEST_MEDIA_TYPE } });
      await res.arrayBuffer();
      if (res.status === 200) samples.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const sorted = [...samples].sort((a, b) => a - b);
      const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
      return { p50Ms: at(0.5), p99Ms: at(0.99), count: sorted.length };
    },
  };
}

function renderStorm(figures: readonly StormFigures[], imageBytes: number, loadBefore: number, loadAfter: number): string {
  const [berth, nginx] = figures as [StormFigures, StormFigures];
  const ratio = berth.mbPerSecond / nginx.mbPerSecond;
  const lines = [
    '',
    `Pull storm: ${CLIENTS} concurrent pulls of one ${(imageBytes / 1e6).toFixed(0)} MB image (curl: token, manifest, config, layer); load ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}`,
    ...figures.map((f) => `  ${f.server.padEnd(8)} ${f.seconds.toFixed(1).padStart(6)} s  ${f.mbPerSecond.toFixed(0).padStart(5)} MB/s aggregate  `
      + `peak RSS ${(f.peakRssBytes / 1e6).toFixed(0)} MB (from ${(f.startRssBytes / 1e6).toFixed(0)} MB)  CPU ${f.cpuSeconds.toFixed(1)} s`),
    `  manifest GET during the storm (one after another): p50 ${berth.manifestGet?.p50Ms.toFixed(1)} ms, p99 ${berth.manifestGet?.p99Ms.toFixed(1)} ms (${berth.manifestGet?.count} GETs)`,
    `  throughput ${ratio.toFixed(2)}× nginx (target ≥ ${TARGET_RATIO}): ${ratio >= TARGET_RATIO ? 'PASS' : 'MISS'}; `
      + `peak RSS ${(berth.peakRssBytes / 1e6).toFixed(0)} MB (target < ${TARGET_RSS_BYTES / 1e6}): ${berth.peakRssBytes < TARGET_RSS_BYTES ? 'PASS' : 'MISS'}`,
    '',
  ];
  return lines.join('\n');
}
