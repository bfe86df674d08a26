// Authentication through the real clients, the way users log in to Berth: `skopeo login`, `docker login`,
// `podman login`, `ctr --user`, and a Kubernetes imagePullSecret (dockerconfigjson) used as an auth file.
// What each client prints when it is refused is checked (and reported with t.diagnostic), since that is what
// users see.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { generateToken } from '../../src/auth/personal-token.js';
import {
  ClientError, createPodman, ctr, docker, dockerLogin, runTool, skopeoCopy, skopeoInspect, skopeoLogin, type Podman, type RunResult,
} from '../helpers/clients.js';
import { startContainerd, startDocker, type ContainerdDaemon, type DockerDaemon } from '../helpers/daemons.js';
import { summarize, summarizeLayout, writeImageLayout, type BuiltImage } from '../helpers/oci-image.js';

let berth: RunningBerth;
let daemon: DockerDaemon | undefined;
let containerd: ContainerdDaemon | undefined;
let podman: Podman | undefined;
let work: string;
let image: BuiltImage;
let layout: string;
/** `tester:TOKEN`: owner of acme, read/write/delete. */
let owner: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-clients-auth-'));
  podman = createPodman();
  // Failed logins are expected here (expired, revoked, wrong tokens), more than the default 10 a minute per address.
  berth = await startBerth({ env: { BERTH_AUTH_FAILED_LOGIN_LIMIT: '100' } });
  owner = `${berth.user}:${berth.token}`;
  // The daemons start side by side (a few seconds each); each is assigned as soon as it is up, for after() to stop.
  const started = await Promise.allSettled([
    startDocker().then((d) => { daemon = d; }),
    startContainerd().then((c) => { containerd = c; }),
  ]);
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  layout = join(work, 'app');
  image = await writeImageLayout(layout, { layers: [2048, 50_000], tag: '1' });
  // Private by default (the org's default visibility).
  await skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/acme/private:1`, [], { creds: owner });
});

after(async () => {
  await daemon?.stop();
  await containerd?.stop();
  await podman?.cleanup();
  await berth?.stop();
  await rm(work, { recursive: true, force: true });
  if (berth) await rm(berth.dataDir, { recursive: true, force: true });
});

/** A new personal access token of `user`. */
async function newToken(user: string, scopes: string[], opts: { expiresAt?: number } = {}): Promise<string> {
  return berth.admin(async (s) => (await s.tokens.create({
    userId: (await s.accounts.getUser(user)).id, note: 'clients-auth test', scopes, expiresAt: opts.expiresAt ?? null,
  })).token);
}

/**
 * Runs a client that must fail; returns what it printed (stdout and stderr, or the part `pick` keeps) and reports
 * it with t.diagnostic, so the test output shows the exact messages users get.
 */
async function refused(t: TestContext, what: string, run: Promise<RunResult>, pick = (output: string): string => output): Promise<string> {
  const err = await run.then(
    (out) => assert.fail(`${what} should have failed, but printed:\n${out.stdout}${out.stderr}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ClientError, String(err));
  const output = pick(`${err.stdout}${err.stderr}`.trim());
  t.diagnostic(`${what}: ${output}`);
  return output;
}

/** A fresh directory under the file's work dir. */
async function dir(name: string): Promise<string> {
  const path = join(work, name);
  await mkdir(path, { recursive: true });
  return path;
}

