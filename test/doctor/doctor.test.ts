import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ClientError } from '../../src/client/registry-client.js';
import { diagnose, maskToken } from '../../src/cli/doctor.js';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { freePort } from '../helpers/ports.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'berth-doctor-test-'));
let berth: RunningBerth;
let hasApi = false;

before(async () => {
  berth = await startBerth();
  // The REST steps depend on the GitHub-compatible API being there; probe it as the doctor does.
  const root = await berth.fetch('/api/v3/', { auth: `Bearer ${berth.token}` });
  hasApi = root.status === 200;
});
after(async () => {
  await berth.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Run { status: number | null; stdout: string; stderr: string }

/** Runs `berth doctor` as a user would; stdout is a pipe, so the output is the plain ASCII form. */
function doctor(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [builtCli(), 'doctor', ...args], {
      cwd: ROOT,
      // Only what the test sets: a developer's own BERTH_*/GITHUB_* variables must not leak into the run.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const envFor = (token: string, url = berth.url): Record<string, string> => ({ BERTH_URL: url, BERTH_USERNAME: berth.user, BERTH_TOKEN: token });

/** "N. Name\n   [mark] detail" → the mark line of step N. */
function stepLine(out: string, n: number): string {
  const m = new RegExp(`^${n}\\. .*\\n   (.*)$`, 'm').exec(out);
  assert.ok(m, `no step ${n} in:\n${out}`);
  return m[1]!;
}

async function newToken(scopes: string[], expiresAt: number | null): Promise<string> {
  return berth.admin(async (s) => (await s.tokens.create({ userId: (await s.accounts.getUser(berth.user)).id, note: 'doctor', scopes, expiresAt })).token);
}

test('every step passes against Berth with a full token; the token is masked', async () => {
  const run = await doctor(['--org', 'acme'], envFor(berth.token));
  assert.equal(run.status, 0, run.stdout + run.stderr);
  for (const n of [1, 2, 3, 4, 5, 8]) assert.match(stepLine(run.stdout, n), /^\[ok\] /);
  assert.match(stepLine(run.stdout, 3), /granted pull,push/);
  assert.match(stepLine(run.stdout, 5), /every digest verified/);
  assert.match(stepLine(run.stdout, 6), /^\[(ok|skip)\] /);
  assert.match(stepLine(run.stdout, 7), hasApi ? /^\[ok\] package count: \d+; berth-doctor .*has tag test-\d+/ : /^\[skip\] skipped: no GitHub-compatible API at http/);
  assert.match(run.stdout, /token berth_pat_\w{2}… \(BERTH_TOKEN\)/);
  assert.ok(!run.stdout.includes(berth.token), 'the full token must never be printed');
  assert.match(run.stdout, /Check complete: \d passed, 0 failed/);
  // Deleted at the end: the tag is gone.
  const tag = /berth-doctor:(test-\d+)/.exec(run.stdout)![1]!;
  assert.equal((await berth.fetch(`/v2/acme/berth-doctor/manifests/${tag}`)).status, 404);
});

test('--json prints a machine-readable report; --keep leaves the image', async () => {
  const run = await doctor(['--org', 'acme', '--json', '--keep'], envFor(berth.token));
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const report = JSON.parse(run.stdout) as { ok: boolean; image: string; token: string; steps: { number: number; name: string; status: string; detail: string }[] };
  assert.equal(report.ok, true);
  assert.deepEqual(report.steps.map((s) => s.number), [1, 2, 3, 4, 5, 6, 7, 8]);
  for (const s of report.steps) {
    assert.ok(['pass', 'skip'].includes(s.status), `${s.name}: ${s.status} ${s.detail}`);
    assert.equal(typeof s.detail, 'string');
  }
  assert.match(report.token, /^berth_pat_\w{2}…$/);
  assert.equal(report.steps[7]!.status, 'skip');
  assert.match(report.steps[7]!.detail, /--keep/);
  const tag = report.image.split(':').at(-1)!;
  assert.equal((await berth.fetch(`/v2/acme/berth-doctor/manifests/${tag}`, { method: 'HEAD' })).status, 200);
});

test('against the CNCF registry without auth: registry steps pass, Berth-only steps are skipped', async () => {
  const dir = join(work, 'cncf');
  const port = await freePort();
  rmSync(dir, { recursive: true, force: true });
  const config = join(work, 'cncf.yml');
  writeFileSync(config, [
    'version: 0.1', 'log:', '  level: warn', '  accesslog:', '    disabled: true',
    'storage:', '  filesystem:', `    rootdirectory: ${dir}`, '  delete:', '    enabled: true',
    'http:', `  addr: 127.0.0.1:${port}`, '',
  ].join('\n'));
  const registry: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: 'ignore' });
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${url}/v2/`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = await doctor(['--url', url, '--org', 'library'], {});
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(stepLine(run.stdout, 2), /^\[ok\] GET \/v2\/ → 200, no authentication challenge/);
    assert.match(stepLine(run.stdout, 3), /^\[ok\] not required/);
    assert.match(stepLine(run.stdout, 4), /^\[ok\] /);
    assert.match(stepLine(run.stdout, 5), /^\[ok\] /);
    assert.equal(stepLine(run.stdout, 7), `[skip] skipped: no GitHub-compatible API at ${url}/api/v3`);
    assert.match(stepLine(run.stdout, 8), /^\[ok\] deleted manifest sha256:.*OCI DELETE/);
  } finally {
    registry.kill('SIGTERM');
  }
});

test('each known failure gives its diagnosis and exit 1', async () => {
  const readOnly = await newToken(['read:packages'], null);
  const expiring = await newToken(['write:packages'], Date.now() + 1000);
  const revoked = await berth.admin(async (s) => {
    const user = await s.accounts.getUser(berth.user);
    const { token, info } = await s.tokens.create({ userId: user.id, note: 'doctor', scopes: ['write:packages'], expiresAt: null });
    await s.tokens.revoke(user.id, info.id);
    return token;
  });
  const closed = await freePort();
  // A user who is no member of acme, with a token that could push: told to be added, with the command (issue 13 §4).
  const stranger = await berth.admin(async (s) => {
    const user = await s.accounts.createUser({ login: 'stranger' });
    return (await s.tokens.create({ userId: user.id, note: 'doctor', scopes: ['write:packages'], expiresAt: null })).token;
  });
  await new Promise((r) => setTimeout(r, 1500));
  const cases: { name: string; env: Record<string, string>; step: number; diagnosis: RegExp }[] = [
    { name: 'unknown token', env: envFor(`berth_pat_${'x'.repeat(36)}`), step: 3, diagnosis: /does not know this token/ },
    { name: 'read-only token', env: envFor(readOnly), step: 4, diagnosis: /lacks the write:packages scope/ },
    { name: 'revoked token', env: envFor(revoked), step: 3, diagnosis: /the token was revoked/ },
    { name: 'expired token', env: envFor(expiring), step: 3, diagnosis: /the token has expired: create a new one/ },
    { name: 'non-member', env: { ...envFor(stranger), BERTH_USERNAME: 'stranger' }, step: 4, diagnosis: /you are not a member of acme: ask an owner to run "berth org add-member acme stranger"/ },
    { name: 'GitHub token', env: envFor(`ghp_${'a1B2'.repeat(9)}`), step: 3, diagnosis: /this is a GitHub token, not a Berth token/ },
    { name: 'closed port', env: envFor(berth.token, `http://127.0.0.1:${closed}`), step: 2, diagnosis: /connection refused by 127\.0\.0\.1:\d+/ },
  ];
  const runs = await Promise.all(cases.map((c) => doctor(['--org', 'acme'], c.env)));
  for (const [i, c] of cases.entries()) {
    const run = runs[i]!;
    assert.equal(run.status, 1, `${c.name}:\n${run.stdout}${run.stderr}`);
    assert.match(stepLine(run.stdout, c.step), /^\[FAIL\] /, c.name);
    assert.match(run.stdout, new RegExp(`^${c.step}\\. .*\\n.*\\n   diagnosis: .*${c.diagnosis.source}`, 'm'), `${c.name}:\n${run.stdout}`);
    assert.match(run.stdout, /Check failed: /);
  }
});

test('no URL is a usage error (exit 2)', async () => {
  const run = await doctor([], {});
  assert.equal(run.status, 2);
  assert.match(run.stderr, /no registry URL: pass --url or set BERTH_URL/);
});

test('a URL ending in /api/v3 (a GitHub-style API base) is refused with the address to use instead', async () => {
  const run = await doctor(['--url', `${berth.url}/api/v3/`, '--org', 'acme'], {});
  assert.equal(run.status, 2);
  assert.ok(run.stderr.includes(`--url is the registry's address, not its API's: drop /api/v3 (use ${berth.url})`), run.stderr);
});

test('diagnoses transport, TLS, rate-limit and permission errors from their codes and messages', () => {
  const ctx = { settings: { url: 'https://registry.example.com', org: 'acme' }, scopes: null, skewSeconds: 0, name: 'acme/berth-doctor' };
  const net = (code: string): ClientError => new ClientError({ operation: 'GET /v2/', status: null, code, message: code });
  const http = (status: number, code: string, message: string, operation = 'push blob', retryAfter: number | null = null): ClientError =>
    new ClientError({ operation, status, code, message, retryAfter });
  assert.match(diagnose(net('DEPTH_ZERO_SELF_SIGNED_CERT'), ctx), /self-signed .*--insecure/);
  assert.match(diagnose(net('ERR_TLS_CERT_ALTNAME_INVALID'), ctx), /not valid for registry\.example\.com/);
  assert.match(diagnose(net('ENOTFOUND'), ctx), /does not resolve \(DNS\)/);
  assert.match(diagnose(net('ECONNREFUSED'), ctx), /connection refused by registry\.example\.com/);
  assert.match(diagnose(http(429, 'TOOMANYREQUESTS', 'slow down', 'token', 30), ctx), /rate limited.*wait 30 s \(Retry-After\)/);
  assert.match(diagnose(http(403, 'DENIED', 'permission_denied: write_package: the token lacks the write:packages scope; create a token with write:packages'), ctx), /lacks the write:packages scope/);
  assert.match(diagnose(http(403, 'DENIED', 'permission_denied: create_package: acme is not a namespace you may create packages in'), ctx), /may not create packages in acme/);
  assert.match(diagnose(http(403, 'DENIED', 'permission_denied: write_package: you may not push to acme/berth-doctor; check the name, …'), ctx), /may not create packages in acme/);
  assert.match(diagnose(http(403, 'DENIED', 'permission_denied: write_package: acme lets only its owners create packages; …'), ctx), /acme lets only its owners create packages: ask an owner to run "berth org policy acme --members-can-create yes"/);
  assert.match(diagnose(http(403, 'DENIED', 'permission_denied: write_package: there is no user or organization named acme; …'), ctx), /there is no user or organization named acme: check --org/);
  assert.match(diagnose(http(404, 'NAME_UNKNOWN', 'repository name not known', 'pull manifest'), ctx), /private package needs read access/);
  assert.match(diagnose(http(401, 'UNAUTHORIZED', 'unauthenticated: the token has expired', 'token'), { ...ctx, skewSeconds: 120 }), /expired \(note: the local clock is 120 s off/);
  assert.equal(maskToken('ghp_abcdefghijklmnop'), 'ghp_ab…');
  assert.equal(maskToken('berth_pat_abcdefghijklmnopqrstuvwxyz0123'), 'berth_pat_ab…');
});

test('a self-signed certificate is diagnosed; --insecure gets past it', async () => {
  const key = join(work, 'key.pem');
  const cert = join(work, 'cert.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  // Only /v2/ matters here: an open registry that answers 200.
  const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    const strict = await doctor(['--url', url, '--org', 'acme'], {});
    assert.equal(strict.status, 1);
    assert.match(strict.stdout, /DEPTH_ZERO_SELF_SIGNED_CERT[^\n]*\n   diagnosis: the TLS certificate is self-signed .*--insecure/);
    const insecure = await doctor(['--url', url, '--org', 'acme', '--insecure'], {});
    assert.match(stepLine(insecure.stdout, 2), /^\[ok\] GET \/v2\/ → 200/);
  } finally {
    server.close();
  }
});

test('with a Docker engine reachable (DOCKER_HOST), step 6 pulls the test image and creates a container', async () => {
  const { startDocker } = await import('../helpers/daemons.js');
  const engine = await startDocker();
  try {
    const run = await doctor(['--org', 'acme'], { ...envFor(berth.token), DOCKER_HOST: engine.host });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(stepLine(run.stdout, 6), /^\[ok\] docker pull and docker create succeeded/);
  } finally {
    await engine.stop();
  }
});
