import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { backendEnv, startBerth } from '../helpers/berth.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const data = mkdtempSync(join(tmpdir(), 'berth-cli-'));
after(() => rmSync(data, { recursive: true, force: true }));
// The CLI and the server below share `data` and, on PostgreSQL, the database BERTH_METADATA_URL names.
const dataEnv = { ...process.env, ...await backendEnv(data) };

function berth(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [builtCli(), ...args, '--data', data], { cwd: ROOT, encoding: 'utf8', input, env: dataEnv });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the first start creates the admin and prints a one-time password', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-first-'));
  const dirEnv = { ...process.env, ...await backendEnv(dir) };
  const child = spawn(process.execPath, [builtCli(), 'serve', '--port', '0', '--data', dir], {
    cwd: ROOT, env: { ...dirEnv, BERTH_LOG_LEVEL: 'warn' },
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  await new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => { if (c.toString().includes('listening')) resolve(); }));
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const m = /created the instance admin "admin" with password (\S+)/.exec(stderr);
  assert.ok(m, stderr);
  assert.ok(m[1]!.length >= 20, 'a long random password');
  // A second start prints nothing of the kind, and the two instances got different passwords.
  const again = spawnSync(process.execPath, [builtCli(), 'user', 'list', '--data', dir], { cwd: ROOT, encoding: 'utf8', env: dirEnv });
  assert.match(again.stdout, /admin\s+yes/);
  rmSync(dir, { recursive: true, force: true });
});

test('admin commands manage users, orgs, teams and tokens; token create prints only the token', async () => {
  assert.equal(berth(['user', 'create', 'alice', '--email', 'alice@example.com', '--password-stdin', '--init'], 'a long password\n').status, 0);
  assert.equal(berth(['user', 'create', 'bob']).status, 0);
  const dup = berth(['user', 'create', 'Alice']);
  assert.equal(dup.status, 1);
  assert.match(dup.stderr, /already taken/);
  assert.equal(berth(['user', 'create', 'bad_name!']).status, 1);
  assert.equal(berth(['org', 'create', 'acme', '--owner', 'alice']).status, 0);
  assert.equal(berth(['org', 'add-member', 'acme', 'bob']).status, 0);
  assert.match(berth(['org', 'members', 'acme']).stdout, /alice\s+owner\n.*bob\s+member/s);
  assert.equal(berth(['team', 'create', 'acme', 'builders']).status, 0);
  assert.equal(berth(['team', 'add-member', 'acme', 'builders', 'bob']).status, 0);
  assert.match(berth(['team', 'list', 'acme']).stdout, /builders\s+bob/);

  const created = berth(['token', 'create', '--user', 'alice', '--scopes', 'read:packages,write:packages', '--expires', '7d', '--note', 'laptop']);
  assert.equal(created.status, 0);
  assert.match(created.stdout, /^berth_pat_[0-9A-Za-z]{36}\n$/, 'stdout is the token alone');
  const never = berth(['token', 'create', '--user', 'alice', '--scopes', 'read:packages', '--expires', 'never']);
  assert.match(never.stderr, /never expires/);
  const listed = berth(['token', 'list', '--user', 'alice']).stdout;
  assert.match(listed, /laptop\s+read:packages,write:packages/);
  assert.ok(!listed.includes(created.stdout.trim()), 'the token itself is never shown again');
  assert.equal(berth(['token', 'create', '--user', 'alice', '--scopes', 'delete:packages']).status, 1, 'delete needs read');
  assert.equal(berth(['token', 'create', '--user', 'alice', '--scopes', 'admin:org']).status, 1, 'unknown scope');

  // The token works against a server on the same data, until the user is disabled.
  const server = await startBerth({ dataDir: data });
  try {
    const token = created.stdout.trim();
    const auth = `Basic ${Buffer.from(`alice:${token}`).toString('base64')}`;
    assert.equal((await fetch(`${server.url}/token?scope=repository:acme/x:pull,push`, { headers: { authorization: auth } })).status, 200);
    assert.match(berth(['token', 'list', '--user', 'alice']).stdout, /laptop\s+\S+\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+\d{4}-\d\d-\d\d \d\d:\d\d/, 'last use is recorded');
    assert.equal(berth(['user', 'disable', 'alice']).status, 0);
    assert.equal((await fetch(`${server.url}/token?scope=repository:acme/x:pull`, { headers: { authorization: auth } })).status, 401);
    assert.equal(berth(['user', 'enable', 'alice']).status, 0);
    const id = /^(\d+)\s+berth_pat_\S+\s+laptop/m.exec(berth(['token', 'list', '--user', 'alice']).stdout)![1]!;
    assert.equal(berth(['token', 'revoke', id, '--user', 'alice']).status, 0);
    assert.equal((await fetch(`${server.url}/token?scope=repository:acme/x:pull`, { headers: { authorization: auth } })).status, 401);
  } finally {
    await server.stop();
  }
});

test('bad configuration exits 2 naming the key', () => {
  const r = spawnSync(process.execPath, [builtCli(), 'user', 'list', '--data', data], {
    cwd: ROOT, encoding: 'utf8', env: { ...dataEnv, BERTH_LOG_LEVEL: 'loud' },
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /log\.level.*BERTH_LOG_LEVEL/);
});
