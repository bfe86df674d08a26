// A throwaway PostgreSQL cluster for the tests: Debian's binaries (`postgresql`), a data directory in a temp dir,
// a loopback port and a socket in that temp dir; no system service. One cluster per test process (node runs each
// test file in its own process), started on first use and stopped when the process exits.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';

export interface PostgresCluster {
  /** Superuser URL of the `postgres` database, for CREATE DATABASE. */
  readonly adminUrl: string;
  readonly dir: string;
  /**
   * Stopping and starting the server, for outage tests: only for the cluster this process started (null with
   * BERTH_TEST_PG_ADMIN_URL). The server comes back on the same port with its data.
   */
  readonly control: PostgresControl | null;
}

export interface PostgresControl {
  /** `pg_ctl stop -m fast`: open connections are terminated (57P01), new ones refused. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** `pg_ctl restart -m fast`, as an operator or a failover would. */
  restart(): Promise<void>;
}

const execFileAsync = promisify(execFile);
let cluster: Promise<PostgresCluster> | undefined;

/** The newest installed Debian PostgreSQL's bin directory (initdb and pg_ctl are not on PATH there). */
export function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

/** The cluster of this process, started on first call. BERTH_TEST_PG_ADMIN_URL uses an existing server instead. */
export function postgresCluster(): Promise<PostgresCluster> {
  cluster ??= process.env.BERTH_TEST_PG_ADMIN_URL
    ? Promise.resolve({ adminUrl: process.env.BERTH_TEST_PG_ADMIN_URL, dir: '', control: null })
    : startCluster();
  return cluster;
}

/** A fresh, empty database on the cluster; returns its URL. */
export async function createDatabase(): Promise<string> {
  const { adminUrl } = await postgresCluster();
  const name = `berth_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function startCluster(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/install-test-deps.sh');
  const dir = mkdtempSync(join(tmpdir(), 'berth-pg-'));
  const data = join(dir, 'data');
  // initdb refuses to run as root: the cluster belongs to the `postgres` OS user when the tests run as root.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (ids.status !== 0) throw new Error('running as root but there is no `postgres` OS user: install the postgresql package');
    chownSync(dir, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
  }
  const run = (cmd: string, args: string[]): void => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    const r = spawnSync(file, argv, { encoding: 'utf8', cwd: dir });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  };
  run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  run(join(bin, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'postgres.log'), '-w', '-t', '30', 'start']);
  // Asynchronous, unlike the set-up above: a test drives requests from this process while the server goes and comes.
  const pgCtl = async (...args: string[]): Promise<void> => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args]] : [join(bin, 'pg_ctl'), args];
    await execFileAsync(file, argv, { cwd: dir });
  };
  const control: PostgresControl = {
    stop: () => pgCtl('-D', data, '-m', 'fast', '-w', '-t', '60', 'stop'),
    start: () => pgCtl('-D', data, '-o', options, '-l', join(dir, 'postgres.log'), '-w', '-t', '60', 'start'),
    restart: () => pgCtl('-D', data, '-o', options, '-l', join(dir, 'postgres.log'), '-m', 'fast', '-w', '-t', '60', 'restart'),
  };
  process.once('exit', () => {
    const stop = asRoot
      ? spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'])
      : spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    void stop;
    if (!process.env.BERTH_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
  });
  return { adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, dir, control };
}

