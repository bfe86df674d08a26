// Removing an organization member (`berth org remove-member`, the settings page): the member loses every access
// they had through the organization — its teams, the roles given to them on its packages, the admin role on the
// packages they created — unless the roles are kept explicitly; and an organization keeps at least one owner.
import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { pushImage, useAuthorization, type PushedImage } from '../helpers/http.js';
import { signInForm } from '../helpers/sign-in.js';

const ROOT = new URL('../..', import.meta.url).pathname;
let berth: RunningBerth;
const basic = (user: string, secret: string): string => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

/** `berth …` in its own process, on the server's data (and database), as an operator runs it. */
function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [builtCli(), ...args, '--data', berth.dataDir], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...berth.metadataEnv, BERTH_LOG_LEVEL: 'warn' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function userToken(login: string): Promise<string> {
  return berth.admin(async (s) => basic(login, (await s.tokens.create({
    userId: (await s.accounts.getUser(login)).id, note: 'test', scopes: ['write:packages', 'delete:packages'], expiresAt: null,
  })).token));
}

/** What a pull, a push (upload start) and a delete of `digest` in `name` get with `auth` (Basic on /v2): `status CODE`. */
async function access(auth: string, name: string, digest: string, ops: readonly ('pull' | 'push' | 'delete')[] = ['pull', 'push']): Promise<Record<string, string>> {
  const requests = { pull: ['GET', `/v2/${name}/manifests/${digest}`], push: ['POST', `/v2/${name}/blobs/uploads/`], delete: ['DELETE', `/v2/${name}/manifests/${digest}`] };
  const out: Record<string, string> = {};
  for (const op of ops) {
    const [method, path] = requests[op];
    const res = await berth.fetch(path!, { method, auth });
    const code = res.status >= 400 ? ((await res.json()) as { errors: { code: string }[] }).errors[0]!.code : (await res.body?.cancel(), '');
    out[op] = `${res.status}${code ? ` ${code}` : ''}`;
  }
  return out;
}

let bob: string;
let carol: string;
let bobPkg: PushedImage;
let secret: PushedImage;
let teamPkg: PushedImage;
let carolPkg: PushedImage;

before(async () => {
  berth = await startBerth();
  await berth.admin(async (s) => {
    for (const login of ['bob', 'carol']) {
      await s.accounts.createUser({ login });
      await s.accounts.addMember('acme', login, 'member');
    }
    await s.accounts.createTeam('acme', 'builders');
    await s.accounts.addTeamMember('acme', 'builders', 'bob');
  });
  bob = await userToken('bob');
  carol = await userToken('carol');
  // bob creates acme/bobpkg (and becomes its admin); carol acme/carolpkg; the owner acme/secret and acme/teampkg.
  useAuthorization(bob);
  bobPkg = await pushImage(berth.url, 'acme/bobpkg', 'bob', 'v1');
  useAuthorization(carol);
  carolPkg = await pushImage(berth.url, 'acme/carolpkg', 'carol', 'v1');
  useAuthorization(berth.authorization);
  secret = await pushImage(berth.url, 'acme/secret', 'secret', 'v1');
  teamPkg = await pushImage(berth.url, 'acme/teampkg', 'team', 'v1');
  await berth.admin(async (s) => {
    await s.packages.grant('acme/secret', { type: 'user', id: (await s.accounts.getUser('bob')).id }, 'read');
    await s.packages.grant('acme/teampkg', { type: 'team', id: await s.accounts.teamId('acme', 'builders') }, 'write');
  });
});
after(() => berth.stop());

