/**
 * `npm run bench -- --upload-storm [--quick]`: 200 chunked blob uploads started together (issue 14), as many CI
 * jobs pushing at once do. Each client takes a registry token from /token (Berth only), starts a session
 * (POST /v2/<name>/blobs/uploads/), sends its blob in PATCHes with Content-Range (8 MiB in 1 MiB chunks; 2 MiB in
 * 256 KiB chunks with --quick) and closes it with PUT ?digest=. Each upload goes to its own repository
 * (bench/upload-<n>), so repositories are created concurrently too. The same 200 uploads then go to the CNCF
 * registry. Afterwards a HEAD of every blob must answer 200 with its digest and size. Printed per server: bytes and
 * aggregate MB/s, per-upload time (min, p50, p99, max; an upload over 10× the median counts as starved), peak and
 * start RSS, CPU seconds; then the throughput ratio and both peak RSS figures.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { Agent, request } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Cleanup } from './cleanup.js';
import { measurePhase, median, settleDisk } from './measure.js';
import { startBerth, startCncfRegistry, type Server } from './servers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const UPLOADS = 200;
const REPO_PREFIX = 'bench/upload-';
/** The bytes at the end of each blob that make it unique (see `Blobs`). */
const SUFFIX_BYTES = 32;
/** An upload slower than this many times the median is starved. */
const STARVED_FACTOR = 10;
/** Longer than the server's idle timeout (2 min): a request still unanswered then is stuck, not slow. */
const REQUEST_TIMEOUT_MS = 150_000;

interface Shape {
  readonly blobBytes: number;
  readonly chunkBytes: number;
}

export interface UploadStormFigures {
  readonly server: string;
  readonly seconds: number;
  readonly bytes: number;
  readonly mbPerSecond: number;
  /** Seconds from the storm's start to each upload's 201, sorted; failed uploads are left out. */
  readonly uploadSeconds: readonly number[];
  readonly failures: readonly string[];
  readonly peakRssBytes: number;
  readonly startRssBytes: number;
  readonly cpuSeconds: number;
  /** Blobs whose HEAD afterwards answered 200 with their digest and size. */
  readonly verified: number;
}

/**
 * The 200 blobs without 200 blobs in memory: one random chunk, repeated, with the last SUFFIX_BYTES of each blob
 * replaced by that upload's own random bytes. The shared part is hashed once and each digest finishes a copy of
 * that hash, so the client spends neither memory nor CPU in proportion to the storm.
 */
class Blobs {
  readonly chunk: Buffer;
  readonly #suffixes: Buffer[];
  readonly #sharedHash: Hash;

  constructor(readonly shape: Shape) {
    this.chunk = randomBytes(shape.chunkBytes);
    this.#suffixes = Array.from({ length: UPLOADS }, () => randomBytes(SUFFIX_BYTES));
    this.#sharedHash = createHash('sha256');
    for (let c = 0; c < this.chunks - 1; c++) this.#sharedHash.update(this.chunk);
    this.#sharedHash.update(this.chunk.subarray(0, shape.chunkBytes - SUFFIX_BYTES));
  }

  get chunks(): number {
    return this.shape.blobBytes / this.shape.chunkBytes;
  }

  /** The buffers of chunk `c` of blob `n`, sent one after another as one request body. */
  body(n: number, c: number): Buffer[] {
    if (c < this.chunks - 1) return [this.chunk];
    return [this.chunk.subarray(0, this.shape.chunkBytes - SUFFIX_BYTES), this.#suffixes[n]!];
  }

  digest(n: number): string {
    return `sha256:${this.#sharedHash.copy().update(this.#suffixes[n]!).digest('hex')}`;
  }
}

export async function benchUploadStorm(quick: boolean, cleanup: Cleanup, progress: (message: string) => void): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-upload-storm-'));
  cleanup.add('remove upload storm data', () => rm(work, { recursive: true, force: true }));
  const blobs = new Blobs(quick ? { blobBytes: 2 * MiB, chunkBytes: 256 * KiB } : { blobBytes: 8 * MiB, chunkBytes: 1 * MiB });

  // The bench process is watched too: its memory must not grow with the storm's bytes.
  const client = await measurePhase(process.pid, async () => {
    const berth = await startBerth(join(work, 'berth'), cleanup);
    const berthStorm = await storm(berth, blobs, progress);
    // One server at a time on the machine: the next one's storm gets the cores to itself.
    await berth.stop();
    const cncf = await startCncfRegistry(join(work, 'cncf'), cleanup);
    const cncfStorm = await storm(cncf, blobs, progress);
    await cncf.stop();
    return [berthStorm, cncfStorm] as const;
  });
  const [berthStorm, cncfStorm] = client.value;
  process.stdout.write(renderUploadStorm(client.value, blobs.shape, client, loadBefore, loadavg()[0]!));
  for (const f of [berthStorm, cncfStorm]) {
    if (f.failures.length > 0 || f.verified !== UPLOADS) {
      throw new Error(`${f.server}: ${f.failures.length} uploads failed, ${f.verified} of ${UPLOADS} blobs verified`);
    }
  }
}

