/**
 * `npm run bench -- --mirror [--quick]`: Berth as a pull-through cache of the CNCF registry (issue 17).
 * One image of two random layers (2 × 64 MiB; 2 × 16 MiB with --quick) is pushed to the CNCF registry; then, with
 * skopeo, median of three runs each:
 *   - upstream on loopback, where the pull is bound by this machine's two cores, not by any network:
 *     - direct: a pull from the CNCF registry itself;
 *     - through a bare tee proxy (bench/tee-proxy.ts: forward, hash, write; nothing else), the machine's limit for a
 *       first pull through any cache written in Node;
 *     - first pull through Berth: an empty cache each run (a fresh Berth mirroring the registry), so every blob
 *       streams from the upstream while it is stored; target within 1.15× the direct pull;
 *   - upstream behind a 1 Gbit/s link (a second CNCF registry in a network namespace, bench/shaped-link.ts), as
 *     Docker Hub or ghcr.io are to a cache that sits near its clients: direct pull and first pull through Berth
 *     over the same link, the client on loopback to Berth; same target. Skipped, with the reason, where the
 *     machine cannot make the link (not root, no tbf qdisc);
 *   - cached pull through Berth (everything already cached), against a pull of the same image pushed to Berth;
 *     target: as fast (within 1.10×, the spread of runs on a shared machine).
 * Prints a table with PASS/MISS and writes .bench/mirror.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { skopeoPull, skopeoPush } from './clients.js';
import { buildRandomImage, type BenchImage } from './image.js';
import { median, settleDisk, timed } from './measure.js';
import { startBerth, startCncfRegistry, startTeeProxy, verifyManifest, type Server } from './servers.js';
import { createShapedLink } from './shaped-link.js';

const ROOT = new URL('..', import.meta.url).pathname;
const MiB = 1024 * 1024;
const RUNS = 3;
const UPSTREAM_REPO = 'library/big';
const TAG = '1';
const FIRST_PULL_TARGET = 1.15;
const CACHED_PULL_TARGET = 1.1;
const LINK_MBIT = 1000;

export interface MirrorFigures {
  readonly imageBytes: number;
  /** Median seconds of each kind of pull. */
  readonly directSeconds: number;
  readonly teeProxySeconds: number;
  readonly firstThroughBerthSeconds: number;
  readonly cachedThroughBerthSeconds: number;
  readonly pushedOnBerthSeconds: number;
  /** The same over the shaped link, or why there is none. */
  readonly remote: { readonly megabitsPerSecond: number; readonly directSeconds: number; readonly firstThroughBerthSeconds: number } | { readonly unavailable: string };
}

