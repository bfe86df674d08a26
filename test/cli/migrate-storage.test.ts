// Operator commands for scale-out: `berth migrate` (and metadata.autoMigrate: false), `berth storage check`.
// Run once per backend set: on PostgreSQL a fresh database per data directory, on the postgres-s3 set the bucket.
import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { backendEnv, startBerth } from '../helpers/berth.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'berth-migrate-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface CliResult { status: number | null; stdout: string; stderr: string }

/** Runs the CLI asynchronously (the test process keeps serving PostgreSQL's exit hooks meanwhile). */
function berth(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [builtCli(), ...args], {
      cwd: ROOT, env: { ...process.env, BERTH_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
  });
}

/** A fresh data directory and the environment that points Berth at its (fresh) metadata database and storage. */
async function freshData(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = mkdtempSync(join(work, 'data-'));
  return { dir, env: await backendEnv(dir) };
}

test('berth migrate applies what is pending, prints it, and is a no-op the second time; --status lists both states', async () => {
  const { dir, env } = await freshData();
  const before = await berth(['migrate', '--status', '--data', dir], env);
  assert.equal(before.status, 0, before.stderr);
  assert.match(before.stdout, /^0001-initial\s+pending$/m);
  assert.match(before.stdout, /^0005-job-leases\s+pending$/m);
  assert.doesNotMatch(before.stdout, /applied/);
  assert.match(before.stdout, /\d+ pending: run `berth migrate`/);

  const run = await berth(['migrate', '--data', dir], env);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^applied 0001-initial$/m);
  assert.match(run.stdout, /^applied 0005-job-leases$/m);
  assert.match(run.stdout, /\d+ migrations applied/);

  const again = await berth(['migrate', '--data', dir], env);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /schema is up to date; nothing to apply/);
  assert.doesNotMatch(again.stdout, /^applied/m);

  const status = await berth(['migrate', '--status', '--data', dir], env);
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /^0005-job-leases\s+applied \d{4}-\d\d-\d\dT/m);
  assert.doesNotMatch(status.stdout, /pending/);
  assert.match(status.stdout, /schema is up to date/);
});

test('metadata.autoMigrate false: serve refuses a database with pending migrations, and starts once migrated', async () => {
  const { dir, env } = await freshData();
  const off = { ...env, BERTH_METADATA_AUTO_MIGRATE: 'false' };
  const refused = await berth(['serve', '--port', '0', '--data', dir], off);
  assert.equal(refused.status, 1, `serve should exit 1: ${refused.stdout}${refused.stderr}`);
  assert.match(refused.stderr, /needs migrations 0001-initial, .*0005-job-leases.* and metadata\.autoMigrate is false: run `berth migrate`/);
  assert.doesNotMatch(refused.stdout, /listening/);

  // The same from a config file; an admin command refuses too (it would otherwise migrate behind the operator's back).
  const file = join(dir, 'berth.yaml');
  writeFileSync(file, 'metadata:\n  autoMigrate: false\n');
  const none = await berth(['user', 'list', '--data', dir, '--config', file], env);
  assert.equal(none.status, 2, none.stderr);
  assert.match(none.stderr, /^berth: no Berth database in .*--init to create a new one here\n$/);
  const admin = await berth(['user', 'list', '--data', dir, '--config', file, '--init'], env);
  assert.equal(admin.status, 1, admin.stderr);
  assert.match(admin.stderr, /metadata\.autoMigrate is false/);

  assert.equal((await berth(['migrate', '--data', dir], env)).status, 0);
  const server = await startBerth({ dataDir: dir, env: { BERTH_METADATA_AUTO_MIGRATE: 'false' } });
  try {
    assert.equal((await server.fetch('/healthz')).status, 200);
  } finally {
    await server.stop();
  }
});

test('berth storage check passes on the configured blob store, one line per check with its duration', async () => {
  const { dir, env } = await freshData();
  const r = await berth(['storage', 'check', '--data', dir], env);
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], `storage driver: ${env.BERTH_STORAGE_DRIVER ?? 'fs'}`);
  // Where the metadata lives; for SQLite its write-ahead log too, which must never be deleted on its own.
  if (env.BERTH_METADATA_URL) {
    assert.match(r.stdout, /^metadata database: PostgreSQL \S+/m);
  } else {
    assert.match(r.stdout, new RegExp(`^metadata database: SQLite ${join(dir, 'berth.db')} \\([\\d.]+ GiB free\\)$`, 'm'));
    assert.ok(r.stdout.includes(`write-ahead log: ${join(dir, 'berth.db-wal')}`), r.stdout);
    assert.match(r.stdout, /never delete the -wal or -shm file while Berth runs/);
  }
  const checks = lines.filter((l) => /^(ok|FAIL) /.test(l));
  assert.ok(checks.length >= 8, r.stdout);
  for (const l of checks) assert.match(l, /^ok {4}.+ \(\d+ ms\)/);
  for (const name of ['write access', 'multi-append upload to 11.0 MiB', 'commit', 'stat', 'range read', 'delete']) {
    assert.ok(checks.some((l) => l.includes(name)), `a "${name}" check in:\n${r.stdout}`);
  }
  assert.match(r.stdout, /storage check passed\n$/);
});

test('berth storage check fails with exit 1 and says which check, when the store is unusable', async () => {
  const { dir, env } = await freshData();
  // A root below a regular file can never be created (also not as root, unlike a read-only directory).
  const blocker = join(dir, 'not-a-directory');
  writeFileSync(blocker, '');
  const r = await berth(['storage', 'check', '--data', dir], { ...env, BERTH_STORAGE_DRIVER: 'fs', BERTH_STORAGE_FS_ROOT: join(blocker, 'storage') });
  assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /^FAIL {2}open the blob store \(\d+ ms\): .*(ENOTDIR|not a directory)/m);
  assert.match(r.stdout, /storage check FAILED\n$/);
});
