import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { ClientError, RegistryClient, sha256, type Challenge, type ProbeResult } from '../client/registry-client.js';
import { buildTestImage, type TestImage } from '../client/test-image.js';
import { MediaType } from '../oci/media-types.js';
import { readStdin } from './admin-context.js';

/**
 * `berth doctor`: checks a registry end to end the way the guide's test-ghcr.sh did (environment, login, push,
 * pull, run, REST listing, clean-up), from the outside, with one line per step and a diagnosis on failure. Works
 * against any OCI registry; the Berth/GitHub-only steps say why they were skipped.
 */

export type StepStatus = 'pass' | 'fail' | 'skip';

export interface StepResult {
  readonly number: number;
  readonly name: string;
  readonly status: StepStatus;
  readonly detail: string;
  readonly diagnosis?: string;
  readonly warning?: string;
  readonly ms: number;
}

export interface DoctorReport {
  readonly url: string;
  readonly username: string | null;
  readonly token: string | null;
  readonly org: string;
  readonly image: string;
  readonly ok: boolean;
  readonly steps: readonly StepResult[];
}

export interface DoctorSettings {
  readonly url: string;
  readonly username: string | null;
  readonly token: string | null;
  readonly org: string;
  readonly keep: boolean;
  readonly insecure: boolean;
  readonly sources: Readonly<Record<string, string>>;
}

const PACKAGE = 'berth-doctor';
const SKEW_LIMIT_S = 60;

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('Check a registry end to end: reachability, login, push, pull, run, REST API, clean-up')
    .option('--url <url>', 'registry URL (BERTH_URL); https:// is assumed without a scheme')
    .option('--username <name>', 'token owner (BERTH_USERNAME, GITHUB_USERNAME)')
    .option('--token-stdin', 'read the token from standard input (otherwise BERTH_TOKEN or GITHUB_TOKEN)')
    .option('--org <org>', 'organization (or user) to push the test image to (BERTH_ORG, GITHUB_ORG; default: the username)')
    .option('--keep', 'keep the test image instead of deleting it')
    .option('--json', 'print a machine-readable report')
    .option('--insecure', 'accept self-signed or mismatching TLS certificates')
    .addHelpText('after', `
Exit codes: 0 every step passed or was skipped, 1 a step failed (the diagnosis names the likely fix), 2 bad usage.
Example:
  echo "$BERTH_TOKEN" | berth doctor --url https://registry.example.com --username me --token-stdin --org acme`)
    .action(async (opts: { url?: string; username?: string; tokenStdin?: boolean; org?: string; keep?: boolean; json?: boolean; insecure?: boolean }) => {
      const stdinToken = opts.tokenStdin ? (await readStdin()).trim() : undefined;
      const settings = resolveSettings(opts, stdinToken, process.env);
      const out = new Renderer(process.stdout, Boolean(opts.json));
      if (typeof settings === 'string') {
        out.usage(settings);
        process.exitCode = 2;
        return;
      }
      const report = await runDoctor(settings, out);
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      process.exitCode = report.ok ? 0 : 1;
    });
}

