/**
 * Thin wrappers that run the real registry clients (skopeo, podman, docker, ctr) against Berth over plain HTTP.
 * Each resolves with the output or rejects with a ClientError carrying the full command, exit status and output,
 * so a failing test shows what the client said.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerdDaemon, DockerDaemon } from './daemons.js';

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  /** Added to (and overriding) the test process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Default 180 s: a hung client fails the test instead of hanging it. */
  readonly timeoutMs?: number;
  /** Written to the command's standard input (e.g. a token for `login --password-stdin`), which is then closed. */
  readonly input?: string;
}

/** `user:token`, as skopeo's --creds and ctr's --user take them. */
export type Credentials = string;

/** Hides the secret of `user:secret` arguments in messages (tests print failed commands). */
function redact(args: readonly string[]): string[] {
  return args.map((arg, i) => (/^--(?:src-|dest-)?creds$|^--user$|^-u$/.test(args[i - 1] ?? '') || /^--(?:src-|dest-)?creds=/.test(arg)
    ? arg.replace(/:.*$/, ':***')
    : arg));
}

export class ClientError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | string | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${exitCode})\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`);
    this.name = 'ClientError';
  }
}

/** Runs a command without a shell; rejects with ClientError (full output) unless it exits 0. */
export function runTool(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      timeout: opts.timeoutMs ?? 180_000,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'utf8',
    }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException & { code?: number | string; signal?: string | null; killed?: boolean };
        const status = e.killed ? `killed after ${opts.timeoutMs ?? 180_000} ms` : e.signal ?? e.code ?? null;
        reject(new ClientError([command, ...redact(args)].join(' '), status, stdout, stderr || e.message));
      } else {
        resolve({ stdout, stderr });
      }
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

// ---- skopeo -------------------------------------------------------------------------------------------------------
// --insecure-policy: do not depend on /etc/containers/policy.json existing (tests verify digests themselves).
// Berth requires authentication: pass `creds` (`user:token`, as `--creds`) or an `authfile` (what `skopeo login`
// or a Kubernetes dockerconfigjson secret holds). Without either skopeo reads the default auth file, if any.

export interface SkopeoAuth {
  /** `user:token` for every docker:// reference of the command. */
  readonly creds?: Credentials;
  /** An auth file (`{"auths":{HOST:{auth}}}`) instead of creds. */
  readonly authfile?: string;
}

/** `skopeo copy` between any two transports (oci:DIR:tag, docker://HOST/name:tag), plain HTTP on both sides. */
export function skopeoCopy(src: string, dest: string, extra: readonly string[] = [], opts: RunOptions & SkopeoAuth = {}): Promise<RunResult> {
  const auth = [
    ...(opts.authfile ? ['--authfile', opts.authfile] : []),
    ...(opts.creds && src.startsWith('docker://') ? ['--src-creds', opts.creds] : []),
    ...(opts.creds && dest.startsWith('docker://') ? ['--dest-creds', opts.creds] : []),
  ];
  return runTool('skopeo', ['--insecure-policy', 'copy', '--src-tls-verify=false', '--dest-tls-verify=false', ...auth, ...extra, src, dest], opts);
}

function skopeoAuthFlags(opts: SkopeoAuth): string[] {
  return [...(opts.authfile ? ['--authfile', opts.authfile] : []), ...(opts.creds ? ['--creds', opts.creds] : [])];
}

/** `skopeo inspect` output: JSON; with raw the manifest bytes exactly as served; with raw + config the config blob. */
export async function skopeoInspect(ref: string, opts: { raw?: boolean; config?: boolean } & SkopeoAuth = {}): Promise<string> {
  const flags = [...(opts.raw ? ['--raw'] : []), ...(opts.config ? ['--config'] : [])];
  return (await runTool('skopeo', ['inspect', '--tls-verify=false', ...skopeoAuthFlags(opts), ...flags, ref])).stdout;
}

/** `skopeo list-tags` (it follows the Link header across pages). */
export async function skopeoListTags(ref: string, opts: SkopeoAuth = {}): Promise<string[]> {
  const out = await runTool('skopeo', ['list-tags', '--tls-verify=false', ...skopeoAuthFlags(opts), ref]);
  return (JSON.parse(out.stdout) as { Tags: string[] }).Tags;
}

export function skopeoDelete(ref: string, opts: SkopeoAuth = {}): Promise<RunResult> {
  return runTool('skopeo', ['delete', '--tls-verify=false', ...skopeoAuthFlags(opts), ref]);
}

/** `skopeo login --password-stdin` into `authfile` (the token goes through stdin, never the command line). */
export function skopeoLogin(host: string, user: string, token: string, authfile: string): Promise<RunResult> {
  return runTool('skopeo', ['login', '--tls-verify=false', '--authfile', authfile, '-u', user, '--password-stdin', host], { input: token });
}

// ---- podman -------------------------------------------------------------------------------------------------------

export interface Podman {
  /** Temp directory holding podman's storage, run state, HOME and config. */
  readonly dir: string;
  /** Runs `podman <global flags> …args`; add --tls-verify=false to push/pull yourself or use pull()/push(). */
  run(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  pull(ref: string): Promise<RunResult>;
  push(local: string, dest: string): Promise<RunResult>;
  /** `podman login --password-stdin` (credentials land in the temp XDG_RUNTIME_DIR's containers/auth.json). */
  login(host: string, user: string, token: string): Promise<RunResult>;
  /** Removes the temp directory. */
  cleanup(): Promise<void>;
}

/**
 * A podman with vfs storage in its own temp dir, a temp HOME/XDG and its own storage.conf, so it never touches the
 * machine's images or config; cgroupfs and file events let it run without systemd.
 */
export function createPodman(): Podman {
  const dir = mkdtempSync(join(tmpdir(), 'berth-podman-'));
  const storageConf = join(dir, 'storage.conf');
  writeFileSync(storageConf, `[storage]\ndriver = "vfs"\nrunroot = ${JSON.stringify(join(dir, 'runroot'))}\ngraphroot = ${JSON.stringify(join(dir, 'root'))}\n`);
  const env = {
    HOME: join(dir, 'home'),
    XDG_CONFIG_HOME: join(dir, 'home', '.config'),
    XDG_DATA_HOME: join(dir, 'home', '.local', 'share'),
    XDG_RUNTIME_DIR: join(dir, 'xdg-run'),
    CONTAINERS_STORAGE_CONF: storageConf,
  };
  const ready = Promise.all([env.HOME, env.XDG_RUNTIME_DIR, join(dir, 'tmp')].map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
  const global = [
    '--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs',
    '--tmpdir', join(dir, 'tmp'), '--cgroup-manager=cgroupfs', '--events-backend=file',
  ];
  const run = async (args: readonly string[], opts: RunOptions = {}): Promise<RunResult> => {
    await ready;
    return runTool('podman', [...global, ...args], { ...opts, env: { ...env, ...opts.env } });
  };
  return {
    dir,
    run,
    pull: (ref) => run(['pull', '--tls-verify=false', ref]),
    push: (local, dest) => run(['push', '--tls-verify=false', local, dest]),
    login: (host, user, token) => run(['login', '--tls-verify=false', '-u', user, '--password-stdin', host], { input: token }),
    cleanup: () => rm(dir, { recursive: true, force: true, maxRetries: 3 }),
  };
}

// ---- docker and ctr -----------------------------------------------------------------------------------------------

/** `docker -H <daemon> …args` with the daemon's private CLI config dir. */
export function docker(daemon: DockerDaemon, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runTool('docker', ['-H', daemon.host, ...args], { ...opts, env: { DOCKER_CONFIG: daemon.cliConfigDir, ...opts.env } });
}

/** `docker login HOST -u USER --password-stdin`, storing the credentials in the daemon's private CLI config dir. */
export function dockerLogin(daemon: DockerDaemon, host: string, user: string, token: string, opts: RunOptions = {}): Promise<RunResult> {
  return docker(daemon, ['login', host, '-u', user, '--password-stdin'], { ...opts, input: token });
}

/** `ctr --address <daemon> …args` (namespace "default"). Registry commands take `--user USER:TOKEN`. */
export function ctr(daemon: ContainerdDaemon, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runTool('ctr', ['--address', daemon.address, ...args], opts);
}