export async function benchMirror(quick: boolean, cleanup: Cleanup, progress: (message: string) => void): Promise<MirrorFigures> {
  const loadBefore = loadavg()[0]!;
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-mirror-'));
  cleanup.add('remove mirror bench data', () => rm(work, { recursive: true, force: true }));
  const layerBytes = (quick ? 16 : 64) * MiB;
  progress(`generating 2 × ${layerBytes / MiB} MiB random layers`);
  const image = await buildRandomImage(join(work, 'image'), { layerCount: 2, layerBytes, tag: 'mirror' });

  let pulls = 0;
  /** One skopeo pull of `ref` into a fresh layout, timed; the layout goes right after. */
  const pull = async (ref: string, creds: Server['credentials']): Promise<number> => {
    const out = join(work, `pull-${pulls++}`);
    settleDisk();
    const { seconds } = await timed(() => skopeoPull(ref, out, TAG, creds));
    await rm(out, { recursive: true, force: true });
    return seconds;
  };
  let berths = 0;
  let berth: Server | null = null;
  /** Direct pulls of `upstream`, then first pulls through a fresh Berth mirroring it each run (an empty cache). */
  const firstPulls = async (upstream: Server, tee: boolean): Promise<{ direct: number[]; tee: number[]; first: number[] }> => {
    await skopeoPush(image.dir, image.tag, `${upstream.host}/${UPSTREAM_REPO}:${TAG}`, null);
    await verifyManifest(upstream, UPSTREAM_REPO, TAG, image.manifestDigest);
    const runs = { direct: [] as number[], tee: [] as number[], first: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      progress(`direct pull ← ${upstream.name} (${i + 1}/${RUNS})`);
      runs.direct.push(await pull(`${upstream.host}/${UPSTREAM_REPO}:${TAG}`, null));
    }
    if (tee) {
      const proxy = await startTeeProxy(join(work, 'tee'), upstream, cleanup);
      for (let i = 0; i < RUNS; i++) {
        progress(`pull through the bare tee proxy ← ${upstream.name} (${i + 1}/${RUNS})`);
        runs.tee.push(await pull(`${proxy.host}/${UPSTREAM_REPO}:${TAG}`, null));
      }
      await proxy.stop();
    }
    for (let i = 0; i < RUNS; i++) {
      await berth?.stop();
      berth = await startBerth(join(work, `berth-${berths++}`), cleanup, { env: { BERTH_MIRROR_UPSTREAMS_CNCF_URL: upstream.url } });
      progress(`first pull through Berth ← ${upstream.name} (${i + 1}/${RUNS})`);
      runs.first.push(await pull(`${berth.host}/cncf/${UPSTREAM_REPO}:${TAG}`, berth.credentials));
    }
    return runs;
  };

  const loopback = await firstPulls(await startCncfRegistry(join(work, 'cncf'), cleanup), true);
  // The Berth of the last loopback run holds the whole image: the cached pulls are measured on it.
  const mirror: Server = berth!;
  await skopeoPush(image.dir, image.tag, `${mirror.host}/bench/pushed:${TAG}`, mirror.credentials);
  await verifyManifest(mirror, 'bench/pushed', TAG, image.manifestDigest);
  const cached: number[] = [];
  const pushed: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, so both see the same machine.
    progress(`cached pull through Berth, and pull of the pushed copy (${i + 1}/${RUNS})`);
    cached.push(await pull(`${mirror.host}/cncf/${UPSTREAM_REPO}:${TAG}`, mirror.credentials));
    pushed.push(await pull(`${mirror.host}/bench/pushed:${TAG}`, mirror.credentials));
  }
  await mirror.stop();
  berth = null;

  const link = createShapedLink(LINK_MBIT, cleanup);
  let remote: MirrorFigures['remote'];
  let remoteRuns = null;
  if ('unavailable' in link) {
    progress(`no shaped link on this machine, remote upstream skipped: ${link.unavailable}`);
    remote = { unavailable: link.unavailable };
  } else {
    remoteRuns = await firstPulls(await startCncfRegistry(join(work, 'cncf-remote'), cleanup, { remote: link }), false);
    remote = { megabitsPerSecond: link.megabitsPerSecond, directSeconds: median(remoteRuns.direct), firstThroughBerthSeconds: median(remoteRuns.first) };
  }
  const figures: MirrorFigures = {
    imageBytes: image.totalBytes,
    directSeconds: median(loopback.direct), teeProxySeconds: median(loopback.tee), firstThroughBerthSeconds: median(loopback.first),
    cachedThroughBerthSeconds: median(cached), pushedOnBerthSeconds: median(pushed), remote,
  };
  process.stdout.write(renderMirror(figures, image, loadBefore, loadavg()[0]!));
  await mkdir(join(ROOT, '.bench'), { recursive: true });
  const runs = { ...loopback, cached, pushed, remote: remoteRuns };
  await writeFile(join(ROOT, '.bench/mirror.json'), `${JSON.stringify({ ...figures, runs }, null, 2)}\n`);
  progress('results written to .bench/mirror.json');
  return figures;
}

function renderMirror(f: MirrorFigures, image: BenchImage, loadBefore: number, loadAfter: number): string {
  const mb = f.imageBytes / 1e6;
  const row = (label: string, seconds: number): string => `  ${label.padEnd(34)} ${seconds.toFixed(2).padStart(7)} s  ${(mb / seconds).toFixed(0).padStart(5)} MB/s`;
  const firstRatio = f.firstThroughBerthSeconds / f.directSeconds;
  const cachedRatio = f.cachedThroughBerthSeconds / f.pushedOnBerthSeconds;
  const verdict = (ratio: number, target: number): string => `${ratio.toFixed(2)}× (target ≤ ${target}): ${ratio <= target ? 'PASS' : 'MISS'}`;
  const remote = 'unavailable' in f.remote
    ? [`  upstream behind a ${LINK_MBIT} Mbit/s link: skipped (${f.remote.unavailable})`]
    : [
      `  upstream behind a ${f.remote.megabitsPerSecond} Mbit/s link:`,
      row('direct from the CNCF registry', f.remote.directSeconds),
      row('first pull through Berth (miss)', f.remote.firstThroughBerthSeconds),
      `  first pull over the link ${verdict(f.remote.firstThroughBerthSeconds / f.remote.directSeconds, FIRST_PULL_TARGET)}`,
    ];
  return [
    '',
    `Pull-through cache: skopeo pulls of one ${mb.toFixed(0)} MB image (${image.layers.length} layers), median of ${RUNS}; load ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}`,
    '  upstream on loopback (bound by the two cores that client, cache and upstream share):',
    row('direct from the CNCF registry', f.directSeconds),
    row('through a bare tee proxy', f.teeProxySeconds),
    row('first pull through Berth (miss)', f.firstThroughBerthSeconds),
    row('cached pull through Berth (hit)', f.cachedThroughBerthSeconds),
    row('pull of the image pushed to Berth', f.pushedOnBerthSeconds),
    `  first pull ${verdict(firstRatio, FIRST_PULL_TARGET)}; `
      + `the bare tee proxy ${(f.teeProxySeconds / f.directSeconds).toFixed(2)}× direct, Berth ${(f.firstThroughBerthSeconds / f.teeProxySeconds).toFixed(2)}× the tee proxy`,
    `  cached pull ${cachedRatio.toFixed(2)}× a pushed image's (target ≤ ${CACHED_PULL_TARGET}): ${cachedRatio <= CACHED_PULL_TARGET ? 'PASS' : 'MISS'}`,
    ...remote,
    '',
  ].join('\n');
}
