import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/** The CNCF registry (Debian `docker-registry`, distribution 2.8) as a mirror's upstream, on loopback. */
export interface UpstreamRegistry {
  readonly url: string;
  /** host:port, for image references. */
  readonly host: string;
  /** `user:password` of its htpasswd (Basic auth). */
  readonly creds: string;
  readonly username: string;
  readonly password: string;
  /** Its access log and messages so far, across restarts. */
  log(): string;
  /** Requests in the access log for this path (method and path, e.g. `GET /v2/x/blobs/sha256:…`) answered 200. */
  served(method: string, path: string): number;
  /** SIGKILL (a crash or an outage). */
  kill(): Promise<void>;
  /** Starts it again on the same storage and port. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts `docker-registry` with htpasswd Basic auth (bcrypt, as the registry requires: `htpasswd -B` from
 * apache2-utils) and its access log on, filesystem storage in a temp directory.
 */
export async function startUpstreamRegistry(): Promise<UpstreamRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-upstream-'));
  mkdirSync(join(dir, 'storage'));
  const username = 'mirror';
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  execFileSync('htpasswd', ['-bBc', join(dir, 'htpasswd'), username, password], { stdio: 'ignore' });
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(config, [
    'version: 0.1',
    'log:',
    '  level: info',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'storage')}`,
    '  delete:',
    '    enabled: true',
    'auth:',
    '  htpasswd:',
    '    realm: upstream',
    `    path: ${join(dir, 'htpasswd')}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n'));
  const url = `http://127.0.0.1:${port}`;
  const logPath = join(dir, 'registry.log');
  let child: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    const out = openSync(logPath, 'a');
    const proc = spawn('/usr/bin/docker-registry', ['serve', config], { cwd: dir, stdio: ['ignore', out, out] });
    child = proc;
    process.once('exit', () => proc.kill('SIGKILL'));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${readFileSync(logPath, 'utf8')}`);
      const ok = await fetch(`${url}/v2/`).then((r) => r.status === 401, () => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${readFileSync(logPath, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const kill = (): Promise<void> => new Promise((resolve) => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
  await start();
  const log = (): string => readFileSync(logPath, 'utf8');
  return {
    url, host: `127.0.0.1:${port}`, creds: `${username}:${password}`, username, password,
    log,
    // The access log's combined-format lines: "GET /v2/…/blobs/sha256:… HTTP/1.1" 200
    served: (method, path) => log().split('\n').filter((l) => l.includes(`"${method} ${path} HTTP/1.1" 200`)).length,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