test('skopeo login with a write token stores it in the auth file; push and pull use it', async () => {
  const authfile = join(await dir('skopeo-login'), 'auth.json');
  const token = await newToken('tester', ['write:packages']);
  const login = await skopeoLogin(berth.host, 'tester', token, authfile);
  assert.match(login.stdout, /Login Succeeded/);
  const stored = JSON.parse(await readFile(authfile, 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(stored.auths[berth.host]!.auth, 'base64').toString(), `tester:${token}`);

  await skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/acme/login-app:1`, [], { authfile });
  const out = join(work, 'login-app-out');
  await skopeoCopy(`docker://${berth.host}/acme/login-app:1`, `oci:${out}:1`, [], { authfile });
  assert.deepEqual(await summarizeLayout(out, '1'), summarize(image));
});

test('a read-only token pulls, and its push is denied with permission_denied: write_package', async (t) => {
  const creds = `tester:${await newToken('tester', ['read:packages'])}`;
  const out = join(work, 'read-only-out');
  await skopeoCopy(`docker://${berth.host}/acme/private:1`, `oci:${out}:1`, [], { creds });
  assert.deepEqual(await summarizeLayout(out, '1'), summarize(image));

  const other = await writeImageLayout(join(work, 'read-only-push'), { layers: [1000], tag: '2' });
  const output = await refused(t, 'skopeo push with a read:packages token',
    skopeoCopy(`oci:${join(work, 'read-only-push')}:2`, `docker://${berth.host}/acme/private:2`, [], { creds }));
  assert.match(output, /denied: permission_denied: write_package/);
  assert.match(output, /write:packages/, 'the hint names the missing scope');
  await assert.rejects(skopeoInspect(`docker://${berth.host}/acme/private@${other.manifest.digest}`, { creds: owner }), ClientError);
});

test('anonymous pulls: a public package works; a private one fails exactly like a missing one', async (t) => {
  await skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/acme/pub:1`, [], { creds: owner });
  await berth.admin((s) => s.packages.setVisibility('acme/pub', 'public'));

  const out = join(work, 'anonymous-out');
  await skopeoCopy(`docker://${berth.host}/acme/pub:1`, `oci:${out}:1`, ['--src-no-creds']);
  assert.deepEqual(await summarizeLayout(out, '1'), summarize(image));

  const anonymous = (name: string): Promise<RunResult> =>
    skopeoCopy(`docker://${berth.host}/acme/${name}:1`, `oci:${join(work, `anonymous-${name}`)}:1`, ['--src-no-creds']);
  const priv = await refused(t, 'anonymous skopeo pull of a private package', anonymous('private'));
  const missing = await refused(t, 'anonymous skopeo pull of a package that does not exist', anonymous('no-such-package'));
  assert.match(priv, /reading manifest 1 in \S+\/acme\/private: unauthorized/);
  // Apart from the name, the two answers are the same: nothing tells that acme/private exists.
  const normalize = (text: string): string => text.replace(/acme\/(private|no-such-package)/g, 'acme/NAME').replace(/time="[^"]*"/g, '');
  assert.equal(normalize(priv), normalize(missing));
});

test('skopeo login refuses expired and revoked tokens; the hint shows in --debug and on pulls', async (t) => {
  const expiresAt = Date.now() + 1000;
  const expired = await newToken('tester', ['read:packages'], { expiresAt });
  const revoked = await newToken('tester', ['read:packages']);
  await berth.admin(async (s) => {
    const user = await s.accounts.getUser('tester');
    const id = (await s.tokens.list(user.id)).find((info) => revoked.startsWith(info.hint.replace('…', '')))!.id;
    await s.tokens.revoke(user.id, id);
  });
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now() + 50)));
  const authfile = join(await dir('skopeo-refused'), 'auth.json');

  const cases = [
    { kind: 'an expired', token: expired, hint: 'unauthenticated: the token has expired; create a new one and log in again' },
    { kind: 'a revoked', token: revoked, hint: 'unauthenticated: the token was revoked; create a new one and log in again' },
  ];
  for (const { kind, token, hint } of cases) {
    // skopeo login (containers/common) prints only "invalid username/password" for any 401 and logs the registry's
    // message at debug level; a pull with the same credentials prints it.
    const login = await refused(t, `skopeo login with ${kind} token`, skopeoLogin(berth.host, 'tester', token, authfile));
    assert.match(login, /logging into \\?"[^"]+\\?": invalid username\/password/);
    const debug = await refused(t, `skopeo --debug login with ${kind} token (its "error logging into" line)`,
      runTool('skopeo', ['--debug', 'login', '--tls-verify=false', '--authfile', authfile, '-u', 'tester', '--password-stdin', berth.host], { input: token }),
      (output) => output.split('\n').filter((l) => l.includes('error logging into')).join('\n'));
    assert.ok(debug.includes(hint), debug);
    const pull = await refused(t, `skopeo pull with ${kind} token`,
      skopeoCopy(`docker://${berth.host}/acme/private:1`, `oci:${join(work, 'refused-out')}:1`, [], { creds: `tester:${token}` }));
    assert.ok(pull.includes(`invalid username/password: unauthorized: ${hint}`), pull);
  }
  await assert.rejects(readFile(authfile), 'a refused login stores nothing');
});

