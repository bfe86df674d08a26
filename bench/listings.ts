/**
 * `npm run bench -- --seed [--scale F]`: a registry at the size of issue 14, seeded into SQLite and PostgreSQL
 * (bench/seed.ts), with the seeding time per backend and the latency of its listings under load (benchListings).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/db/connect.js';
import { SESSION_COOKIE } from '../src/http/ui/cookies.js';
import { migrate } from '../src/db/migrate.js';
import { createDatabase } from '../test/helpers/postgres.js';
import type { Cleanup } from './cleanup.js';
import { ab, wrk } from './clients.js';
import { MANIFEST_MEDIA_TYPE } from './image.js';
import { BIG_ORG, HUGE_REPO, MEMBER, MEMBER_ROLE_PACKAGE, seed, seedShape, type SeedResult } from './seed.js';
import { startBerth, startCncfRegistry, type Server } from './servers.js';

const ROOT = new URL('..', import.meta.url).pathname;

export type Backend = 'sqlite' | 'postgres';

export interface SeededBackend {
  readonly backend: Backend;
  readonly seed: SeedResult;
  /** The data directory to serve from (holds berth.db for SQLite). */
  readonly dataDir: string;
  /** Environment for `berth serve` (the PostgreSQL URL). */
  readonly env: Record<string, string>;
}

/** Seeds a fresh database of `backend` at `scale` under `work`: the SQLite file `berth serve` opens by default. */
export async function seedBackend(backend: Backend, scale: number, work: string, progress: (message: string) => void): Promise<SeededBackend> {
  const dataDir = join(work, `seeded-${backend}`);
  const url = backend === 'sqlite' ? `sqlite:${join(dataDir, 'berth.db')}` : await createDatabase();
  const conn = connect(url);
  try {
    await migrate(conn);
    const result = await seed(conn, seedShape(scale), progress);
    // The owner of bigorg is also the instance admin, whose overview page is measured too.
    await conn.db.updateTable('accounts').set({ isAdmin: 1 }).where('id', '=', 1).execute();
    progress(`seeded ${backend} in ${result.seconds.toFixed(1)} s: ${Object.entries(result.rows).map(([t, n]) => `${t} ${n.toLocaleString('en')}`).join(', ')}`);
    return { backend, seed: result, dataDir, env: backend === 'postgres' ? { BERTH_METADATA_URL: url } : {} };
  } finally {
    await conn.close();
  }
}

/** One endpoint measured with wrk: its request, and the figures. */
export interface EndpointFigures {
  readonly label: string;
  readonly path: string;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  /** p50 with one connection (wrk -c 1): the time one request takes, without waiting behind the other 31. */
  readonly singleP50Ms: number;
  /** The same 32 connections from ApacheBench (one thread, keep-alive): p50 and p99 of a second client. */
  readonly abP50Ms: number;
  readonly abP99Ms: number;
}

export interface ListingFigures {
  readonly scale: number;
  readonly startedAt: string;
  readonly machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; loadBefore: number; loadAfter: number };
  readonly wrk: { threads: number; connections: number; seconds: number };
  readonly backends: readonly { backend: Backend; seedSeconds: number; rows: Record<string, number>; endpoints: readonly EndpointFigures[] }[];
  readonly cncf: { tags: number; endpoints: readonly EndpointFigures[] };
}

const WRK = { threads: 2, connections: 32, seconds: 5 };
/** The issue's target for every listing at this size. */
const TARGET_P99_MS = 50;
const CNCF_TAGS = 10_000;

/**
 * The registry-size bench: seeds SQLite, then PostgreSQL (one at a time, each served by a Berth of its own), and
 * measures with wrk (2 threads, 32 connections, a warm-up run first): tags/list first and last page of the big
 * tag list, _catalog pages, an organization's packages page 1 and page 1,000 for a member who reads only part of
 * it, the versions of the big package, its package and versions pages and the organization's usage page (web UI, as
 * the owner), and /token for the member with many roles; then the CNCF registry's tags/list
 * on a 10,000-tag repository. Prints the table and writes .bench/listings.json.
 */
