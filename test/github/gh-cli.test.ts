// End to end with the real GitHub CLI and the README's curl commands: Berth serves HTTPS itself on port 443 as
// https://berth.test (gh speaks only https to enterprise hosts and refuses host:port), with a self-signed
// certificate made here. Port 443 is shared machine-wide, so every test needing it lives in this one file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { ClientError, runTool, skopeoCopy, skopeoInspect, type RunResult } from '../helpers/clients.js';
import { writeImageLayout, writeIndexLayout, type BuiltImage, type BuiltIndex } from '../helpers/oci-image.js';

const HOST = 'berth.test';
let berth: RunningBerth;
let work: string;
let cert: string;
let latest: BuiltImage;
let release: BuiltIndex;
/** Environment for gh and curl: a private gh config, the test CA, no ambient tokens or prompts. */
let env: Record<string, string>;

/** Maps berth.test to 127.0.0.1 in /etc/hosts unless some line already maps it; other entries are left alone. */
function ensureHostsEntry(): void {
  const hosts = readFileSync('/etc/hosts', 'utf8');
  const mapped = hosts.split('\n').some((line) => line.replace(/#.*/, '').trim().split(/\s+/).slice(1).includes(HOST));
  if (!mapped) appendFileSync('/etc/hosts', `${hosts.endsWith('\n') || hosts === '' ? '' : '\n'}127.0.0.1 ${HOST}\n`);
}

const gh = (args: string[], input?: string): Promise<RunResult> => runTool('gh', args, { env, ...(input === undefined ? {} : { input }), timeoutMs: 60_000 });
const ghApi = async (path: string, ...extra: string[]): Promise<string> => (await gh(['api', '--hostname', HOST, path, ...extra])).stdout.trim();

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-gh-'));
  cert = join(work, 'cert.pem');
  const key = join(work, 'key.pem');
  await runTool('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=DNS:${HOST}`,
  ]);
  ensureHostsEntry();
  port443 = await holdPort443();
  berth = await startBerth({
    port: 443,
    env: { BERTH_SERVER_TLS_CERT: cert, BERTH_SERVER_TLS_KEY: key, BERTH_SERVER_PUBLIC_URL: `https://${HOST}` },
  });
  assert.match(berth.url, /^https:\/\//, 'Berth serves HTTPS itself');
  env = {
    GH_CONFIG_DIR: join(work, 'gh'), SSL_CERT_FILE: cert, CURL_CA_BUNDLE: cert, TOKEN: berth.token,
    GH_TOKEN: '', GITHUB_TOKEN: '', GH_ENTERPRISE_TOKEN: '', GITHUB_ENTERPRISE_TOKEN: '', GH_HOST: '',
    GH_PROMPT_DISABLED: '1', GH_NO_UPDATE_NOTIFIER: '1', NO_COLOR: '1',
  };
  // Pushed as the guide says: skopeo, TLS verification off for the self-signed certificate.
  const creds = `${berth.user}:${berth.token}`;
  latest = await writeImageLayout(join(work, 'latest'), { layers: [2048], tag: 'latest' });
  await skopeoCopy(`oci:${join(work, 'latest')}:latest`, `docker://${HOST}/acme/app:latest`, [], { creds });
  release = await writeIndexLayout(join(work, 'release'), {
    layers: [1024], tag: '1.0', annotations: { 'org.opencontainers.image.description': 'Berth end-to-end app' },
  });
  await skopeoCopy(`oci:${join(work, 'release')}:1.0`, `docker://${HOST}/acme/app:1.0`, ['--multi-arch', 'all'], { creds });
});

after(async () => {
  await berth?.stop();
  port443?.release();
  await rm(work, { recursive: true, force: true });
});

let port443: { release(): void } | undefined;
/**
 * Port 443 for this file alone, machine-wide: with BERTH_TEST_PARALLEL=1 both backends' passes run this file, maybe
 * at once. A `flock` child holds the lock until its stdin closes (also when this process dies).
 */