test('a removed member loses their teams, their package roles and the admin role on packages they created', async () => {
  useAuthorization(bob);
  const scratch = await pushImage(berth.url, 'acme/bobpkg', 'bob-scratch', 'scratch');
  assert.deepEqual(await access(bob, 'acme/bobpkg', scratch.digest, ['pull', 'push', 'delete']), { pull: '200', push: '202', delete: '202' }, 'the creator is admin');
  assert.deepEqual(await access(bob, 'acme/secret', secret.digest), { pull: '200', push: '403 DENIED' }, 'a read grant');
  assert.deepEqual(await access(bob, 'acme/teampkg', teamPkg.digest), { pull: '200', push: '202' }, 'a team grant');

  const removed = cli('org', 'remove-member', 'acme', 'bob');
  assert.equal(removed.status, 0, removed.stderr);
  assert.match(removed.stderr, /removed bob from acme/);
  assert.match(removed.stderr, /removed from teams: builders/);
  assert.match(removed.stderr, /removed package roles: admin on acme\/bobpkg, read on acme\/secret/);

  // Basic credentials are checked against the roles on every request: the change holds at once.
  const gone = { pull: '404 NAME_UNKNOWN', push: '403 DENIED' };
  assert.deepEqual(await access(bob, 'acme/bobpkg', bobPkg.digest, ['pull', 'push', 'delete']), { ...gone, delete: '404 NAME_UNKNOWN' });
  assert.deepEqual(await access(bob, 'acme/secret', secret.digest), gone);
  assert.deepEqual(await access(bob, 'acme/teampkg', teamPkg.digest), gone);
  // And /token grants nothing on them any more.
  const res = await berth.fetch('/token?scope=repository:acme/bobpkg:pull,push,delete&scope=repository:acme/secret:pull', { auth: bob });
  const jwt = ((await res.json()) as { token: string }).token;
  const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { access: { actions: string[] }[] };
  assert.deepEqual(claims.access.map((a) => a.actions), [[], []]);
  // The package and its version are still there for the owner.
  assert.equal((await access(berth.authorization, 'acme/bobpkg', bobPkg.digest, ['pull'])).pull, '200');
});

test('--keep-package-roles keeps them, and says so', async () => {
  const removed = cli('org', 'remove-member', 'acme', 'carol', '--keep-package-roles');
  assert.equal(removed.status, 0, removed.stderr);
  assert.match(removed.stderr, /kept package roles: admin on acme\/carolpkg/);
  assert.deepEqual(await access(carol, 'acme/carolpkg', carolPkg.digest), { pull: '200', push: '202' });
  assert.ok(!(await berth.admin((s) => s.accounts.members('acme'))).some((m) => m.login === 'carol'));
});

test('an organization keeps at least one owner: the CLI and the settings page refuse alike', async () => {
  const refused = cli('org', 'remove-member', 'acme', 'tester');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /tester is the only owner of acme: make someone else an owner first\./);
  const demoted = cli('org', 'add-member', 'acme', 'tester');
  assert.equal(demoted.status, 1, 'making the only owner a member is refused too');
  assert.match(demoted.stderr, /tester is the only owner of acme/);

  const signedIn = await signInForm(berth, 'tester', 'tester-password');
  const cookie = `berth_session=${signedIn.session}`;
  const settings = await (await berth.fetch('/orgs/acme/settings', { auth: null, headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(settings)![1]!;
  assert.match(settings, /Removing a member also removes them from the organization's teams and removes their roles on its packages/);
  for (const [path, form] of [['/orgs/acme/settings/members/remove', { login: 'tester' }], ['/orgs/acme/settings/members', { login: 'tester', role: 'member' }]] as const) {
    const res = await berth.fetch(path, {
      method: 'POST', auth: null, redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, ...form }).toString(),
    });
    assert.equal(res.status, 422, path);
    assert.match(await res.text(), /tester is the only owner of acme: make someone else an owner first\./);
  }
  assert.deepEqual(await berth.admin((s) => s.accounts.members('acme')), [{ login: 'tester', role: 'owner' }]);
  const notMember = cli('org', 'remove-member', 'acme', 'bob');
  assert.equal(notMember.status, 1);
  assert.match(notMember.stderr, /bob is not a member of acme/);
});
