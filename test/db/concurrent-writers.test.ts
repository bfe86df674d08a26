// The embedded database written by two processes at once: `berth serve` and an admin command (quota, token, user)
// run beside it. While one holds SQLite's write lock the other waits for it (busy_timeout) instead of failing: a
// transaction that read before it wrote used to get SQLITE_BUSY at once, SQLite's deadlock avoidance, which left
// CI's quota test failing now and then when the server wrote usage figures as the test set a quota.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { MEDIA, pushImage, useAuthorization } from '../helpers/http.js';

let berth: RunningBerth;
before(async () => {
  berth = await startBerth({ backend: 'sqlite-fs' });
  useAuthorization(berth.authorization);
});
after(async () => {
  useAuthorization(null);
  await berth?.stop();
});

/** Another process holding the database's write lock for `ms`; resolves once it holds it, with its exit. */
async function holdWriteLock(ms: number): Promise<{ released: Promise<number> }> {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const child = spawn(process.execPath, ['-e', `
    const db = new (require(${JSON.stringify(sqlite)}))(${JSON.stringify(join(berth.dataDir, 'berth.db'))});
    db.exec('begin immediate');
    process.stdout.write('locked\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms});
    db.exec('commit');
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const released = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return { released };
}

test('a push and an admin command that both read before they write wait for another process\'s write lock', async () => {
  await pushImage(berth.url, 'acme/locked', 'first', 'v1');
  const { released } = await holdWriteLock(1500);
  const started = Date.now();
  // The server's push (manifest, tags, usage) and the CLI's quota change (reads the owner, then writes) both run
  // a read-then-write transaction while the lock is held.
  const push = pushImage(berth.url, 'acme/locked', 'second', 'v2');
  await berth.admin((s) => s.quotas.set({ owner: 'acme', package: null }, 10 ** 12));
  const pushed = await push;
  assert.ok(Date.now() - started >= 1000, `waited ${Date.now() - started} ms for the lock`);
  assert.equal(await released, 0);
  const manifest = await berth.fetch(`/v2/acme/locked/manifests/v2`, { headers: { accept: MEDIA.ociManifest } });
  assert.equal(manifest.status, 200);
  assert.equal(manifest.headers.get('docker-content-digest'), pushed.digest);
  const quota = await berth.admin(async (s) => (await s.quotas.list()).find((q) => q.owner === 'acme'));
  assert.equal(quota?.quotaBytes, 10 ** 12);
});
