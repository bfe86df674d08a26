import { builtCli } from './built-cli.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { openBlobStore } from '../../src/app/create-app.js';
import { withServices, type AdminServices } from '../../src/cli/admin-context.js';
import { loadConfig } from '../../src/config/config.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { createDatabase } from './postgres.js';
import { freshBucket, objectBytes, s3BerthEnv } from './s3.js';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface RunningBerth {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** host:port, for image references (`${host}/acme/app:1`). */
  readonly host: string;
  readonly dataDir: string;
  /** The server process (for /proc/<pid> checks); changes on restart. */
  readonly pid: number;
  /** Metadata and blob backends this server runs on (STYLE B2: the suites run once per backend set). */
  readonly backend: TestBackend;
  /** The metadata database: `sqlite:PATH` or a `postgres://` URL (BERTH_METADATA_URL). */
  readonly metadataUrl: string;
  /**
   * Environment a CLI process (`berth gc --data …`) needs to reach the same metadata database and blob store; {} on
   * sqlite-fs (both live in the data directory).
   */
  readonly metadataEnv: Record<string, string>;
  /**
   * Runs SQL directly on the server's metadata database, whichever it is, for what no API can show or do (age a
   * deletion, read counters). Placeholders are `?`. Rows come back with int8 values as numbers on both backends.
   */
  query<T = Record<string, unknown>>(text: string, ...params: unknown[]): Promise<T[]>;
  /** The server's log so far, across restarts: what it wrote to stderr and its JSON lines (BERTH_LOG_LEVEL: warn unless the test sets it). */
  serverLog(): string;
  /** The JSON lines of `serverLog()`, parsed (40 warn, 50 error). */
  logLines(): Record<string, unknown>[];
  /** Graceful stop (SIGTERM). */
  stop(): Promise<void>;
  /** Crash (SIGKILL), as a power cut or OOM would. */
  kill(): Promise<void>;
  /** Starts again on the same data directory and port. */
  restart(): Promise<void>;
  /** The seeded user: owner of the `acme` organization. */
  readonly user: string;
  /** A personal access token of `user` with read, write and delete scopes. */
  readonly token: string;
  /** `Basic user:token`, accepted on /v2 and /token. */
  readonly authorization: string;
  /** fetch against the server with `authorization` added unless the request sets its own (or `null`). */
  fetch(path: string, init?: RequestInit & { auth?: string | null }): Promise<Response>;
  /** Runs admin operations (accounts, tokens, package settings) on the server's database, as the CLI does. */
  admin<T>(fn: (s: AdminServices) => Promise<T>): Promise<T>;
  /** The server's blob store (its directory or bucket), opened as the CLI opens it: what only storage can show. */
  blobStore(): Promise<BlobStore>;
  /**
   * Bytes of upload scratch data in the blob store right now, of one upload or all: also what a request still
   * running has written (fs: the growing scratch file; s3: the pieces written so far).
   */
  scratchBytes(uploadId?: string): Promise<number>;
  /** Ids of the uploads holding scratch data in the blob store, sorted. */
  scratchUploads(): Promise<string[]>;
}

export interface StartOptions {
  /** Extra BERTH_* environment, e.g. { BERTH_REGISTRY_TAGS_PAGE_SIZE: '2' }. */
  env?: Record<string, string>;
  /** A data directory seen before (by startBerth or backendEnv) keeps its metadata database. */
  dataDir?: string;
  port?: number;
  /** Default: BERTH_TEST_BACKEND, else `sqlite-fs`. */
  backend?: TestBackend;
}

/** Metadata + blob storage. `postgres-s3` is the scale-out set: PostgreSQL and a bucket on the test S3 server. */
export type TestBackend = 'sqlite-fs' | 'postgres-fs' | 'postgres-s3';
export const TEST_BACKENDS: readonly TestBackend[] = ['sqlite-fs', 'postgres-fs', 'postgres-s3'];

/** The backend set this test process runs on: BERTH_TEST_BACKEND (scripts/run-tests.mjs sets it per pass). */
export function testBackend(): TestBackend {
  const value = process.env.BERTH_TEST_BACKEND ?? 'sqlite-fs';
  if (!(TEST_BACKENDS as readonly string[]).includes(value)) throw new Error(`BERTH_TEST_BACKEND=${value}: expected one of ${TEST_BACKENDS.join(', ')}`);
  return value as TestBackend;
}

/** Metadata database and bucket per data directory, so a restart or a second server on the directory shares them. */
const databases = new Map<string, string>();
const buckets = new Map<string, string>();

/**
 * The environment that points a Berth process (serve or CLI) using `dataDir` at its metadata database and blob
 * store: empty for sqlite-fs (both in the data directory); BERTH_METADATA_URL of a fresh PostgreSQL database (one
 * per data directory, created on first use) for postgres-*; for postgres-s3 also the S3 driver settings with a
 * fresh bucket per data directory (Berth creates it at start) and the credentials.
 */
export async function backendEnv(dataDir: string, backend: TestBackend = testBackend()): Promise<Record<string, string>> {
  if (backend === 'sqlite-fs') return {};
  let url = databases.get(dataDir);
  if (!url) {
    url = await createDatabase();
    databases.set(dataDir, url);
  }
  if (backend === 'postgres-fs') return { BERTH_METADATA_URL: url };
  let bucket = buckets.get(dataDir);
  if (!bucket) {
    bucket = freshBucket();
    buckets.set(dataDir, bucket);
  }
  return { BERTH_METADATA_URL: url, ...await s3BerthEnv(bucket) };
}