/** Flags beat BERTH_* which beat the guide's GITHUB_* names. Returns an error message on bad usage. */
function resolveSettings(
  opts: { url?: string; username?: string; org?: string; keep?: boolean; insecure?: boolean },
  stdinToken: string | undefined, env: NodeJS.ProcessEnv,
): DoctorSettings | string {
  const sources: Record<string, string> = {};
  const pick = (key: string, flag: string | undefined, flagName: string, names: string[]): string | null => {
    if (flag) return (sources[key] = flagName, flag);
    for (const n of names) if (env[n]) return (sources[key] = n, env[n]!);
    return null;
  };
  const rawUrl = pick('url', opts.url, '--url', ['BERTH_URL']);
  if (!rawUrl) return 'no registry URL: pass --url or set BERTH_URL';
  const url = /^https?:\/\//.test(rawUrl) ? rawUrl.replace(/\/+$/, '') : `https://${rawUrl.replace(/\/+$/, '')}`;
  try { new URL(url); } catch { return `not a URL: ${rawUrl}`; }
  // The registry's address, not one of its APIs' (a GitHub-style base URL is a common copy-paste).
  const api = /\/(?:api\/v3|v2)$/.exec(new URL(url).pathname);
  if (api) return `--url is the registry's address, not its API's: drop ${api[0]} (use ${url.slice(0, -api[0].length)})`;
  const username = pick('username', opts.username, '--username', ['BERTH_USERNAME', 'GITHUB_USERNAME']);
  const token = pick('token', stdinToken, '--token-stdin', ['BERTH_TOKEN', 'GITHUB_TOKEN']);
  const org = pick('org', opts.org, '--org', ['BERTH_ORG', 'GITHUB_ORG']) ?? username;
  if (org === username && username) sources.org ??= 'the username';
  if (!org) return 'no organization: pass --org, set BERTH_ORG, or give a --username to push under';
  return { url, username, token, org: org.toLowerCase(), keep: Boolean(opts.keep), insecure: Boolean(opts.insecure), sources };
}

/** Shows a token the way GitHub does after creation: its prefix and a couple of characters. */
export function maskToken(token: string): string {
  const prefix = /^[a-z]+_(?:[a-z]+_)?/.exec(token)?.[0] ?? '';
  return `${token.slice(0, prefix ? prefix.length + 2 : Math.min(4, Math.floor(token.length / 2)))}…`;
}

class Skip extends Error {}
class Fail extends Error {
  readonly diagnosis: string;
  constructor(message: string, diagnosis: string) {
    super(message);
    this.diagnosis = diagnosis;
  }
}

/** State shared by the steps, filled in as they pass. */
interface Context {
  readonly settings: DoctorSettings;
  readonly client: RegistryClient;
  readonly image: TestImage;
  readonly name: string;
  readonly tag: string;
  probe?: ProbeResult;
  skewSeconds: number;
  scopes: string | null;
  api: boolean | null;
  pushed: boolean;
  pulled: boolean;
  warning?: string;
}

interface Step {
  readonly name: string;
  run(ctx: Context, out: Renderer): Promise<string>;
}

export async function runDoctor(settings: DoctorSettings, out: Renderer): Promise<DoctorReport> {
  const now = new Date();
  const tag = `test-${Math.floor(now.getTime() / 1000)}`;
  const ctx: Context = {
    settings, tag, name: `${settings.org}/${PACKAGE}`, image: buildTestImage({ createdAt: now }),
    client: new RegistryClient({ url: settings.url, username: settings.username ?? undefined, token: settings.token ?? undefined, insecure: settings.insecure }),
    skewSeconds: 0, scopes: null, api: null, pushed: false, pulled: false,
  };
  const image = `${new URL(settings.url).host}/${ctx.name}:${tag}`;
  out.header(settings.url, image);
  const results: StepResult[] = [];
  let failedAt: number | null = null;
  for (const [i, step] of STEPS.entries()) {
    const number = i + 1;
    const started = Date.now();
    ctx.warning = undefined;
    let result: StepResult;
    // Steps before the clean-up build on each other; the clean-up runs whenever something was pushed.
    if (failedAt !== null && !(step === CLEANUP && ctx.pushed)) {
      result = { number, name: step.name, status: 'skip', detail: `skipped: step ${failedAt} failed`, ms: 0 };
    } else {
      try {
        const detail = await step.run(ctx, out);
        result = { number, name: step.name, status: 'pass', detail, ms: Date.now() - started, ...(ctx.warning ? { warning: ctx.warning } : {}) };
      } catch (err) {
        const ms = Date.now() - started;
        if (err instanceof Skip) result = { number, name: step.name, status: 'skip', detail: `skipped: ${err.message}`, ms };
        else {
          result = { number, name: step.name, status: 'fail', detail: describe(err), diagnosis: err instanceof Fail ? err.diagnosis : diagnose(err, ctx), ms };
          failedAt ??= number;
        }
      }
    }
    results.push(result);
    out.step(result);
  }
  const report: DoctorReport = {
    url: settings.url, username: settings.username, token: settings.token ? maskToken(settings.token) : null,
    org: settings.org, image, ok: results.every((r) => r.status !== 'fail'), steps: results,
  };
  out.footer(report);
  return report;
}

