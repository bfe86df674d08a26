import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Cleanup } from './cleanup.js';
import { MANIFEST_MEDIA_TYPE } from './image.js';
import type { ShapedLink } from './shaped-link.js';

const ROOT = new URL('..', import.meta.url).pathname;
const START_TIMEOUT_MS = 30_000;

export interface Server {
  readonly name: string;
  /** The process that does the serving work, whose /proc entry is sampled (not a wrapper around it). */
  readonly pid: number;
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** host:port, for image references. */
  readonly host: string;
  /** Where its data (and log) live. */
  readonly dataDir: string;
  /** A user and personal access token for registries that require them (Berth), null for open servers. */
  readonly credentials: { readonly user: string; readonly token: string } | null;
  /** Seconds from spawning the process to its first answer to `GET /v2/` (registries only; cold start, issue 14). */
  readonly startSeconds: number | null;
  /** SIGTERM, SIGKILL after 5 s; resolves once the process is gone. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * `berth serve` on a free port, from the compiled build (`npm run build`, as `npm start` runs it), spawned as
 * `node dist/main.js` directly so `pid` is the node process that serves requests. Like an operator, the bench
 * first creates the user `bench` and a token with the CLI: Berth always requires authentication for pushes.
 * `env` points it elsewhere than its data directory (PostgreSQL, S3); a replica joining a database that already
 * has the user gets its `credentials` instead of seeding them again.
 */
export async function startBerth(dir: string, cleanup: Cleanup, opts: {
  env?: Record<string, string>; credentials?: Server['credentials']; name?: string;
} = {}): Promise<Server> {
  await mkdir(dir, { recursive: true });
  const env = { ...process.env, BERTH_LOG_LEVEL: 'warn', ...opts.env };
  const cli = (...args: string[]): string => {
    const out = spawnSync(process.execPath, [join(ROOT, 'dist/main.js'), ...args, '--data', dir], { cwd: ROOT, encoding: 'utf8', env });
    if (out.status !== 0) throw new Error(`berth ${args.join(' ')} failed: ${out.stderr}`);
    return out.stdout.trim();
  };
  let credentials = opts.credentials ?? null;
  if (!credentials) {
    // --init: the data directory is new; admin commands refuse to create a database otherwise.
    cli('user', 'create', 'bench', '--init');
    credentials = { user: 'bench', token: cli('token', 'create', '--user', 'bench', '--scopes', 'write:packages,delete:packages', '--expires', '1d', '--note', 'bench') };
  }
  const spawned = performance.now();
  // BENCH_NODE_ARGS: node flags for the server alone, e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile a bench.
  const child = await launch('berth', process.execPath,
    [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), join(ROOT, 'dist/main.js'), 'serve', '--port', '0', '--data', dir],
    { cwd: ROOT, env, logFile: join(dir, 'server.log') }, cleanup);
  const url = await waitForLine(child.process, /berth listening on (http\S+)/, child.logFile);
  await waitForHttp(`${url}/v2/`, child.process, child.logFile, () => true);
  return server(opts.name ?? 'Berth', child.process, url, dir, credentials, (performance.now() - spawned) / 1000);
}

/**
 * nginx as a round-robin load balancer in front of `upstreams` (host:port), as deploy/nginx.conf configures it:
 * no body limit, nothing buffered either way, the Host header kept, keep-alive connections to the upstreams.
 * The returned server carries the upstreams' credentials; `pid` is the nginx master (its workers are children).
 */
