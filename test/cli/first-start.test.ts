// The first start on an empty database (issue 13 §3), through the built binary: the generated admin password goes
// to stderr, never into the JSON log on stdout, and into a 0600 file in the data directory that goes away at the
// admin's first password change, from the web UI or from `berth user passwd`.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { backendEnv } from '../helpers/berth.js';
import { builtCli } from '../helpers/built-cli.js';
import { signInForm } from '../helpers/sign-in.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const children: ChildProcess[] = [];
after(() => { for (const c of children) c.kill('SIGKILL'); });

interface FirstStart { url: string; dataDir: string; env: Record<string, string>; stdout: () => string; stderr: () => string; stop: () => Promise<void> }

/** `berth serve` on a fresh data directory (and, on postgres-*, a fresh database), logging at info. */
async function serve(dataDir = mkdtempSync(join(tmpdir(), 'berth-first-'))): Promise<FirstStart> {
  process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const env = await backendEnv(dataDir);
  const child = spawn(process.execPath, [builtCli(), 'serve', '--port', '0', '--data', dataDir], {
    cwd: ROOT, env: { ...process.env, ...env, BERTH_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /berth listening on (http\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`berth exited with ${code}: ${err}`)));
  });
  return {
    url, dataDir, env, stdout: () => out, stderr: () => err,
    stop: () => new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); }),
  };
}

function client(url: string) {
  return { fetch: (path: string, init: RequestInit = {}) => fetch(`${url}${path}`, init) };
}

function generatedPassword(server: FirstStart): string {
  const m = /created the instance admin "admin" with password (\S+)/.exec(server.stderr());
  assert.ok(m, `the password is on stderr:\n${server.stderr()}`);
  return m[1]!;
}

test('the password is on stderr and in a 0600 file, not in the log; a change in the web UI removes the file', async () => {
  const server = await serve();
  const password = generatedPassword(server);
  const file = join(server.dataDir, 'initial-admin-password');
  assert.match(server.stderr(), new RegExp(`also in ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(mode 0600\\)`));
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(readFileSync(file, 'utf8').trim(), password);
  // stdout is the JSON log (plus the fixed "listening" lines): the password is nowhere in it.
  const logLines = server.stdout().split('\n').filter((l) => l.startsWith('{'));
  assert.ok(logLines.length > 0, 'the server logged at info');
  assert.ok(!server.stdout().includes(password), 'the password is not in the log');

  const signIn = await signInForm(client(server.url), 'admin', password);
  assert.equal(signIn.status, 303, 'the generated password signs in');
  const cookie = `berth_session=${signIn.session}`;
  const page = await fetch(`${server.url}/settings/password`, { headers: { cookie } });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  const change = await fetch(`${server.url}/settings/password`, {
    method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, current_password: password, new_password: 'admin-chosen-password', confirm_password: 'admin-chosen-password' }).toString(),
  });
  assert.equal(change.status, 303);
  assert.equal(existsSync(file), false, 'the file went with the first change');
  assert.equal((await signInForm(client(server.url), 'admin', 'admin-chosen-password')).status, 303);
  await server.stop();

  // A restart on the same data does not make a second admin or print a password again.
  const again = await serve(server.dataDir);
  assert.doesNotMatch(again.stderr(), /first start/);
  assert.equal(existsSync(file), false);
  await again.stop();
});

test('berth user passwd admin removes the file too', async () => {
  const server = await serve();
  generatedPassword(server);
  const file = join(server.dataDir, 'initial-admin-password');
  assert.ok(existsSync(file));
  const r = spawnSync(process.execPath, [builtCli(), 'user', 'passwd', 'admin', '--password-stdin', '--data', server.dataDir], {
    cwd: ROOT, encoding: 'utf8', input: 'operator-chosen-password\n', env: { ...process.env, ...server.env, BERTH_LOG_LEVEL: 'warn' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(existsSync(file), false);
  assert.equal((await signInForm(client(server.url), 'admin', 'operator-chosen-password')).status, 303);
  await server.stop();
});