export async function benchListings(
  scale: number, only: Backend | null, cleanup: Cleanup, progress: (message: string) => void,
): Promise<ListingFigures> {
  const loadBefore = loadavg()[0]!;
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-listings-'));
  cleanup.add('remove seeded data', () => rm(work, { recursive: true, force: true }));
  const backends: ListingFigures['backends'][number][] = [];
  for (const backend of (['sqlite', 'postgres'] as const).filter((b) => only === null || b === only)) {
    const seeded = await seedBackend(backend, scale, work, progress);
    const berth = await startBerth(seeded.dataDir, cleanup, {
      // wrk sends more REST requests per token than GitHub's 5,000 an hour: the limit would answer most of them.
      env: { ...seeded.env, BERTH_API_RATE_LIMIT_AUTHENTICATED: String(1e9) },
      credentials: { user: MEMBER, token: seeded.seed.memberToken }, name: `Berth (${backend})`,
    });
    try {
      backends.push({ backend, seedSeconds: seeded.seed.seconds, rows: seeded.seed.rows, endpoints: await measureBerth(berth, seeded.seed, progress) });
    } finally {
      await berth.stop();
    }
  }
  const cncf = await measureCncf(join(work, 'cncf'), cleanup, progress);
  const figures: ListingFigures = {
    scale, startedAt: new Date().toISOString(), machine: { ...machine(), loadBefore, loadAfter: loadavg()[0]! }, wrk: WRK, backends, cncf,
  };
  process.stdout.write(renderListings(figures));
  await mkdir(join(ROOT, '.bench'), { recursive: true });
  await writeFile(join(ROOT, '.bench/listings.json'), `${JSON.stringify(figures, null, 2)}\n`);
  progress('results written to .bench/listings.json');
  return figures;
}