const ENVIRONMENT: Step = {
  name: 'Environment',
  async run({ settings: s }) {
    const from = (key: string): string => (s.sources[key] ? ` (${s.sources[key]})` : '');
    return [
      `url ${s.url}${from('url')}`,
      `username ${s.username ?? '(none)'}${from('username')}`,
      `token ${s.token ? maskToken(s.token) : '(none: anonymous)'}${from('token')}`,
      `org ${s.org}${from('org')}`,
      ...(s.insecure ? ['TLS verification off (--insecure)'] : []),
    ].join(', ');
  },
};

const ENDPOINT: Step = {
  name: 'Registry endpoint /v2/',
  async run(ctx) {
    const probe = await ctx.client.probe();
    ctx.probe = probe;
    if (probe.serverDate && !Number.isNaN(probe.serverDate.getTime())) {
      ctx.skewSeconds = Math.round((Date.now() - probe.serverDate.getTime()) / 1000);
      if (Math.abs(ctx.skewSeconds) > SKEW_LIMIT_S) {
        ctx.warning = `clock skew: local time is ${ctx.skewSeconds} s off the server's Date header; tokens may look expired or not yet valid — sync the clock (NTP)`;
      }
    }
    const c = probe.challenge;
    const auth = c ? `${c.scheme} ${Object.entries(c.params).map(([k, v]) => `${k}="${v}"`).join(' ')}` : 'no authentication challenge';
    return `GET /v2/ → ${probe.status}, ${auth}${probe.apiVersion ? `, ${probe.apiVersion}` : ''}`;
  },
};

const LOGIN: Step = {
  name: 'Login',
  async run(ctx) {
    const challenge: Challenge | null = ctx.probe?.challenge ?? null;
    if (!challenge) return 'not required: the registry answers /v2/ without a challenge';
    if (!ctx.settings.token) {
      throw new Fail('the registry asks for credentials but no token was given', 'set BERTH_TOKEN (or pass --token-stdin) to a personal access token with write:packages and delete:packages, and --username to its owner');
    }
    const scope = `repository:${ctx.name}:pull,push`;
    const { granted } = await ctx.client.login(challenge, scope);
    ctx.api = await probeApi(ctx.client);
    if (ctx.api) {
      const me = await ctx.client.rest('GET', '/api/v3/user');
      const header = me.headers['x-oauth-scopes'];
      ctx.scopes = typeof header === 'string' ? header : null;
    }
    if (challenge.scheme.toLowerCase() !== 'bearer') return `${challenge.scheme} credentials accepted`;
    if (!granted.includes('push')) {
      ctx.warning = `push was not granted on ${ctx.name}; the push will fail${ctx.scopes !== null && !ctx.scopes.includes('write:packages') ? ' (the token lacks write:packages)' : ''}`;
    }
    return `token exchange at ${challenge.params.realm} for ${scope}: granted ${granted.length ? granted.join(',') : 'nothing'}${ctx.scopes !== null ? `; token scopes: ${ctx.scopes || '(none)'}` : ''}`;
  },
};

const PUSH: Step = {
  name: 'Build and push a test image',
  async run(ctx, out) {
    const { image, client, name } = ctx;
    const blobs = [image.layer, image.config];
    const total = blobs.reduce((n, b) => n + b.bytes.length, 0);
    let done = 0;
    for (const blob of blobs) {
      await client.pushBlob(name, blob.bytes, (sent) => out.progress(done + sent, total));
      done += blob.bytes.length;
    }
    out.progress(null, total);
    const digest = await client.putManifest(name, ctx.tag, image.manifest.mediaType, image.manifest.bytes);
    ctx.pushed = true;
    if (digest !== image.manifest.digest) throw new Fail(`the registry answered digest ${digest}, expected ${image.manifest.digest}`, 'the registry rewrote the manifest; it must store manifests byte for byte');
    return `built in memory (1 layer, ${total} bytes), pushed ${name}:${ctx.tag} (${short(digest)})`;
  },
};