/** UPLOADS uploads started together against `server`, watched by measurePhase; then a HEAD of every blob. */
async function storm(server: Server, blobs: Blobs, progress: (m: string) => void): Promise<UploadStormFigures> {
  progress(`${UPLOADS} concurrent chunked uploads of ${blobs.shape.blobBytes / MiB} MiB → ${server.name}`);
  settleDisk();
  // One connection pool for tokens and uploads alike: Berth caps the connections of one client address
  // (server.maxConnectionsPerClient, 256), and 200 uploads with a second pool for /token would pass it.
  const agent = new Agent({ keepAlive: true });
  const phase = await measurePhase(server.pid, async () => {
    const start = performance.now();
    const outcomes = await Promise.all(Array.from({ length: UPLOADS }, (_, n) => upload(server, agent, blobs, n).then(
      () => ({ seconds: (performance.now() - start) / 1000, failure: null }),
      (err: unknown) => ({ seconds: NaN, failure: `upload ${n}: ${(err as Error).message}` }),
    )));
    return { outcomes, seconds: (performance.now() - start) / 1000 };
  });
  agent.destroy();
  const { outcomes, seconds } = phase.value;
  const failures = outcomes.flatMap((o) => (o.failure === null ? [] : [o.failure]));
  const uploadSeconds = outcomes.filter((o) => o.failure === null).map((o) => o.seconds).sort((a, b) => a - b);
  const bytes = uploadSeconds.length * blobs.shape.blobBytes;
  progress(`${server.name}: ${(bytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(1)} s, ${failures.length} failed; HEAD of every blob`);
  if (failures.length > 0) {
    process.stderr.write(`${failures.slice(0, 20).join('\n')}\n${server.name} log (last lines):\n${await logTail(server)}\n`);
  }
  const verified = await verifyBlobs(server, blobs, progress);
  return {
    server: server.name, seconds, bytes, mbPerSecond: bytes / 1e6 / seconds, uploadSeconds, failures,
    peakRssBytes: phase.peakRssBytes, startRssBytes: phase.startRssBytes, cpuSeconds: phase.cpuSeconds, verified,
  };
}

/** One client's upload of blob `n` to its own repository: token, POST, a PATCH per chunk, PUT ?digest=. */
async function upload(server: Server, agent: Agent, blobs: Blobs, n: number): Promise<void> {
  const repo = `${REPO_PREFIX}${n}`;
  const auth = await registryToken(server, agent, `repository:${repo}:pull,push`);
  let res = await send(agent, 'POST', new URL(`/v2/${repo}/blobs/uploads/`, server.url), auth, [], 202);
  const { chunkBytes } = blobs.shape;
  for (let c = 0; c < blobs.chunks; c++) {
    const range = `${c * chunkBytes}-${(c + 1) * chunkBytes - 1}`;
    res = await send(agent, 'PATCH', nextLocation(server, res), {
      ...auth, 'Content-Type': 'application/octet-stream', 'Content-Range': range,
    }, blobs.body(n, c), 202);
  }
  const put = nextLocation(server, res);
  put.searchParams.set('digest', blobs.digest(n));
  await send(agent, 'PUT', put, auth, [], 201);
}

/** A HEAD of every blob, 20 at a time: 200, the pushed digest and the blob's size. Returns how many passed. */
async function verifyBlobs(server: Server, blobs: Blobs, progress: (m: string) => void): Promise<number> {
  const agent = new Agent({ keepAlive: true });
  let verified = 0;
  const wrong: string[] = [];
  const check = async (n: number): Promise<void> => {
    const repo = `${REPO_PREFIX}${n}`;
    const digest = blobs.digest(n);
    const auth = await registryToken(server, agent, `repository:${repo}:pull`);
    const res = await send(agent, 'HEAD', new URL(`/v2/${repo}/blobs/${digest}`, server.url), auth, [], null);
    const served = res.headers['docker-content-digest'];
    const size = Number(res.headers['content-length']);
    if (res.status === 200 && served === digest && size === blobs.shape.blobBytes) verified++;
    else wrong.push(`HEAD /v2/${repo}/blobs/${digest} → ${res.status}, digest ${String(served)}, size ${size}`);
  };
  for (let n = 0; n < UPLOADS; n += 20) await Promise.all(Array.from({ length: Math.min(20, UPLOADS - n) }, (_, k) => check(n + k)));
  agent.destroy();
  if (wrong.length > 0) progress(`${server.name}: ${wrong.length} blobs not readable as pushed:\n${wrong.slice(0, 20).join('\n')}`);
  return verified;
}

/**
 * The Authorization header for `scope`: a registry token from Berth's /token, as bench/servers.ts `authorization`
 * gets it but through `agent`; nothing for open servers.
 */
