// The CLI as a newcomer meets it (issue 18): `berth` on PATH from `npm install -g .`, the README's admin examples run
// as written, admin commands that say which data they use and refuse to start a second empty registry, and usage
// errors that are one line with exit code 2. Everything runs the built CLI (dist/main.js, the package's bin).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { backendEnv } from '../helpers/berth.js';
import { builtCli, runBuilt, type CliResult } from '../helpers/built-cli.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'berth-newcomer-'));
after(() => rmSync(work, { recursive: true, force: true }));
before(() => { builtCli(); });

/** A usage error: exit 2 and exactly one line on stderr, naming the problem, with no stack trace. */
function assertUsageError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.status, 2, `${r.stdout}${r.stderr}`);
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, `one line:\n${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

test('npm install -g . puts berth on PATH; the README quick start admin commands run as written in the server\'s directory', async () => {
  const prefix = join(work, 'prefix');
  const install = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', ROOT], { encoding: 'utf8' });
  assert.equal(install.status, 0, install.stderr);
  const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, BERTH_LOG_LEVEL: 'warn' };
  // Where `npm start` would run: the server's ./data is the admin commands' default too.
  const site = join(work, 'site');
  mkdirSync(site);
  const siteEnv = { ...env, ...await backendEnv(join(site, 'data')) };
  const server = spawn('berth', ['serve', '--port', '0'], { cwd: site, env: siteEnv });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /berth listening on (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      server.once('exit', (code) => reject(new Error(`berth serve exited with ${code}`)));
    });
    // The README's lines, verbatim (docker aside).
    const script = [
      'set -e',
      'berth user create alice --email alice@example.com',
      'berth org create acme --owner alice',
      'TOKEN=$(berth token create --user alice --scopes read:packages,write:packages --expires 90d --note "laptop")',
      `curl -s -o /dev/null -w '%{http_code}\\n' -u "alice:$TOKEN" "${url}/v2/"`,
    ].join('\n');
    const r = spawnSync('bash', ['-c', script], { cwd: site, env: siteEnv, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '200\n', 'the new token is accepted by the running server');
    assert.match(r.stderr, new RegExp(`^berth: using (data directory ${join(site, 'data')} \\(database ${join(site, 'data', 'berth.db')}\\)|PostgreSQL database .*)$`, 'm'));
    assert.match(r.stderr, /^created user alice$/m);
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
});

test('admin commands refuse a directory without a Berth database (one line, exit 2, nothing created) unless --init', async () => {
  const elsewhere = join(work, 'elsewhere');
  mkdirSync(elsewhere);
  const env = { ...process.env, ...await backendEnv(join(elsewhere, 'data')) };
  for (const args of [['user', 'list'], ['org', 'create', 'acme', '--owner', 'alice'], ['gc'], ['token', 'list', '--user', 'alice']]) {
    const r = runBuilt(args, { cwd: elsewhere, env });
    assertUsageError(r, /^berth: no Berth database in .* pass --data DIR \(or --config FILE\) to use the one `berth serve` uses, or --init to create a new one here\n$/);
  }
  assert.equal(existsSync(join(elsewhere, 'data', 'berth.db')), false, 'no database was created');

  const init = runBuilt(['user', 'create', 'alice', '--init'], { cwd: elsewhere, env });
  assert.equal(init.status, 0, init.stderr);
  assert.match(init.stderr, env.BERTH_METADATA_URL
    ? /^berth: using PostgreSQL database \S+ \(blobs in .*\)\ncreated user alice\n$/
    : new RegExp(`^berth: using data directory ${join(elsewhere, 'data')} \\(database ${join(elsewhere, 'data', 'berth.db')}\\)\ncreated user alice\n$`));
  assert.doesNotMatch(init.stderr, /:[^@/]*@/, 'no credentials of the database URL');
  // From then on the directory holds a Berth database: no --init needed, and --data names it from anywhere.
  const list = runBuilt(['user', 'list', '--data', join(elsewhere, 'data')], { cwd: work, env });
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /^alice\s/m);
  assert.match(list.stderr, /^berth: using /);
});

test('usage errors are one line with exit code 2, never a stack trace', async () => {
  const noTokenEnv = { ...process.env, BERTH_TOKEN: '', GITHUB_TOKEN: '' };
  assertUsageError(runBuilt(['kube-secret', '--server', 'registry.example.com', '--username', 'alice'], { env: noTokenEnv }),
    /^berth: no token: pass --token-stdin or set BERTH_TOKEN \(or GITHUB_TOKEN\)\n$/);
  assertUsageError(runBuilt(['kube-secret', '--username', 'alice'], { env: noTokenEnv }),
    /^berth kube-secret: required option '--server <host>' not specified \(see `berth kube-secret --help`\)\n$/);
  assertUsageError(runBuilt(['ci-template', '--registry', 'r.example.com', '--org', 'acme', '--services', 'auth-api,Bad Name']),
    /^berth: --services: "Bad Name" is not a valid image name/);
  assertUsageError(runBuilt(['ci-template', '--registry', 'r.example.com', '--org', 'acme', '--services', ',']), /^berth: --services: name at least one service/);
  assertUsageError(runBuilt(['user', 'create']), /^berth user create: missing required argument 'name'/);
  assertUsageError(runBuilt(['no-such-command']), /^berth: unknown command 'no-such-command'/);
  assertUsageError(runBuilt(['gc', '--no-such-flag']), /^berth gc: unknown option '--no-such-flag'/);
  // Bad values are refused before any data is touched.
  const dir = join(work, 'untouched');
  assertUsageError(runBuilt(['gc', '--grace', 'soon', '--data', dir]), /^berth: --grace: "soon" is not a duration/);
  assertUsageError(runBuilt(['scrub', '--older-than', 'old', '--data', dir]), /^berth: --older-than: "old" is not a duration/);
  assertUsageError(runBuilt(['token', 'create', '--user', 'alice', '--scopes', 'read:packages', '--expires', 'someday', '--data', dir]),
    /^berth: --expires: "someday" is not a duration/);
  assertUsageError(runBuilt(['token', 'create', '--user', 'alice', '--scopes', 'read:packages', '--allow-delete', '--data', dir]),
    /^berth: --allow-delete is for CI tokens/);
  assertUsageError(runBuilt(['token', 'revoke', 'abc', '--user', 'alice', '--data', dir]), /^berth: "abc" is not a token id/);
  assert.equal(existsSync(dir), false, 'nothing was created');
});

test('kube-secret reads the token from BERTH_TOKEN, else GITHUB_TOKEN, as doctor does', () => {
  const secretToken = (env: NodeJS.ProcessEnv): string => {
    const r = runBuilt(['kube-secret', '--server', 'registry.example.com', '--username', 'alice'], { env: { ...process.env, ...env } });
    assert.equal(r.status, 0, r.stderr);
    const secret = parse(r.stdout.split('\n# In the Deployment')[0]!) as { data: Record<string, string> };
    const config = JSON.parse(Buffer.from(secret.data['.dockerconfigjson']!, 'base64').toString()) as { auths: Record<string, { password: string }> };
    return config.auths['registry.example.com']!.password;
  };
  assert.equal(secretToken({ BERTH_TOKEN: '', GITHUB_TOKEN: 'ghp_from_the_guide' }), 'ghp_from_the_guide');
  assert.equal(secretToken({ BERTH_TOKEN: 'berth_pat_wins', GITHUB_TOKEN: 'ghp_from_the_guide' }), 'berth_pat_wins');
});