const PULL: Step = {
  name: 'Pull it back and verify digests',
  async run(ctx) {
    const { client, name, image } = ctx;
    const manifest = await client.getManifest(name, ctx.tag, [MediaType.ociManifest, MediaType.dockerManifest]);
    const digest = sha256(manifest.bytes);
    if (digest !== image.manifest.digest) throw new Fail(`manifest by tag has digest ${digest}, pushed ${image.manifest.digest}`, 'the tag points at other content or the registry altered the manifest');
    if (manifest.digest && manifest.digest !== digest) throw new Fail(`Docker-Content-Digest ${manifest.digest} does not match the body (${digest})`, 'the registry (or a proxy in front of it) changes the manifest body');
    const parsed = JSON.parse(manifest.bytes.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    const wanted = [parsed.config.digest, ...parsed.layers.map((l) => l.digest)];
    for (const d of wanted) {
      const bytes = await client.getBlob(name, d);
      if (sha256(bytes) !== d) throw new Fail(`blob ${short(d)} came back with digest ${short(sha256(bytes))}`, 'the stored blob is corrupt or a proxy alters downloads');
    }
    ctx.pulled = true;
    return `manifest ${short(digest)} and ${wanted.length} blobs pulled, every digest verified`;
  },
};

const RUN: Step = {
  name: 'Run with Docker',
  async run(ctx) {
    const info = docker(['info', '--format', '{{.ServerVersion}}'], undefined, 10_000);
    if (info.missing) throw new Skip('no docker CLI installed');
    if (info.status !== 0) throw new Skip(`no Docker engine reachable (docker info: ${firstLine(info.stderr) || `exit ${info.status}`})`);
    const ref = `${new URL(ctx.settings.url).host}/${ctx.name}:${ctx.tag}`;
    // A throw-away client config, so the doctor never touches the user's stored docker logins.
    const config = mkdtempSync(join(tmpdir(), 'berth-doctor-docker-'));
    try {
      const d = (args: string[], input?: string): { status: number | null; stdout: string; stderr: string } => docker(['--config', config, ...args], input, 120_000);
      if (ctx.settings.token && ctx.probe?.challenge) {
        const login = d(['login', new URL(ctx.settings.url).host, '-u', ctx.settings.username ?? 'token', '--password-stdin'], ctx.settings.token);
        if (login.status !== 0) throw new Fail(`docker login: ${firstLine(login.stderr)}`, dockerHint(login.stderr));
      }
      const pull = d(['pull', ref]);
      if (pull.status !== 0) throw new Fail(`docker pull: ${firstLine(pull.stderr)}`, dockerHint(pull.stderr));
      // FROM-scratch image without a command: creating a container proves the engine unpacked it; nothing to execute.
      const create = d(['create', ref, ctx.image.file]);
      if (create.status !== 0) throw new Fail(`docker create: ${firstLine(create.stderr)}`, dockerHint(create.stderr));
      d(['rm', create.stdout.trim()]);
      d(['rmi', ref]);
      return `docker pull and docker create succeeded (Docker ${info.stdout.trim()}); the image has no command, so nothing was run; container and local image removed`;
    } finally {
      rmSync(config, { recursive: true, force: true });
    }
  },
};

const REST: Step = {
  name: 'List packages through the REST API',
  async run(ctx) {
    ctx.api ??= await probeApi(ctx.client);
    if (!ctx.api) throw new Skip(`no GitHub-compatible API at ${ctx.settings.url}/api/v3`);
    const owner = await ownerPath(ctx);
    const list = await restOk(ctx, 'GET', `${owner}/packages?package_type=container&per_page=100`);
    const packages = Array.isArray(list) ? (list as { name?: string; visibility?: string }[]) : [];
    const mine = packages.find((p) => p.name === PACKAGE);
    if (!mine) throw new Fail(`${PACKAGE} is not among the ${packages.length} packages listed for ${ctx.settings.org}`, 'the REST API and the registry disagree; the token may lack read:packages for listing');
    const versions = await restOk(ctx, 'GET', `${owner}/packages/container/${PACKAGE}/versions?per_page=100`);
    const tagged = (Array.isArray(versions) ? versions : []) as { metadata?: { container?: { tags?: string[] } } }[];
    if (!tagged.some((v) => v.metadata?.container?.tags?.includes(ctx.tag))) {
      throw new Fail(`no version of ${PACKAGE} lists tag ${ctx.tag} in metadata.container.tags`, 'the REST API does not see the pushed tag; check the registry and API share one database');
    }
    return `package count: ${packages.length}; ${PACKAGE} (visibility: ${mine.visibility ?? 'unknown'}) has tag ${ctx.tag}`;
  },
};

const CLEANUP: Step = {
  name: 'Delete the test package',
  async run(ctx) {
    if (!ctx.pushed) throw new Skip('nothing was pushed');
    if (ctx.settings.keep) throw new Skip(`--keep: ${ctx.name}:${ctx.tag} left in place`);
    ctx.api ??= await probeApi(ctx.client);
    if (ctx.api) {
      const owner = await ownerPath(ctx);
      await restOk(ctx, 'DELETE', `${owner}/packages/container/${PACKAGE}`);
      return `deleted package ${ctx.name} (REST DELETE ${owner}/packages/container/${PACKAGE})`;
    }
    await ctx.client.deleteManifest(ctx.name, ctx.image.manifest.digest);
    return `deleted manifest ${short(ctx.image.manifest.digest)} (OCI DELETE; blobs are left to the registry's garbage collection)`;
  },
};

const STEPS: readonly Step[] = [ENVIRONMENT, ENDPOINT, LOGIN, PUSH, PULL, RUN, REST, CLEANUP];

async function probeApi(client: RegistryClient): Promise<boolean> {
  try {
    const res = await client.rest('GET', '/api/v3/');
    return res.status < 500 && res.status !== 404 && typeof res.json === 'object' && res.json !== null;
  } catch {
    return false;
  }
}

/** `/api/v3/orgs/<org>` for an organization, `/api/v3/user` when the namespace is the caller's own. */
async function ownerPath(ctx: Context): Promise<string> {
  const org = await ctx.client.rest('GET', `/api/v3/orgs/${ctx.settings.org}`);
  return org.status === 404 && ctx.settings.username?.toLowerCase() === ctx.settings.org ? '/api/v3/user' : `/api/v3/orgs/${ctx.settings.org}`;
}

async function restOk(ctx: Context, method: 'GET' | 'DELETE', path: string): Promise<unknown> {
  const res = await ctx.client.rest(method, path);
  if (res.status >= 200 && res.status < 300) return res.json;
  const message = (res.json as { message?: string } | null)?.message ?? `HTTP ${res.status}`;
  const retry = res.headers['retry-after'];
  throw new ClientError({ operation: `${method} ${path}`, status: res.status, code: `HTTP_${res.status}`, message, retryAfter: typeof retry === 'string' && /^\d+$/.test(retry) ? Number(retry) : null });
}

function describe(err: unknown): string {
  if (err instanceof ClientError) return `${err.operation}: ${err.status ?? err.code}${err.status !== null && !err.code.startsWith('HTTP_') ? ` ${err.code}` : ''} ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

const TLS_UNTRUSTED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT']);

/** One line naming the likely fix, from the error's transport code, HTTP status and the registry's own words. */
export interface DiagnoseContext {
  readonly settings: Pick<DoctorSettings, 'url' | 'org'> & { readonly username?: string | null };
  /** The token's scopes from `X-OAuth-Scopes`, when the REST API told them. */
  readonly scopes: string | null;
  /** Local time minus the server's `Date`, in seconds. */
  readonly skewSeconds: number;
  /** The test repository, `<org>/berth-doctor`. */
  readonly name: string;
}

export function diagnose(err: unknown, ctx: DiagnoseContext): string {
  const host = (() => { try { return new URL(ctx.settings.url).host; } catch { return ctx.settings.url; } })();
  const skew = Math.abs(ctx.skewSeconds) > SKEW_LIMIT_S ? ` (note: the local clock is ${ctx.skewSeconds} s off the server's)` : '';
  if (!(err instanceof ClientError)) return 'unexpected error; rerun with --json and report it';
  if (err.status === null) {
    if (err.code === 'ECONNREFUSED') return `connection refused by ${host}: is the registry running, and are the host and port in --url right?`;
    if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `the host name in ${ctx.settings.url} does not resolve (DNS): check the spelling or your network/VPN`;
    if (err.code === 'ETIMEDOUT' || err.code === 'ECONNRESET' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') return `${host} is unreachable (${err.code}): check firewalls, proxies and the port`;
    if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the TLS certificate is not valid for ${host}: use the host name the certificate was issued for (or --insecure to test anyway)`;
    if (TLS_UNTRUSTED.has(err.code)) return 'the TLS certificate is self-signed or from an unknown CA: trust the CA (NODE_EXTRA_CA_CERTS=ca.pem for berth, /etc/docker/certs.d for Docker) or pass --insecure';
    if (err.code === 'CERT_HAS_EXPIRED') return `the registry's TLS certificate has expired${skew}: renew it`;
    if (err.code === 'EPROTO' || /wrong version number|packet length/i.test(err.message)) return 'TLS handshake failed: the server probably speaks plain HTTP; use http:// in --url';
    return `network error ${err.code}: check that ${ctx.settings.url} is the registry's address`;
  }
  const text = err.message;
  if (err.status === 429 || err.code === 'TOOMANYREQUESTS' || /rate limit/i.test(text)) {
    return `rate limited by the registry: wait ${err.retryAfter !== null ? `${err.retryAfter} s (Retry-After)` : 'a while'} and retry; avoid running many doctors or logins in parallel`;
  }
  if (/expired/i.test(text)) return `the token has expired${skew}: create a new one (berth token create, or Settings → Developer settings → Personal access tokens) and retry`;
  if (/revoked/i.test(text)) return 'the token was revoked: create a new personal access token and retry';
  const scope = /lacks the (\S+) scope/.exec(text);
  if (scope) return `the token lacks the ${scope[1]} scope: create a token with read:packages, write:packages and delete:packages`;
  // Refused pushes name what to fix (issue 13 §4): the membership, the organization's policy, the namespace.
  const org = ctx.settings.org;
  if (/is not a member of the organization/.test(text)) {
    return `you are not a member of ${org}: ask an owner to run "berth org add-member ${org} ${ctx.settings.username ?? 'YOUR-USER'}" `
      + "(or to add you on the organization's settings page), or use your own user name as --org";
  }
  if (/lets only its owners create packages/.test(text)) {
    return `${org} lets only its owners create packages: ask an owner to run "berth org policy ${org} --members-can-create yes", or to create ${ctx.name}`;
  }
  if (/there is no user or organization named/.test(text)) return `there is no user or organization named ${org}: check --org (your user name or an organization)`;
  if (/looks like a GitHub token/.test(text)) {
    return 'this is a GitHub token, not a Berth token: create a Berth token (berth token create, or Settings → Developer settings → Personal access tokens)';
  }
  // Older servers said `create_package`; now one message whether the package exists or not.
  if (/create_package|you may not push to/.test(text)) {
    if (ctx.scopes !== null && !ctx.scopes.includes('write:packages')) return `the token lacks the write:packages scope (it has: ${ctx.scopes || 'none'}): create a token with write:packages`;
    return `you may not create packages in ${ctx.settings.org}: use your own user name as --org, or ask an organization admin to allow package creation for members (or give you a role on ${ctx.name})`;
  }
  if (/cannot be authenticated|not a valid Berth token|not a Berth personal access token|bad credentials|invalid credentials/i.test(text) || (err.status === 401 && err.operation === 'token')) {
    return `the registry does not know this token (wrong, revoked or from another server)${skew}: check BERTH_TOKEN/--token-stdin and --username, or create a new token`;
  }
  if (err.code === 'NAME_UNKNOWN' || (err.status === 404 && err.operation.startsWith('pull'))) {
    return `${ctx.name} is not visible to this token: a private package needs read access (ask an admin for a role, or make it public)`;
  }
  if (err.code === 'UNSUPPORTED' || err.status === 405) return `the registry refuses ${err.operation} (disabled by its configuration); remove ${ctx.name} by hand or use --keep`;
  if (err.status === 401) return `credentials refused: check --username and the token${skew}`;
  if (err.status === 403 || err.code === 'DENIED') return `permission denied (${text}): ask an organization or package admin for the needed role`;
  if (err.status >= 500) return 'the registry failed internally: look at its logs (the request id is in the message)';
  return `unexpected answer ${err.status} ${err.code}: see the message above`;
}

function docker(args: string[], input: string | undefined, timeout: number): { status: number | null; stdout: string; stderr: string; missing: boolean } {
  const r = spawnSync('docker', args, { encoding: 'utf8', input, timeout });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error?.message ?? ''), missing };
}

function dockerHint(stderr: string): string {
  if (/http: server gave HTTP response to HTTPS client/.test(stderr)) return 'the Docker engine wants HTTPS: add the registry to "insecure-registries" in /etc/docker/daemon.json or serve TLS';
  if (/x509|certificate/.test(stderr)) return 'the Docker engine does not trust the certificate: put the CA in /etc/docker/certs.d/<host>/ca.crt';
  if (/unauthorized|denied/.test(stderr)) return 'the Docker engine was refused: the token may lack read:packages';
  return 'see the Docker message above';
}

const firstLine = (s: string): string => s.trim().split('\n')[0] ?? '';
const short = (digest: string): string => `${digest.slice(0, 19)}…`;

/** Human output: marks and colors on a TTY, plain ASCII otherwise; silent in --json mode (the report is printed at the end). */
export class Renderer {
  readonly #out: NodeJS.WriteStream;
  readonly #json: boolean;
  readonly #tty: boolean;
  readonly #color: boolean;

  constructor(out: NodeJS.WriteStream, json: boolean) {
    this.#out = out;
    this.#json = json;
    this.#tty = Boolean(out.isTTY);
    this.#color = this.#tty && !process.env.NO_COLOR;
  }

  usage(message: string): void {
    process.stderr.write(`berth doctor: ${message}\n`);
  }

  header(url: string, image: string): void {
    this.#line(`Berth doctor: ${url} (test image ${image})`);
    this.#line(this.#bar());
  }

  progress(sent: number | null, total: number): void {
    if (this.#json || !this.#tty) return;
    if (sent === null) return void this.#out.write('\r\x1b[2K');
    const width = 30;
    const filled = Math.round((sent / total) * width);
    this.#out.write(`\r   pushing [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${sent}/${total} bytes`);
  }

  step(r: StepResult): void {
    const mark = r.status === 'pass' ? this.#paint('32', this.#tty ? '✔' : '[ok]') : r.status === 'fail' ? this.#paint('31', this.#tty ? '✖' : '[FAIL]') : this.#paint('90', this.#tty ? '–' : '[skip]');
    this.#line(`${r.number}. ${r.name}`);
    this.#line(`   ${mark} ${r.detail}${r.status === 'skip' ? '' : this.#paint('90', ` (${r.ms} ms)`)}`);
    if (r.warning) this.#line(`   ${this.#paint('33', this.#tty ? '!' : '[warn]')} ${r.warning}`);
    if (r.diagnosis) this.#line(`   ${this.#paint('1', 'diagnosis:')} ${r.diagnosis}`);
  }

  footer(report: DoctorReport): void {
    const count = (s: StepStatus): number => report.steps.filter((r) => r.status === s).length;
    this.#line(this.#bar());
    const summary = `${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped`;
    this.#line(report.ok ? this.#paint('32', `Check complete: ${summary}`) : this.#paint('31', `Check failed: ${summary}`));
  }

  #bar(): string {
    return (this.#tty ? '─' : '-').repeat(60);
  }

  #paint(code: string, text: string): string {
    return this.#color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  #line(text: string): void {
    if (!this.#json) this.#out.write(`${text}\n`);
  }
}