export async function startLoadBalancer(dir: string, upstreams: readonly Server[], cleanup: Cleanup): Promise<Server> {
  await mkdir(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  await writeFile(conf, `
daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  upstream berth {
${upstreams.map((u) => `    server ${u.host};`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_read_timeout 900s;
    location / {
      proxy_pass http://berth;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }
  }
}
`);
  const child = await launch('nginx (load balancer)', '/usr/sbin/nginx', ['-c', conf, '-p', dir],
    { cwd: dir, env: process.env, logFile: join(dir, 'logs', 'stderr.log') }, cleanup);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/livez`, child.process, child.logFile);
  return server(`nginx → ${upstreams.length} × Berth`, child.process, url, dir, upstreams[0]?.credentials ?? null);
}

/** Where the CNCF registry's S3 driver keeps the bytes (an existing bucket). */
export interface CncfS3 {
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/**
 * The CNCF registry (distribution 2.8) with the settings its Debian package ships — filesystem storage with the
 * in-memory blob descriptor cache — minus auth, and logging only warnings so both servers log alike. With `s3`, its
 * S3 driver instead (redirects off: it streams blobs itself, as Berth does). With `remote`, it runs in that link's
 * namespace and is reached through the link (bench/shaped-link.ts).
 */
export async function startCncfRegistry(dir: string, cleanup: Cleanup, opts: { s3?: CncfS3; remote?: ShapedLink } = {}): Promise<Server> {
  await mkdir(join(dir, 'storage'), { recursive: true });
  const storage = opts.s3
    ? [
      '  s3:',
      `    accesskey: ${opts.s3.accessKeyId}`,
      `    secretkey: ${opts.s3.secretAccessKey}`,
      `    region: ${opts.s3.region}`,
      `    regionendpoint: ${opts.s3.endpoint}`,
      `    bucket: ${opts.s3.bucket}`,
      '    secure: false',
      '    v4auth: true',
      '  redirect:',
      '    disable: true',
    ]
    : ['  filesystem:', `    rootdirectory: ${join(dir, 'storage')}`];
  const port = await freePort();
  const address = opts.remote?.remoteAddress ?? '127.0.0.1';
  const config = join(dir, 'config.yml');
  await writeFile(config, [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  cache:',
    '    blobdescriptor: inmemory',
    ...storage,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${address}:${port}`,
    '',
  ].join('\n'));
  // Its Go AWS SDK refuses a custom CA bundle on the plain-HTTP transport the driver builds (this machine sets one).
  const { AWS_CA_BUNDLE: _bundle, ...env } = process.env;
  // `ip netns exec` enters the namespace and execs the registry in place: the pid is still the registry's.
  const [command, args] = opts.remote
    ? ['/usr/sbin/ip', ['netns', 'exec', opts.remote.namespace, '/usr/bin/docker-registry', 'serve', config]]
    : ['/usr/bin/docker-registry', ['serve', config]];
  const spawned = performance.now();
  const child = await launch('docker-registry', command, args, { cwd: dir, env, logFile: join(dir, 'server.log') }, cleanup);
  const url = `http://${address}:${port}`;
  await waitForHttp(`${url}/v2/`, child.process, child.logFile);
  const name = opts.s3 ? 'CNCF registry (S3)' : opts.remote ? `CNCF registry behind ${opts.remote.megabitsPerSecond} Mbit/s` : 'CNCF registry';
  return server(name, child.process, url, dir, null, (performance.now() - spawned) / 1000);
}

/**
 * nginx serving `root` read-only, configured as a tuned static file server (sendfile, no access log), as the
 * machine's limit for sending a blob. `pid` is the master; the two workers do the sending. Started as root, the
 * workers run as an unprivileged user: `root` and every directory above it must be world-readable.
 */
