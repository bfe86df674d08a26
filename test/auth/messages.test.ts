// Messages that say what to fix (issue 13 §4), as users see them through the real clients: a refused push of a new
// package names the token's scope, the organization membership or the organization's package-creation policy, each
// distinctly; a token that is not a Berth token (mistyped, or a GitHub token) is called that; an anonymous pull of
// a private image says which command logs in.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { ClientError, docker, dockerLogin, runTool, skopeoCopy, type RunResult } from '../helpers/clients.js';
import { startDocker, type DockerDaemon } from '../helpers/daemons.js';
import { writeImageLayout } from '../helpers/oci-image.js';

let berth: RunningBerth;
let daemon: DockerDaemon | undefined;
let work: string;
let layout: string;
/** `user:TOKEN` per role, for skopeo's --dest-creds. */
const creds: Record<string, string> = {};
/** A GitHub classic token's shape (never a real one). */
const GITHUB_TOKEN = `ghp_${'a1B2c3D4e5F6'.repeat(3)}`;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-messages-'));
  berth = await startBerth({ env: { BERTH_AUTH_FAILED_LOGIN_LIMIT: '100' } });
  const started = startDocker().then((d) => { daemon = d; });
  await berth.admin(async (s) => {
    const token = async (login: string, scopes: string[]): Promise<void> => {
      const user = await s.accounts.createUser({ login });
      creds[login] = `${login}:${(await s.tokens.create({ userId: user.id, note: 'messages test', scopes, expiresAt: null })).token}`;
    };
    await token('reader', ['read:packages']);
    await token('stranger', ['write:packages']);
    await token('member', ['write:packages']);
    await s.accounts.addMember('acme', 'reader', 'owner');
    await s.accounts.addMember('acme', 'member', 'member');
    // Only owners create packages in acme.
    await s.accounts.setOrgPolicy('acme', { membersCanCreate: false });
  });
  layout = join(work, 'app');
  await writeImageLayout(layout, { layers: [1024], tag: '1' });
  await skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/acme/private:1`, [], { creds: `${berth.user}:${berth.token}` });
  await started;
});

after(async () => {
  await daemon?.stop();
  await berth?.stop();
  await rm(work, { recursive: true, force: true });
});

/** Runs a client that must fail and returns what it printed; reported with t.diagnostic (what users see). */
async function refused(t: TestContext, what: string, run: Promise<RunResult>): Promise<string> {
  const err = await run.then((out) => assert.fail(`${what} should have failed, but printed:\n${out.stdout}${out.stderr}`), (e: unknown) => e);
  assert.ok(err instanceof ClientError, String(err));
  const output = `${err.stdout}${err.stderr}`.trim();
  t.diagnostic(`${what}: ${output}`);
  return output;
}

test('a refused push of a new package names the scope, the membership or the creation policy, each distinctly', async (t) => {
  const push = (who: string): Promise<string> =>
    refused(t, `skopeo push of a new package by ${who}`, skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/acme/new-${who}:1`, [], { creds: creds[who]! }));
  const readOnly = await push('reader');
  const stranger = await push('stranger');
  const member = await push('member');
  assert.match(readOnly, /denied: permission_denied: write_package: the token lacks the write:packages scope; create a token with write:packages/);
  assert.match(stranger, /denied: permission_denied: write_package: stranger is not a member of the organization acme; ask an owner to add you \(berth org add-member acme stranger/);
  assert.match(member, /denied: permission_denied: write_package: acme lets only its owners create packages; ask an owner to create acme\/new-member or to let members create packages \(berth org policy acme --members-can-create yes/);
  // Once the policy lets members create packages, the member's push works: the message named the right thing.
  await berth.admin((s) => s.accounts.setOrgPolicy('acme', { membersCanCreate: true }));
  await skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/acme/new-member:1`, [], { creds: creds.member! });
  await berth.admin((s) => s.accounts.setOrgPolicy('acme', { membersCanCreate: false }));
});

test('docker login with a GitHub token is told it is a GitHub token; a mistyped token that it is not a valid Berth token', async (t) => {
  assert.ok(daemon);
  const [, token] = creds.stranger!.split(':');
  const mistyped = `${token!.slice(0, -1)}${token!.endsWith('A') ? 'B' : 'A'}`;
  const github = await refused(t, 'docker login with a GitHub token', dockerLogin(daemon, berth.host, 'stranger', GITHUB_TOKEN));
  const typo = await refused(t, 'docker login with a mistyped token', dockerLogin(daemon, berth.host, 'stranger', mistyped));
  assert.match(github, /unauthorized: unauthenticated: this looks like a GitHub token, not a Berth token; GitHub tokens do not work on Berth: create one with "berth token create"/);
  assert.match(typo, /unauthorized: unauthenticated: this is not a valid Berth token \(a Berth token starts with berth_pat_, berth_ci_ or berth_bot_/);
  assert.ok(!github.includes('not a valid Berth token') && !typo.includes('GitHub token'), 'each is told its own case');
});

test('the REST API and /v2 say the same of a GitHub token (curl)', async () => {
  const curl = async (args: string[]): Promise<string> => (await runTool('curl', ['-s', ...args])).stdout;
  const rest = JSON.parse(await curl(['-H', `Authorization: Bearer ${GITHUB_TOKEN}`, `${berth.url}/api/v3/user`])) as { message: string };
  assert.match(rest.message, /^Bad credentials: this looks like a GitHub token, not a Berth token/);
  const v2 = JSON.parse(await curl(['-u', `me:${GITHUB_TOKEN}`, `${berth.url}/v2/acme/private/tags/list`])) as { errors: { code: string; message: string }[] };
  assert.equal(v2.errors[0]!.code, 'UNAUTHORIZED');
  assert.match(v2.errors[0]!.message, /^unauthenticated: this looks like a GitHub token/);
});

test('an anonymous pull of a private image says which command logs in', async (t) => {
  assert.ok(daemon);
  const dockerPull = await refused(t, 'anonymous docker pull of a private image', docker(daemon, ['pull', `${berth.host}/acme/private:1`]));
  assert.ok(dockerPull.includes(`log in with docker login ${berth.host}`), dockerPull);
  const curl = await runTool('curl', ['-s', '-i', `${berth.url}/v2/acme/private/manifests/1`]);
  assert.match(curl.stdout, /^HTTP\/1\.1 401/);
  assert.ok(curl.stdout.includes(`"message":"authentication required: log in with docker login ${berth.host}"`), curl.stdout);
  // The same words for a package that does not exist: nothing tells that acme/private exists.
  const missing = await runTool('curl', ['-s', `${berth.url}/v2/acme/no-such/manifests/1`]);
  assert.ok(missing.stdout.includes(`"message":"authentication required: log in with docker login ${berth.host}"`), missing.stdout);
});