async function measureBerth(berth: Server, seeded: SeedResult, progress: (message: string) => void): Promise<EndpointFigures[]> {
  const { shape } = seeded;
  const basic = (user: string, token: string): string => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
  const memberBasic = basic(MEMBER, seeded.memberToken);
  const registryToken = async (credentials: string, scopes: string[]): Promise<string> => {
    const query = new URLSearchParams({ service: berth.host });
    for (const s of scopes) query.append('scope', s);
    const res = await fetch(`${berth.url}/token?${query}`, { headers: { authorization: credentials } });
    if (!res.ok) throw new Error(`/token answered ${res.status}`);
    return `Bearer ${((await res.json()) as { token: string }).token}`;
  };
  const ownerPull = await registryToken(basic(seeded.owner.login, seeded.owner.token), [`repository:${HUGE_REPO}:pull`]);
  const memberBearer = await registryToken(memberBasic, []);
  const tag = (i: number): string => `1.0.${String(i).padStart(6, '0')}`;
  // The member reads about two thirds of bigorg: page 1,000 is as deep as GitHub pages (10,000 items) at scale 1.
  const readable = Math.round(shape.bigOrgRepositories * 2 / 3);
  const deepPerPage = Math.max(1, Math.min(100, Math.floor(Math.min(readable, 10_000) / 1_000)));
  const catalogMiddle = `org${String(Math.floor(shape.owners / 2)).padStart(5, '0')}/`;
  const rest = { authorization: `token ${seeded.memberToken}` };
  const ownerRest = { authorization: `token ${seeded.owner.token}` };
  const ui = { cookie: `${SESSION_COOKIE}=${seeded.owner.session}` };
  const cases: { label: string; path: string; headers: Record<string, string> }[] = [
    { label: `tags/list n=100, first page (${shape.hugeTags.toLocaleString('en')} tags)`, path: `/v2/${HUGE_REPO}/tags/list?n=100`, headers: { authorization: ownerPull } },
    { label: 'tags/list n=100, last page', path: `/v2/${HUGE_REPO}/tags/list?n=100&last=${tag(shape.hugeTags - 101)}`, headers: { authorization: ownerPull } },
    { label: '_catalog n=100, first page (member)', path: '/v2/_catalog?n=100', headers: { authorization: memberBearer } },
    { label: '_catalog n=100, from the middle (member)', path: `/v2/_catalog?n=100&last=${encodeURIComponent(catalogMiddle)}`, headers: { authorization: memberBearer } },
    { label: 'org packages page 1, per_page=30 (partial member)', path: `/api/v3/orgs/${BIG_ORG}/packages?package_type=container`, headers: rest },
    { label: `org packages page 1,000, per_page=${deepPerPage} (partial member)`, path: `/api/v3/orgs/${BIG_ORG}/packages?package_type=container&per_page=${deepPerPage}&page=1000`, headers: rest },
    { label: `versions of ${HUGE_REPO}, page 1 (per_page=100)`, path: `/api/v3/orgs/${BIG_ORG}/packages/container/huge/versions?per_page=100`, headers: ownerRest },
    { label: `versions of ${HUGE_REPO}, page 100 (per_page=100)`, path: `/api/v3/orgs/${BIG_ORG}/packages/container/huge/versions?per_page=100&page=100`, headers: ownerRest },
    // The web UI's pages of the biggest package and organization, as its owner sees them (a session cookie).
    { label: `package page HTML, ${HUGE_REPO} (owner)`, path: `/orgs/${BIG_ORG}/packages/container/package/huge`, headers: ui },
    { label: `versions page HTML, ${HUGE_REPO} (owner)`, path: `/orgs/${BIG_ORG}/packages/container/huge/versions`, headers: ui },
    { label: `usage page HTML, ${BIG_ORG} (owner)`, path: `/orgs/${BIG_ORG}/usage`, headers: ui },
    { label: 'admin page HTML (instance overview)', path: '/admin', headers: ui },
    {
      label: `/token, 3 scopes (member: ${(shape.memberRoles).toLocaleString('en')} direct roles, ${Math.min(100, shape.owners - 1) + 1} teams)`,
      path: `/token?service=${berth.host}&scope=repository:${BIG_ORG}/pkg-000005:pull&scope=repository:${MEMBER_ROLE_PACKAGE}:pull&scope=repository:${BIG_ORG}/pkg-000003:pull`,
      headers: { authorization: memberBasic },
    },
  ];
  const out: EndpointFigures[] = [];
  for (const c of cases) {
    // Each answer checked once (a fast 4xx is no figure), then warmed up, then measured.
    const res = await fetch(berth.url + c.path, { headers: c.headers });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${berth.name} ${c.path}: ${res.status} ${text.slice(0, 200)}`);
    progress(`${berth.name}: wrk ${c.label}`);
    out.push(await measure(berth.url, c));
  }
  return out;
}

async function measure(base: string, c: { label: string; path: string; headers: Record<string, string> }): Promise<EndpointFigures> {
  await wrk(base + c.path, { ...WRK, seconds: 1, headers: c.headers });
  const r = await wrk(base + c.path, { ...WRK, headers: c.headers });
  const one = await wrk(base + c.path, { threads: 1, connections: 1, seconds: 2, headers: c.headers });
  const second = await ab(base + c.path, { connections: WRK.connections, seconds: WRK.seconds, headers: c.headers });
  return {
    label: c.label, path: c.path, requestsPerSecond: r.requestsPerSecond, p50Ms: millis(r.latencyP50), p99Ms: millis(r.latencyP99),
    non2xx: r.non2xx + one.non2xx + second.non2xx, singleP50Ms: millis(one.latencyP50), abP50Ms: second.p50Ms, abP99Ms: second.p99Ms,
  };
}

/** wrk's latency (`812.00us`, `3.21ms`, `1.02s`) in milliseconds. */
function millis(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  const factor = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as 'us' | 'ms' | 's' | 'm'];
  return Number(m[1]) * factor;
}

/**
 * The CNCF registry (distribution 2.8, filesystem, no auth) with one repository of 10,000 tags of one small image,
 * pushed over its API; then tags/list first and last page with wrk as for Berth. distribution lists a repository's
 * tags by reading its tags directory, so every page costs the whole list.
 */
async function measureCncf(dir: string, cleanup: Cleanup, progress: (message: string) => void): Promise<ListingFigures['cncf']> {
  const cncf = await startCncfRegistry(dir, cleanup);
  try {
    const repo = 'bench/tags';
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const digest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    const start = await fetch(`${cncf.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await start.arrayBuffer();
    const location = new URL(start.headers.get('location') ?? '', cncf.url);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body: config, headers: { 'content-type': 'application/octet-stream' } });
    await put.arrayBuffer();
    if (put.status !== 201) throw new Error(`CNCF registry blob upload: ${start.status} ${put.status}`);
    const manifest = JSON.stringify({
      schemaVersion: 2, mediaType: MANIFEST_MEDIA_TYPE,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: config.length }, layers: [],
    });
    progress(`CNCF registry: pushing ${CNCF_TAGS.toLocaleString('en')} tags`);
    const tag = (i: number): string => `1.0.${String(i).padStart(6, '0')}`;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < CNCF_TAGS) {
        const i = next++;
        const res = await fetch(`${cncf.url}/v2/${repo}/manifests/${tag(i)}`, { method: 'PUT', body: manifest, headers: { 'content-type': MANIFEST_MEDIA_TYPE } });
        await res.arrayBuffer();
        if (res.status !== 201) throw new Error(`CNCF registry manifest PUT ${tag(i)}: ${res.status}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const endpoints: EndpointFigures[] = [];
    for (const c of [
      { label: `tags/list n=100, first page (${CNCF_TAGS.toLocaleString('en')} tags)`, path: `/v2/${repo}/tags/list?n=100`, headers: {} },
      { label: 'tags/list n=100, last page', path: `/v2/${repo}/tags/list?n=100&last=${tag(CNCF_TAGS - 101)}`, headers: {} },
    ]) {
      progress(`CNCF registry: wrk ${c.label}`);
      endpoints.push(await measure(cncf.url, c));
    }
    return { tags: CNCF_TAGS, endpoints };
  } finally {
    await cncf.stop();
  }
}

function machine(): Omit<ListingFigures['machine'], 'loadBefore' | 'loadAfter'> {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  return { cpus: availableParallelism(), cpuModel: model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

const COLUMN = 52;

export function renderListings(f: ListingFigures): string {
  const ms = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(1)).padStart(6);
  const cell = (e: EndpointFigures | undefined): string => (e
    ? `${ms(e.p50Ms)} ${ms(e.p99Ms)} ${String(Math.round(e.requestsPerSecond)).padStart(7)} ${ms(e.singleP50Ms)} ${ms(e.abP50Ms)} ${ms(e.abP99Ms)}${e.non2xx ? ` (${e.non2xx} non-2xx!)` : ''}`
    : '');
  const width = Math.max(...f.backends.flatMap((b) => b.endpoints.map((e) => e.label.length)), ...f.cncf.endpoints.map((e) => e.label.length)) + 2;
  const lines = [
    '',
    `Registry size (issue 14) at scale ${f.scale}: ${f.machine.cpus} CPUs (${f.machine.cpuModel}), ${f.machine.memoryGiB} GiB, node ${f.machine.node}, `
      + `load ${f.machine.loadBefore.toFixed(2)} → ${f.machine.loadAfter.toFixed(2)}`,
    `wrk: ${f.wrk.threads} threads, ${f.wrk.connections} connections, ${f.wrk.seconds} s per row after a 1 s warm-up; latency in ms;`,
    '1-conn: p50 of one connection for 2 s (the time a request takes when it waits behind no other);',
    'ab: the same 32 connections from ApacheBench (-k, one thread) for 5 s, a second client (whole ms)',
    '',
    'Seeding:',
    ...f.backends.map((b) => `  ${b.backend.padEnd(10)} ${b.seedSeconds.toFixed(1).padStart(6)} s   ${Object.entries(b.rows).map(([t, n]) => `${t} ${n.toLocaleString('en')}`).join(', ')}`),
    '',
    `${''.padEnd(width)}${f.backends.map((b) => `${b.backend.padEnd(COLUMN)}`).join('')}`,
    `${''.padEnd(width)}${f.backends.map(() => `${'p50'.padStart(6)} ${'p99'.padStart(6)} ${'req/s'.padStart(7)} ${'1-conn'.padStart(6)} ${'ab p50'.padStart(6)} ${'ab p99'.padStart(6)}`.padEnd(COLUMN)).join('')}`,
  ];
  const labels = f.backends[0]?.endpoints.map((e) => e.label) ?? [];
  for (const [k, label] of labels.entries()) {
    lines.push(`${label.padEnd(width)}${f.backends.map((b) => cell(b.endpoints[k]).padEnd(COLUMN)).join('')}`);
  }
  lines.push('', 'CNCF registry (distribution, filesystem, no auth):');
  for (const e of f.cncf.endpoints) lines.push(`${e.label.padEnd(width)}${cell(e)}`);
  lines.push('');
  for (const [client, p99] of [['wrk', (e: EndpointFigures) => e.p99Ms], ['ab', (e: EndpointFigures) => e.abP99Ms]] as const) {
    const misses = f.backends.flatMap((b) => b.endpoints.filter((e) => !(p99(e) < TARGET_P99_MS) || e.non2xx > 0).map((e) => `${b.backend}: ${e.label}`));
    lines.push(misses.length === 0
      ? `Target p99 < ${TARGET_P99_MS} ms (${client}) on every row, both backends: PASS`
      : `Target p99 < ${TARGET_P99_MS} ms (${client}): MISS for ${misses.join('; ')}`);
  }
  lines.push('');
  return lines.join('\n');
}