async function registryToken(server: Server, agent: Agent, scope: string): Promise<Record<string, string>> {
  if (!server.credentials) return {};
  const basic = Buffer.from(`${server.credentials.user}:${server.credentials.token}`).toString('base64');
  const url = new URL(`/token?service=${server.host}&scope=${encodeURIComponent(scope)}`, server.url);
  const res = await send(agent, 'GET', url, { Authorization: `Basic ${basic}` }, [], 200);
  return { Authorization: `Bearer ${(JSON.parse(res.body) as { token: string }).token}` };
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * One request with `body` written buffer by buffer under a fixed Content-Length; rejects with the request, the
 * status and the error body when the status is not `expected` (null: any), or when no answer comes in time.
 */
function send(agent: Agent, method: string, url: URL, headers: Record<string, string>, body: readonly Buffer[], expected: number | null): Promise<Answer> {
  const length = body.reduce((sum, b) => sum + b.length, 0);
  const what = `${method} ${url.pathname}${url.search.replace(/_state=[^&]+/, '_state=…')}`;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: { ...headers, 'Content-Length': length }, timeout: REQUEST_TIMEOUT_MS });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.once('error', (err) => reject(new Error(`${what}: ${err.message}`)));
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.once('error', (err) => reject(new Error(`${what}: ${err.message}`)));
      res.once('end', () => {
        const status = res.statusCode ?? 0;
        if (expected !== null && status !== expected) reject(new Error(`${what} → ${status} (expected ${expected}): ${text.slice(0, 300)}`));
        else resolve({ status, headers: res.headers, body: text });
      });
    });
    for (const b of body) req.write(b);
    req.end();
  });
}

/** The session's Location, which the next request must use: relative on Berth, absolute with state on the CNCF registry. */
function nextLocation(server: Server, res: Answer): URL {
  const location = res.headers.location;
  if (typeof location !== 'string') throw new Error(`${server.name}: upload answer without a Location`);
  return new URL(location, server.url);
}

async function logTail(server: Server): Promise<string> {
  const text = await readFile(join(server.dataDir, 'server.log'), 'utf8').catch(() => '');
  return text.split('\n').slice(-30).join('\n');
}

function renderUploadStorm(figures: readonly UploadStormFigures[], shape: Shape, client: { startRssBytes: number; peakRssBytes: number },
  loadBefore: number, loadAfter: number): string {
  const [berth, cncf] = figures as [UploadStormFigures, UploadStormFigures];
  const mb = (bytes: number): string => (bytes / 1e6).toFixed(0);
  const lines = [
    '',
    `Upload storm: ${UPLOADS} concurrent chunked uploads of ${shape.blobBytes / MiB} MiB in ${shape.chunkBytes / KiB} KiB PATCHes (Content-Range), `
      + `then PUT ?digest=; each to its own repository, Berth's with a token from /token; load ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}`,
    ...figures.flatMap((f) => {
      const s = f.uploadSeconds;
      const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
      const p50 = median(s.length > 0 ? s : [NaN]);
      const max = s.at(-1) ?? NaN;
      const starved = s.filter((v) => v > STARVED_FACTOR * p50).length;
      return [
        `  ${f.server.padEnd(14)} ${f.seconds.toFixed(1).padStart(6)} s  ${mb(f.bytes)} MB  ${f.mbPerSecond.toFixed(0).padStart(4)} MB/s aggregate  `
          + `peak RSS ${mb(f.peakRssBytes)} MB (from ${mb(f.startRssBytes)} MB)  CPU ${f.cpuSeconds.toFixed(1)} s`,
        `  ${''.padEnd(14)} per upload: min ${s[0]?.toFixed(2)} s, p50 ${p50.toFixed(2)} s, p99 ${at(0.99).toFixed(2)} s, max ${max.toFixed(2)} s `
          + `(max ${(max / p50).toFixed(1)}× the median; over ${STARVED_FACTOR}×: ${starved === 0 ? 'none' : starved})`,
        `  ${''.padEnd(14)} ${f.failures.length} failed; HEAD afterwards: ${f.verified} of ${UPLOADS} blobs served with their digest and size`,
      ];
    }),
    `  throughput ${(berth.mbPerSecond / cncf.mbPerSecond).toFixed(2)}× the CNCF registry; peak RSS Berth ${mb(berth.peakRssBytes)} MB `
      + `(+${mb(berth.peakRssBytes - berth.startRssBytes)} MB in the storm, ${((berth.peakRssBytes - berth.startRssBytes) / UPLOADS / 1e6).toFixed(2)} MB per upload), `
      + `CNCF registry ${mb(cncf.peakRssBytes)} MB`,
    `  bench client RSS ${mb(client.peakRssBytes)} MB at most during both storms, from ${mb(client.startRssBytes)} MB before (node + tsx)`,
    '',
  ];
  return lines.join('\n');
}
