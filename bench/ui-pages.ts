/**
 * `npx tsx bench/ui-pages.ts [--keep]` (also `npm run bench -- --ui-pages`): server render time of the web UI's
 * pages at the size issue 6 names (an organization with 1,000 packages, a package with 10,000 versions), against
 * its 100 ms target.
 *
 * Builds Berth and starts it on a temporary data directory as `npm start` runs it (bench/servers.ts), creates a
 * user, an organization and a token with the CLI as an operator would, then seeds over /v2 like any client: 1,000
 * packages of one small image each (blobs mounted from one package) and one package with 10,000 tagged versions (one shared config and layer, manifests made distinct by an annotation), 8 pushes in
 * flight. It signs in through the login form and requests each page 3 times to warm up, then 30 times in a row,
 * reading the `Server-Timing: app;dur=` header the UI sets (time inside Berth, from the request's arrival to the
 * response being sent) and the client's latency on loopback. Prints median and p95 per page and PASS/FAIL for the
 * server median and p95 against 100 ms. Exit code 1 when a page misses.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Cleanup } from './cleanup.js';
import { startBerth } from './servers.js';

const ROOT = new URL('..', import.meta.url).pathname;
const ORG = 'benchorg';
const USER = 'bench';
const PASSWORD = 'bench-ui-password';
const PACKAGES = 1_000;
const VERSIONS = 10_000;
const BIG = 'big';
const CONCURRENCY = 8;
const WARMUP = 3;
const RUNS = 30;
const TARGET_MS = 100;
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const started = performance.now();

function progress(message: string): void {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** `berth …` as the operator runs it, on the compiled build the server runs from. */
function cli(dir: string, input: string | null, ...rest: string[]): string {
  const out = spawnSync(process.execPath, [join(ROOT, 'dist/main.js'), ...rest, '--data', dir], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, BERTH_LOG_LEVEL: 'warn' }, ...(input === null ? {} : { input }),
  });
  if (out.status !== 0) throw new Error(`berth ${rest.join(' ')} failed: ${out.stderr}`);
  return out.stdout.trim();
}

/** Runs `task(i)` for i in [0, n) with `CONCURRENCY` in flight, reporting progress now and then. */
async function pool(label: string, n: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await task(i);
      if (++done % 1000 === 0) progress(`${label}: ${done}/${n}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  progress(`${label}: ${n} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Seeds over /v2 with Basic user:token (Berth accepts a personal access token there, as docker login stores it). */
class Seeder {
  readonly #url: string;
  readonly #auth: string;

  constructor(url: string, token: string) {
    this.#url = url;
    this.#auth = `Basic ${Buffer.from(`${USER}:${token}`).toString('base64')}`;
  }

  async #request(method: string, path: string, body: Buffer | null, headers: Record<string, string>, expect: number): Promise<void> {
    const res = await fetch(`${this.#url}${path}`, { method, headers: { authorization: this.#auth, ...headers }, ...(body ? { body } : {}) });
    const text = await res.text();
    if (res.status !== expect) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  }

  /** A monolithic blob upload (POST with the digest and the bytes). */
  async blob(repo: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
    const digest = sha256(bytes);
    await this.#request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, bytes, { 'content-type': 'application/octet-stream' }, 201);
    return { digest, size: bytes.length };
  }

  /** A cross-repository mount of a blob the user can read elsewhere (201: linked, no bytes moved). */
  async mount(repo: string, from: string, digest: string): Promise<void> {
    await this.#request('POST', `/v2/${repo}/blobs/uploads/?mount=${digest}&from=${from}`, null, {}, 201);
  }

  async manifest(repo: string, reference: string, body: object): Promise<void> {
    await this.#request('PUT', `/v2/${repo}/manifests/${reference}`, Buffer.from(JSON.stringify(body)), { 'content-type': MANIFEST_TYPE }, 201);
  }
}

async function seed(url: string, token: string): Promise<void> {
  const push = new Seeder(url, token);
  const base = `${ORG}/${BIG}`;
  const config = await push.blob(base, Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] },
    config: { Labels: { 'org.opencontainers.image.description': 'A package of the UI benchmark.', 'org.opencontainers.image.source': 'https://example.com/bench' } },
  })));
  const layer = await push.blob(base, Buffer.from('a small layer shared by every image of the benchmark\n'.repeat(64)));
  const manifest = (i: number) => ({
    schemaVersion: 2, mediaType: MANIFEST_TYPE,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
    annotations: { 'org.opencontainers.image.version': String(i) },
  });
  await pool(`${VERSIONS} versions of ${base}`, VERSIONS, (i) => push.manifest(base, `1.0.${i}`, manifest(i)));
  await pool(`${PACKAGES - 1} more packages`, PACKAGES - 1, async (i) => {
    const repo = `${ORG}/pkg-${String(i).padStart(4, '0')}`;
    await push.mount(repo, base, config.digest);
    await push.mount(repo, base, layer.digest);
    await push.manifest(repo, 'latest', manifest(i));
  });
  // A few pulls, so downloads and the charts have something to count.
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`${url}/v2/${base}/manifests/1.0.${VERSIONS - 1 - (i % 5)}`, {
      headers: { authorization: `Basic ${Buffer.from(`${USER}:${token}`).toString('base64')}`, accept: MANIFEST_TYPE },
    });
    await res.arrayBuffer();
  }
}