/** Runs one statement on a metadata database by URL (`?` placeholders); see RunningBerth.query. */
export async function queryMetadata<T>(url: string, text: string, params: unknown[]): Promise<T[]> {
  if (/^postgres(ql)?:\/\//.test(url)) {
    let n = 0;
    const client = new pg.Client({
      connectionString: url,
      types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format ?? 'text'))) as typeof pg.types.getTypeParser },
    });
    await client.connect();
    try {
      return (await client.query(text.replace(/\?/g, () => `$${++n}`), params)).rows as T[];
    } finally {
      await client.end();
    }
  }
  const db = new BetterSqlite3(url.replace(/^sqlite:(\/\/)?/, ''), { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  try {
    const statement = db.prepare(text);
    return (statement.reader ? statement.all(...params) : (statement.run(...params), [])) as T[];
  } finally {
    db.close();
  }
}

/**
 * Starts `berth serve` as a child process on a free port in its own temp data directory: the built CLI (dist/main.js,
 * what the package ships), which starts in half the time tsx takes to load the sources.
 */
export async function startBerth(opts: StartOptions = {}): Promise<RunningBerth> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'berth-test-'));
  // The test process owns the directory it made: gone when the process ends (BERTH_TEST_KEEP=1 keeps it).
  if (!opts.dataDir && !process.env.BERTH_TEST_KEEP) process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const backend = opts.backend ?? testBackend();
  const metaEnv = await backendEnv(dataDir, backend);
  const metadataUrl = metaEnv.BERTH_METADATA_URL ?? `sqlite:${join(dataDir, 'berth.db')}`;
  let port = opts.port ?? 0;
  let child: ChildProcess;
  let url = '';

  const launch = async (): Promise<void> => {
    const log = openSync(join(dataDir, 'server.log'), 'a');
    child = spawn(process.execPath, [builtCli(), 'serve', '--port', String(port), '--data', dataDir], {
      cwd: ROOT,
      env: { ...process.env, BERTH_LOG_LEVEL: process.env.BERTH_TEST_LOG_LEVEL ?? 'warn', ...metaEnv, ...opts.env },
      stdio: ['ignore', 'pipe', log],
    });
    const orphan = child;
    process.once('exit', () => orphan.kill('SIGKILL'));
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      // Generous: on a loaded 2-core machine a start can take many seconds. A server that never listens is killed,
      // or its open stdout pipe would keep this test process alive until the runner's timeout.
      const timer = setTimeout(() => {
        orphan.kill('SIGKILL');
        reject(new Error(`berth did not start within 90 s; see ${dataDir}/server.log`));
      }, 90_000);
      // pino writes to stdout: into server.log too, so a test can read what the server logged (logLines).
      child.stdout!.on('data', (chunk: Buffer) => writeSync(log, chunk));
      let listening = false;
      child.stdout!.on('data', (chunk: Buffer) => {
        if (listening) return;
        out += chunk.toString();
        const m = /berth listening on (http\S+)/.exec(out);
        if (m) {
          listening = true;
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`berth exited with ${code} before listening; see ${dataDir}/server.log`));
      });
    });
    port = Number(new URL(url).port);
  };
  const waitExit = (signal: NodeJS.Signals): Promise<void> => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });

  // Seed before the first start, as an operator would with the CLI: user `tester`, org `acme`, a full token.
  const admin = <T>(fn: (s: AdminServices) => Promise<T>): Promise<T> => withServices({ data: dataDir, init: true, announce: false, env: { ...process.env, ...metaEnv, ...opts.env } }, fn);
  const user = 'tester';
  const token = await admin(async (s) => {
    const existing = await s.accounts.find(user);
    const account = existing ?? await s.accounts.createUser({ login: user, password: 'tester-password' });
    if (!(await s.accounts.find('acme'))) await s.accounts.createOrg('acme', user);
    return (await s.tokens.create({ userId: account.id, note: 'tests', scopes: ['write:packages', 'delete:packages'], expiresAt: null })).token;
  });
  const authorization = `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
  const blobStore = async (): Promise<BlobStore> => openBlobStore(loadConfig({ env: { ...metaEnv, ...opts.env }, overrides: { dataDir } }).storage);

  await launch();
  return {
    get pid() { return child.pid!; },
    serverLog: () => readFileSync(join(dataDir, 'server.log'), 'utf8'),
    user,
    token,
    authorization,
    admin,
    blobStore,
    async scratchUploads() {
      const ids: string[] = [];
      for await (const u of (await blobStore()).listUploads()) ids.push(u.uploadId);
      return ids.sort();
    },
    async scratchBytes(uploadId) {
      const bucket = metaEnv.BERTH_STORAGE_S3_BUCKET;
      if (bucket) return objectBytes(bucket, `uploads/${uploadId === undefined ? '' : `${uploadId}/`}`);
      const dir = join(dataDir, 'storage', 'uploads');
      const names = uploadId === undefined ? readdirSync(dir) : [uploadId];
      return names.reduce((total, name) => total + (statSync(join(dir, name), { throwIfNoEntry: false })?.size ?? 0), 0);
    },
    fetch(path, init = {}) {
      const { auth, ...rest } = init;
      const headers = new Headers(rest.headers);
      const value = auth === undefined ? authorization : auth;
      if (value !== null && !headers.has('authorization')) headers.set('authorization', value);
      return fetch(path.startsWith('http') ? path : `${url}${path}`, { ...rest, headers });
    },
    get url() { return url; },
    get host() { return new URL(url).host; },
    dataDir,
    backend,
    metadataUrl,
    metadataEnv: metaEnv,
    query: (text, ...params) => queryMetadata(metadataUrl, text, params),
    logLines() {
      return readFileSync(join(dataDir, 'server.log'), 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    async restart() {
      await waitExit('SIGTERM');
      await launch();
    },
  };
}
