import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withServices, type AdminServices } from '../../src/cli/admin-context.js';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface RunningBerth {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** host:port, for image references (`${host}/acme/app:1`). */
  readonly host: string;
  readonly dataDir: string;
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
}

export interface StartOptions {
  /** Extra BERTH_* environment, e.g. { BERTH_REGISTRY_TAGS_PAGE_SIZE: '2' }. */
  env?: Record<string, string>;
  dataDir?: string;
  port?: number;
}

/** Starts `berth serve` as a child process on a free port in its own temp data directory. */
export async function startBerth(opts: StartOptions = {}): Promise<RunningBerth> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'berth-test-'));
  // The test process owns the directory it made: gone when the process ends (BERTH_TEST_KEEP=1 keeps it).
  if (!opts.dataDir && !process.env.BERTH_TEST_KEEP) process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  let port = opts.port ?? 0;
  let child: ChildProcess;
  let url = '';

  const launch = async (): Promise<void> => {
    const log = openSync(join(dataDir, 'server.log'), 'a');
    child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts'), 'serve', '--port', String(port), '--data', dataDir], {
      cwd: ROOT,
      env: { ...process.env, BERTH_LOG_LEVEL: process.env.BERTH_TEST_LOG_LEVEL ?? 'warn', ...opts.env },
      stdio: ['ignore', 'pipe', log],
    });
    const orphan = child;
    process.once('exit', () => orphan.kill('SIGKILL'));
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`berth did not start within 30 s; see ${dataDir}/server.log`)), 30_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /berth listening on (http\S+)/.exec(out);
        if (m) {
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
  const admin = <T>(fn: (s: AdminServices) => Promise<T>): Promise<T> => withServices({ data: dataDir }, fn);
  const user = 'tester';
  const token = await admin(async (s) => {
    const existing = await s.accounts.find(user);
    const account = existing ?? await s.accounts.createUser({ login: user, password: 'tester-password' });
    if (!(await s.accounts.find('acme'))) await s.accounts.createOrg('acme', user);
    return (await s.tokens.create({ userId: account.id, note: 'tests', scopes: ['write:packages', 'delete:packages'], expiresAt: null })).token;
  });
  const authorization = `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;

  await launch();
  return {
    user,
    token,
    authorization,
    admin,
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
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    async restart() {
      await waitExit('SIGTERM');
      await launch();
    },
  };
}