/** Signs in through the form (its CSRF cookie and token), returning the Cookie header of the session. */
async function signIn(url: string): Promise<string> {
  const form = await fetch(`${url}/login`);
  const csrfCookie = form.headers.getSetCookie().map((c) => c.split(';')[0]!).join('; ');
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (!token) throw new Error('no CSRF token on the sign-in form');
  const res = await fetch(`${url}/login`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie },
    body: new URLSearchParams({ _csrf: token, login: USER, password: PASSWORD }).toString(),
  });
  await res.text();
  const session = res.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('berth_session='));
  if (res.status !== 303 || !session) throw new Error(`sign-in answered ${res.status}`);
  return session;
}

interface PageFigures {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  readonly server: { median: number; p95: number };
  readonly client: { median: number; p95: number };
}

async function measure(url: string, cookie: string, name: string, path: string): Promise<PageFigures> {
  const server: number[] = [];
  const client: number[] = [];
  let bytes = 0;
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const t0 = performance.now();
    const res = await fetch(`${url}${path}`, { headers: { cookie } });
    const body = await res.text();
    const elapsed = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${body.slice(0, 300)}`);
    const dur = /app;dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1];
    if (dur === undefined) throw new Error(`${path}: no Server-Timing header`);
    if (i < WARMUP) continue;
    server.push(Number(dur));
    client.push(elapsed);
    bytes = Buffer.byteLength(body);
  }
  return { name, path, bytes, server: stats(server), client: stats(client) };
}

function stats(values: number[]): { median: number; p95: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { median: at(0.5), p95: at(0.95) };
}

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  cleanup.installHandlers();
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-ui-'));
  if (!keep) cleanup.add('remove data dir', () => rm(dir, { recursive: true, force: true }));
  try {
    progress(`building Berth (npm run build); data in ${dir}`);
    const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    if (build.status !== 0) throw new Error('npm run build failed');
    cli(dir, `${PASSWORD}\n`, 'user', 'create', USER, '--password-stdin', '--init');
    cli(dir, null, 'org', 'create', ORG, '--owner', USER);
    const token = cli(dir, null, 'token', 'create', '--user', USER, '--scopes', 'write:packages,delete:packages', '--expires', '1d', '--note', 'ui bench');
    const { url } = await startBerth(dir, cleanup, { credentials: { user: USER, token } });
    await seed(url, token);
    const cookie = await signIn(url);
    const versions = await fetch(`${url}/api/v3/orgs/${ORG}/packages/container/${BIG}/versions?per_page=1`, { headers: { authorization: `Bearer ${token}` } });
    const [newest] = (await versions.json()) as { id: number }[];
    if (!newest) throw new Error('no versions listed by the REST API');
    const lastPackagePage = Math.ceil(PACKAGES / 30);
    const lastVersionPage = Math.ceil(VERSIONS / 30);
    const pages: [string, string][] = [
      [`org packages, page 1 (${PACKAGES} packages)`, `/orgs/${ORG}/packages`],
      [`org packages, last page (${lastPackagePage})`, `/orgs/${ORG}/packages?page=${lastPackagePage}`],
      ['package page (1 version)', `/orgs/${ORG}/packages/container/package/pkg-0500`],
      [`package page, versions page 1 (${VERSIONS} versions)`, `/orgs/${ORG}/packages/container/package/${BIG}`],
      [`package page, versions last page (${lastVersionPage})`, `/orgs/${ORG}/packages/container/package/${BIG}?page=${lastVersionPage}`],
      ['version page', `/orgs/${ORG}/packages/container/${BIG}/${newest.id}`],
      ['usage page (organization)', `/orgs/${ORG}/usage`],
    ];
    const figures: PageFigures[] = [];
    for (const [name, path] of pages) {
      figures.push(await measure(url, cookie, name, path));
      progress(`measured ${name}`);
    }
    const ms = (n: number) => n.toFixed(1).padStart(7);
    const lines = [
      '',
      `Web UI render time: ${RUNS} requests per page after ${WARMUP} warm-up, one at a time, signed in as the org owner; SQLite + fs.`,
      'server = Server-Timing app;dur (inside Berth), client = fetch on loopback (with transfer). Target: server median and p95 < 100 ms.',
      '',
      `${'page'.padEnd(44)} ${'KiB'.padStart(6)}  ${'server p50'.padStart(10)} ${'p95'.padStart(7)}  ${'client p50'.padStart(10)} ${'p95'.padStart(7)}  result`,
      ...figures.map((f) => `${f.name.padEnd(44)} ${(f.bytes / 1024).toFixed(0).padStart(6)}  ${ms(f.server.median).padStart(10)} ${ms(f.server.p95)}  ${ms(f.client.median).padStart(10)} ${ms(f.client.p95)}  ${f.server.p95 < TARGET_MS ? 'PASS' : 'FAIL'}`),
      '',
    ];
    process.stdout.write(lines.join('\n'));
    const log = await readFile(join(dir, 'server.log'), 'utf8').catch(() => '');
    if (/"level":(50|60)/.test(log)) process.stderr.write(`the server logged errors: see ${join(dir, 'server.log')}\n`);
    if (keep) progress(`data kept in ${dir}`);
    process.exitCode = figures.every((f) => f.server.p95 < TARGET_MS) ? 0 : 1;
  } finally {
    await cleanup.run();
  }
}

await main();
