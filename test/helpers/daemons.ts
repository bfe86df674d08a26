/**
 * Starts the Docker engine and containerd by hand, as root, entirely under a temp directory (own sockets, data,
 * state and config), so tests never touch a system daemon and several files can run side by side. A daemon that
 * does not come up makes the test fail with its log: these clients are required, never skipped.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Daemon {
  /** Temp directory holding everything the daemon writes (removed by stop()). */
  readonly dir: string;
  readonly logPath: string;
  /** The daemon's log so far (for assertion messages). */
  log(): string;
  /** Stops the daemon (SIGTERM, then SIGKILL after a grace period) and removes its directory. */
  stop(): Promise<void>;
}

export interface DockerDaemon extends Daemon {
  /** For `docker -H`: unix://<dir>/docker.sock */
  readonly host: string;
  /** For DOCKER_CONFIG, so the CLI never reads the real ~/.docker (credential helpers, contexts). */
  readonly cliConfigDir: string;
}

export interface ContainerdDaemon extends Daemon {
  /** For `ctr --address`. */
  readonly address: string;
}

/** Process groups still running, killed if the test process exits before stop(). */
const live = new Set<number>();
let hooked = false;

function killAllNow(): void {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch { /* already gone */ }
  }
  live.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // 'exit' handlers must be synchronous: SIGKILL the whole group. dockerd's own containerd dies with it
  // (dockerd starts it with a parent-death signal).
  process.once('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAllNow();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

/**
 * `dockerd` with the vfs driver (works on any filesystem, no kernel overlay needed) and no networking setup
 * (no iptables, no bridge), so it runs inside a container too. Docker trusts plain HTTP for 127.0.0.0/8, so Berth
 * on 127.0.0.1 needs no --insecure-registry.
 */
export async function startDocker(opts: { daemonConfig?: Record<string, unknown> } = {}): Promise<DockerDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-dockerd-'));
  const socket = join(dir, 'docker.sock');
  const host = `unix://${socket}`;
  const cliConfigDir = join(dir, 'cli');
  await mkdir(cliConfigDir);
  // Our own daemon.json (empty unless the test configures e.g. registry-mirrors), so a system
  // /etc/docker/daemon.json (mirrors, proxies, storage) cannot leak in.
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify(opts.daemonConfig ?? {}));
  const daemon = await launch(dir, 'dockerd', [
    '--config-file', join(dir, 'daemon.json'),
    '--storage-driver', 'vfs',
    '--iptables=false', '--ip-masq=false', '--bridge=none',
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'pid'),
    '-H', host,
  ], async () => {
    await run('docker', ['-H', host, 'info'], { env: { ...process.env, DOCKER_CONFIG: cliConfigDir }, timeout: 10_000 });
  });
  return { ...daemon, host, cliConfigDir };
}

/** containerd with its own root, state and sockets, and the CRI plugin disabled (no Kubernetes bits needed). */
export async function startContainerd(): Promise<ContainerdDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-containerd-'));
  const address = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  writeFileSync(config, [
    'version = 2',
    `root = ${JSON.stringify(join(dir, 'root'))}`,
    `state = ${JSON.stringify(join(dir, 'state'))}`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = ${JSON.stringify(address)}`,
    '[ttrpc]',
    `  address = ${JSON.stringify(`${address}.ttrpc`)}`,
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${JSON.stringify(join(dir, 'opt'))}`,
    '',
  ].join('\n'));
  const daemon = await launch(dir, 'containerd', ['--config', config], async () => {
    await run('ctr', ['--address', address, '--connect-timeout', '2s', 'version'], { timeout: 10_000 });
  });
  return { ...daemon, address };
}

/** Spawns `command` in its own process group, logging to <dir>/daemon.log, and polls `ready` until it succeeds. */
async function launch(dir: string, command: string, args: string[], ready: () => Promise<void>): Promise<Daemon> {
  const logPath = join(dir, 'daemon.log');
  const logFd = openSync(logPath, 'a');
  hookExit();
  // detached: a new process group, so stop() and the exit hook reach every process the daemon started.
  const child: ChildProcess = spawn(command, args, { cwd: dir, detached: true, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd); // the child has its own copy
  const pid = child.pid;
  const log = (): string => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => { spawnError = err; });
  if (pid !== undefined) live.add(pid);

  const stop = async (): Promise<void> => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
      signalGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (pid !== undefined) {
      // Anything left in the group (helpers that ignored SIGTERM) goes too.
      signalGroup(pid, 'SIGKILL');
      live.delete(pid);
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
  };

  const deadline = Date.now() + 60_000;
  let lastError: unknown;
  await new Promise((resolve) => setImmediate(resolve)); // lets a spawn failure (ENOENT) surface first
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      const text = log();
      await stop().catch(() => undefined);
      throw new Error(`${command} exited before it was ready (${spawnError?.message ?? `code ${child.exitCode}, signal ${child.signalCode}`}); log:\n${tail(text)}`);
    }
    try {
      await ready();
      break;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const text = log();
      await stop().catch(() => undefined);
      throw new Error(`${command} was not ready within 60 s (${String(lastError)}); log:\n${tail(text)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { dir, logPath, log, stop };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch { /* group already gone */ }
}

function tail(text: string, chars = 6000): string {
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}