export async function startNginx(dir: string, root: string, cleanup: Cleanup): Promise<Server> {
  await mkdir(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  await writeFile(conf, `
daemon off;
worker_processes 2;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`);
  const child = await launch('nginx', '/usr/sbin/nginx', ['-c', conf, '-p', dir],
    { cwd: dir, env: process.env, logFile: join(dir, 'logs', 'stderr.log') }, cleanup);
  const url = `http://127.0.0.1:${port}`;
  // Any HTTP answer (403/404 for the root) means it is listening.
  await waitForHttp(`${url}/`, child.process, child.logFile, () => true);
  return server('nginx', child.process, url, dir);
}

/** The bare ingest server of bench/ingest-server.ts, launched like Berth (node + tsx, no wrapper). */
export async function startIngestServer(dir: string, cleanup: Cleanup): Promise<Server> {
  await mkdir(dir, { recursive: true });
  const child = await launch('ingest', process.execPath, ['--import', 'tsx', join(ROOT, 'bench/ingest-server.ts'), dir],
    { cwd: ROOT, env: process.env, logFile: join(dir, 'server.log') }, cleanup);
  const url = await waitForLine(child.process, /ingest listening on (http\S+)/, child.logFile);
  return server('bare ingest server', child.process, url, dir);
}

/** bench/tee-proxy.ts in front of `upstream`: the machine's limit for a first pull through a cache. */
export async function startTeeProxy(dir: string, upstream: Server, cleanup: Cleanup): Promise<Server> {
  await mkdir(dir, { recursive: true });
  const child = await launch('tee proxy', process.execPath, ['--import', 'tsx', join(ROOT, 'bench/tee-proxy.ts'), upstream.url, dir],
    { cwd: ROOT, env: process.env, logFile: join(dir, 'server.log') }, cleanup);
  const url = await waitForLine(child.process, /tee proxy listening on (http\S+)/, child.logFile);
  return server('bare tee proxy', child.process, url, dir);
}

function server(name: string, child: ChildProcess, url: string, dataDir: string, credentials: Server['credentials'] = null, startSeconds: number | null = null): Server {
  return { name, pid: child.pid!, url, host: new URL(url).host, dataDir, credentials, startSeconds, stop: () => stop(child) };
}

/**
 * The Authorization header a client of `server` sends for `scope`: a registry token from Berth's /token (what
 * docker and skopeo send on every request), nothing for open servers.
 */
export async function authorization(server: Server, scope: string): Promise<Record<string, string>> {
  if (!server.credentials) return {};
  const basic = Buffer.from(`${server.credentials.user}:${server.credentials.token}`).toString('base64');
  const res = await fetch(`${server.url}/token?service=${server.host}&scope=${encodeURIComponent(scope)}`, { headers: { authorization: `Basic ${basic}` } });
  if (!res.ok) throw new Error(`${server.name} /token answered ${res.status}`);
  return { Authorization: `Bearer ${((await res.json()) as { token: string }).token}` };
}

interface Launched {
  readonly process: ChildProcess;
  readonly logFile: string;
}

/** A push only counts if the registry then serves the very manifest that was pushed (`repo:tag` → `digest`). */
export async function verifyManifest(server: Server, repo: string, tag: string, digest: string): Promise<void> {
  const auth = await authorization(server, `repository:${repo}:pull`);
  const res = await fetch(`${server.url}/v2/${repo}/manifests/${tag}`, { headers: { Accept: MANIFEST_MEDIA_TYPE, ...auth } });
  await res.arrayBuffer();
  const served = res.headers.get('docker-content-digest');
  if (res.status !== 200 || served !== digest) throw new Error(`${server.name}: manifest after push is ${res.status} ${served}, expected ${digest}`);
}

/** Spawns a server with stderr in `logFile` and registers its stop (SIGTERM, then SIGKILL) with the cleanup. */
async function launch(label: string, command: string, args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }, cleanup: Cleanup): Promise<Launched> {
  const log = openSync(opts.logFile, 'a');
  // setpriv sets a parent-death signal and then execs the server in place (same pid): if the bench itself is
  // killed outright (SIGKILL, OOM) and no cleanup code runs, the kernel still sends every server a SIGTERM.
  const child = spawn('setpriv', ['--pdeathsig', 'TERM', '--', command, ...args], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', log] });
  closeSync(log);
  cleanup.add(`stop ${label}`, () => stop(child));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return { process: child, logFile: opts.logFile };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function waitForLine(child: ChildProcess, pattern: RegExp, logFile: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      void tail(logFile).then((t) => reject(new Error(`${why}; ${logFile}:\n${t}`)));
    };
    const timer = setTimeout(() => fail(`no "${pattern.source}" within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        // Keep draining stdout so a chatty server never blocks on a full pipe.
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve(m[1]!);
      }
    });
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before it was ready`));
  });
}

async function waitForHttp(url: string, child: ChildProcess, logFile: string, ok: (status: number) => boolean = (s) => s === 200): Promise<void> {
  child.stdout!.resume();
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${url}: server exited (${child.exitCode ?? child.signalCode}) before it was ready; ${logFile}:\n${await tail(logFile)}`);
    }
    const status = await fetch(url).then((r) => { void r.body?.cancel(); return r.status; }, () => 0);
    if (status !== 0 && ok(status)) return;
    // Short: the wait is part of the start time measured.
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${url} did not answer within ${START_TIMEOUT_MS / 1000} s; ${logFile}:\n${await tail(logFile)}`);
}

/** A port free right now. Servers that cannot take port 0 and report it need one picked for them. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function tail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-20).join('\n');
}
