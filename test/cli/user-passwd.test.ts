// `berth user passwd NAME [--password-stdin]` (issue 13 §3): a user created without a password (as the README
// shows) can be given one and sign in to the web UI with it; a change ends the user's sessions; bad input is refused
// with a message and changes nothing.
import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { signInForm } from '../helpers/sign-in.js';

const ROOT = new URL('../..', import.meta.url).pathname;
let berth: RunningBerth;

/** `berth …` in its own process, on the server's data, as an operator runs it; `input` is piped to stdin. */
function cli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [builtCli(), ...args, '--data', berth.dataDir], {
    cwd: ROOT, encoding: 'utf8', input: input ?? '', env: { ...process.env, ...berth.metadataEnv, BERTH_LOG_LEVEL: 'warn' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Whether a session cookie still opens a page that needs a signed-in user. */
async function signedIn(session: string): Promise<boolean> {
  const res = await berth.fetch('/settings/tokens', { auth: null, redirect: 'manual', headers: { cookie: `berth_session=${session}` } });
  await res.body?.cancel();
  return res.status === 200;
}

before(async () => {
  berth = await startBerth();
});
after(() => berth?.stop());

test('a user created without a password gets one with --password-stdin and signs in with it', async () => {
  assert.equal(cli(['user', 'create', 'carol']).status, 0);
  assert.equal((await signInForm(berth, 'carol', 'carol-first-password')).status, 401, 'no password yet: refused');
  const set = cli(['user', 'passwd', 'carol', '--password-stdin'], 'carol-first-password\n');
  assert.equal(set.status, 0, set.stderr);
  assert.match(set.stderr, /password of carol set/);
  const ok = await signInForm(berth, 'carol', 'carol-first-password');
  assert.equal(ok.status, 303);
  assert.ok(ok.session && await signedIn(ok.session));
});

test('a new password ends the sessions signed in with the old one, and the old password stops working', async () => {
  const before = await signInForm(berth, 'carol', 'carol-first-password');
  assert.ok(before.session && await signedIn(before.session));
  assert.equal(cli(['user', 'passwd', 'carol', '--password-stdin'], 'carol-second-password').status, 0);
  assert.equal(await signedIn(before.session), false, 'the old session is over');
  assert.equal((await signInForm(berth, 'carol', 'carol-first-password')).status, 401, 'the old password is refused');
  assert.equal((await signInForm(berth, 'carol', 'carol-second-password')).status, 303);
});

test('refusals say what to fix and change nothing', async () => {
  const short = cli(['user', 'passwd', 'carol', '--password-stdin'], 'short\n');
  assert.equal(short.status, 1);
  assert.match(short.stderr, /the password must be at least 8 characters long/);
  const nobody = cli(['user', 'passwd', 'nobody-here', '--password-stdin'], 'long enough password\n');
  assert.equal(nobody.status, 1);
  assert.match(nobody.stderr, /no user named "nobody-here"/);
  // No terminal to ask on (stdin is a pipe here) and no --password-stdin: told how to do it.
  const noTty = cli(['user', 'passwd', 'carol']);
  assert.equal(noTty.status, 1);
  assert.match(noTty.stderr, /not a terminal: pipe the password in with --password-stdin/);
  assert.equal((await signInForm(berth, 'carol', 'carol-second-password')).status, 303, 'the password is still the last one set');
});