function holdPort443(): Promise<{ release(): void }> {
  return new Promise((resolve, reject) => {
    const holder = spawn('flock', [join(tmpdir(), 'berth-test-port-443.lock'), '-c', 'echo locked; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    holder.once('error', reject);
    holder.stdout.once('data', () => resolve({ release: () => holder.stdin.end() }));
  });
}

describe('gh', () => {
  it('logs in to berth.test with a Berth token (GET /api/v3/ and the viewer GraphQL query)', async () => {
    await gh(['auth', 'login', '--hostname', HOST, '--with-token'], berth.token);
    const status = await gh(['auth', 'status', '--hostname', HOST]);
    assert.match(status.stdout + status.stderr, /Logged in to berth\.test as tester/);
  });

  it('works from GH_HOST and GH_ENTERPRISE_TOKEN alone, as the README says (no login, no --hostname)', async () => {
    const fresh = { ...env, GH_CONFIG_DIR: join(work, 'gh-env-only'), GH_HOST: HOST, GH_ENTERPRISE_TOKEN: berth.token, GITHUB_TOKEN: 'ghp_for_github_com_only' };
    const names = await runTool('gh', ['api', '/orgs/acme/packages?package_type=container', '--jq', '.[].name'], { env: fresh, timeoutMs: 60_000 });
    assert.equal(names.stdout.trim(), 'app');
    // The guide's GITHUB_TOKEN is github.com's: gh checks it there and fails `gh auth status`, so ask about this host.
    const status = await runTool('gh', ['auth', 'status', '--hostname', HOST], { env: fresh, timeoutMs: 60_000 });
    assert.match(status.stdout + status.stderr, /Logged in to berth\.test as tester \(GH_ENTERPRISE_TOKEN\)/);
  });

  it('lists an organization\'s packages', async () => {
    assert.equal(await ghApi('/orgs/acme/packages?package_type=container', '--jq', '.[].name'), 'app');
  });

  it('lists a package\'s versions with their tags, newest first; multi-arch children are versions too', async () => {
    assert.equal(await ghApi('/orgs/acme/packages/container/app/versions', '--jq', '.[0].metadata.container.tags'), '["1.0"]');
    const names = (await ghApi('/orgs/acme/packages/container/app/versions', '--jq', '.[].name')).split('\n');
    assert.deepEqual(new Set(names), new Set([release.index.digest, ...release.images.map((i) => i.manifest.digest), latest.manifest.digest]));
    assert.equal(await ghApi('/orgs/acme/packages/container/app/versions', '--jq', '.[0].description'), 'Berth end-to-end app');
  });

  it('follows Link headers with --paginate', async () => {
    const names = (await ghApi('/orgs/acme/packages/container/app/versions?per_page=1', '--paginate', '--jq', '.[].name')).split('\n');
    assert.equal(names.length, 4);
    assert.equal(new Set(names).size, 4);
  });

  it('deletes a version: its tag is gone from the registry', async () => {
    const id = await ghApi('/orgs/acme/packages/container/app/versions', '--jq', `.[] | select(.name == "${latest.manifest.digest}") | .id`);
    assert.match(id, /^\d+$/);
    await gh(['api', '--hostname', HOST, '-X', 'DELETE', `/orgs/acme/packages/container/app/versions/${id}`]);
    const left = (await ghApi('/orgs/acme/packages/container/app/versions', '--jq', '.[].name')).split('\n');
    assert.ok(!left.includes(latest.manifest.digest));
    assert.equal(await ghApi('/orgs/acme/packages/container/app/versions?state=deleted', '--jq', '.[0].id'), id);
    await assert.rejects(skopeoInspect(`docker://${HOST}/acme/app:latest`, { raw: true, creds: `${berth.user}:${berth.token}` }), (err: ClientError) =>
      /manifest unknown/i.test(err.stderr));
  });

  it('prints GitHub\'s error message and fails on a 404', async () => {
    await assert.rejects(ghApi('/orgs/acme/packages/container/missing'), (err: ClientError) => /Package not found\. \(HTTP 404\)/.test(err.stderr));
  });
});

describe('curl, as in the README', () => {
  it('lists packages and a package\'s version tags with a Bearer token', async () => {
    const list = await runTool('bash', ['-c',
      `curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" "https://${HOST}/api/v3/orgs/acme/packages?package_type=container"`], { env });
    const packages = JSON.parse(list.stdout) as { name: string; url: string }[];
    assert.deepEqual(packages.map((p) => p.name), ['app']);
    assert.equal(packages[0]!.url, `https://${HOST}/api/v3/orgs/acme/packages/container/app`);
    const tags = await runTool('bash', ['-c', 'set -o pipefail; '
      + `curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" https://${HOST}/api/v3/orgs/acme/packages/container/app/versions | jq -c '.[0].metadata.container.tags'`], { env });
    assert.equal(tags.stdout.trim(), '["1.0"]');
  });

  it('sees rate-limit headers on every response', async () => {
    const head = await runTool('bash', ['-c', `curl -sS -o /dev/null -D - -H "Authorization: token $TOKEN" https://${HOST}/api/v3/user`], { env });
    assert.match(head.stdout, /^x-ratelimit-limit: 5000\r?$/mi);
    assert.match(head.stdout, /^x-ratelimit-resource: core\r?$/mi);
  });
});