test('docker login with a token, push and pull a FROM scratch image; a wrong token is unauthorized', async (t) => {
  assert.ok(daemon);
  const config = await dir('docker-config');
  const env = { DOCKER_CONFIG: config };
  const token = await newToken('tester', ['write:packages']);
  const login = await dockerLogin(daemon, berth.host, 'tester', token, { env });
  assert.match(login.stdout, /Login Succeeded/);

  const context = await dir('docker-context');
  await writeFile(join(context, 'file'), 'hello from docker\n');
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY file /file\n');
  const ref = `${berth.host}/acme/docker-auth:1`;
  await docker(daemon, ['build', '-t', ref, context], { env: { ...env, DOCKER_BUILDKIT: '0' } });
  const built = JSON.parse((await docker(daemon, ['image', 'inspect', ref], { env })).stdout) as { Id: string }[];
  const push = await docker(daemon, ['push', ref], { env });
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1];
  assert.ok(digest, push.stdout);
  await docker(daemon, ['rmi', ref], { env });
  const pull = await docker(daemon, ['pull', ref], { env });
  assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
  const pulled = JSON.parse((await docker(daemon, ['image', 'inspect', ref], { env })).stdout) as { Id: string }[];
  assert.equal(pulled[0]!.Id, built[0]!.Id);

  // A well-formed token that was never issued, and a mistyped one (its checksum fails): both unauthorized, with
  // the hint docker passes through from the token endpoint.
  const wrongs = [
    { kind: 'an unknown token', token: generateToken('personal'), hint: 'unauthenticated: User cannot be authenticated with the token provided.' },
    { kind: 'a mistyped token', token: `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, hint: 'unauthenticated: this is not a valid Berth token' },
  ];
  const wrongConfig = await dir('docker-config-wrong');
  for (const { kind, token: wrong, hint } of wrongs) {
    const output = await refused(t, `docker login with ${kind}`, dockerLogin(daemon, berth.host, 'tester', wrong, { env: { DOCKER_CONFIG: wrongConfig } }));
    assert.match(output, /unauthorized/);
    assert.ok(output.includes(hint), output);
  }
  const stored = await readFile(join(wrongConfig, 'config.json'), 'utf8').catch(() => '');
  assert.ok(!stored.includes(berth.host), `a refused docker login stores no credentials:\n${stored}`);
});

test('podman login, push and pull', async () => {
  assert.ok(podman);
  const token = await newToken('tester', ['write:packages']);
  const login = await podman.login(berth.host, 'tester', token);
  assert.match(login.stdout, /Login Succeeded/);
  const source = `${berth.host}/acme/private:1`;
  const target = `${berth.host}/acme/podman-auth:1`;
  await podman.pull(source);
  await podman.push(source, `docker://${target}`);
  await podman.run(['rmi', source]);
  const pull = await podman.pull(target);
  assert.equal(pull.stdout.trim(), image.config.digest.slice('sha256:'.length));
  const config = await skopeoInspect(`docker://${target}`, { raw: true, config: true, creds: owner });
  assert.equal(config, image.configBytes.toString('utf8'));
});

test('ctr pulls a private image with --user, and without it is refused', async (t) => {
  assert.ok(containerd);
  const token = await newToken('tester', ['read:packages']);
  const ref = `${berth.host}/acme/private:1`;
  // With --user, containerd asks for its token with the OAuth2 form (POST /token, grant_type=password).
  await ctr(containerd, ['image', 'pull', '--plain-http', '--user', `tester:${token}`, '--snapshotter', 'native', '--platform', 'linux/amd64', ref]);
  const listed = (await ctr(containerd, ['image', 'ls'])).stdout;
  assert.match(listed, new RegExp(`^${ref.replace(/[.]/g, '\\.')}\\s+\\S+\\s+${image.manifest.digest}`, 'm'));

  const anonymous = await refused(t, 'ctr pull of a private image without --user',
    ctr(containerd, ['image', 'pull', '--plain-http', '--snapshotter', 'native', '--platform', 'linux/amd64', ref]));
  assert.match(anonymous, /401 Unauthorized|unauthorized|authorization failed/i);
});

test('a Kubernetes imagePullSecret (dockerconfigjson) works as an auth file for a private pull', async () => {
  const token = await newToken('tester', ['read:packages']);
  const secret = {
    auths: { [berth.host]: { username: 'tester', password: token, auth: Buffer.from(`tester:${token}`).toString('base64') } },
  };
  // What `kubectl create secret docker-registry` stores under .dockerconfigjson, written out as a file.
  const file = join(await dir('pull-secret'), 'config.json');
  await writeFile(file, JSON.stringify(secret));
  const out = join(work, 'pull-secret-out');
  await skopeoCopy(`docker://${berth.host}/acme/private:1`, `oci:${out}:1`, [], { authfile: file });
  assert.deepEqual(await summarizeLayout(out, '1'), summarize(image));
});

test('an org member with read is denied a push; once a team of theirs has write, the push works', async (t) => {
  await skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/acme/team-app:1`, [], { creds: owner });
  await berth.admin(async (s) => {
    const bob = await s.accounts.createUser({ login: 'bob' });
    await s.accounts.addMember('acme', 'bob', 'member');
    await s.packages.grant('acme/team-app', { type: 'user', id: bob.id }, 'read');
  });
  const creds = `bob:${await newToken('bob', ['write:packages'])}`;
  const extra = await writeImageLayout(join(work, 'bob'), { layers: [1500], tag: '2' });
  const push = (): Promise<RunResult> => skopeoCopy(`oci:${join(work, 'bob')}:2`, `docker://${berth.host}/acme/team-app:2`, [], { creds });

  const output = await refused(t, 'skopeo push by an org member with the read role', push());
  assert.match(output, /denied: permission_denied: write_package: bob needs the write role on this package/);

  await berth.admin(async (s) => {
    await s.accounts.createTeam('acme', 'builders');
    await s.accounts.addTeamMember('acme', 'builders', 'bob');
    await s.packages.grant('acme/team-app', { type: 'team', id: await s.accounts.teamId('acme', 'builders') }, 'write');
  });
  await push();
  const raw = await skopeoInspect(`docker://${berth.host}/acme/team-app:2`, { raw: true, creds });
  assert.equal(raw, extra.manifestBytes.toString('utf8'));
});

test('a CI token limited to one package pushes it, and not another', async (t) => {
  const ci = await berth.admin(async (s) => (await s.tokens.create({
    userId: (await s.accounts.getUser('tester')).id, note: 'ci', scopes: ['write:packages'],
    expiresAt: Date.now() + 3_600_000, kind: 'ci', repositoryLimit: 'acme/ci-one',
  })).token);
  const creds = `tester:${ci}`;
  await skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/acme/ci-one:1`, [], { creds });
  assert.equal(await skopeoInspect(`docker://${berth.host}/acme/ci-one:1`, { raw: true, creds }), image.manifestBytes.toString('utf8'));

  const output = await refused(t, 'skopeo push with a CI token to another package',
    skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/acme/ci-two:1`, [], { creds }));
  assert.match(output, /denied: permission_denied: write_package: this CI token is limited to acme\/ci-one/);
  await assert.rejects(skopeoInspect(`docker://${berth.host}/acme/ci-two:1`, { raw: true, creds: owner }), ClientError);
});
