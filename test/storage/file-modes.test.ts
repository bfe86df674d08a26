// The embedded default's files are the owner's only: a data directory Berth creates is 0700 and the database, its
// -wal and -shm, blobs and upload files 0600, so another local user (nobody) cannot read the signing key out of the
// database; an existing data directory open to others gets a warning at start naming it and its mode.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'berth-modes-'));
// As /var/lib or a home directory would be: other users may pass through to what is inside.
chmodSync(work, 0o755);
const servers: RunningBerth[] = [];
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

after(async () => {
  for (const s of servers) await s.stop();
  await rm(work, { recursive: true, force: true });
});

/** Every file and directory under `dir` with its mode. */
function modes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (path: string): void => {
    out.set(path, mode(path));
    if (statSync(path).isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return out;
}

test('a data directory Berth creates is 0700 with 0600 files, and another local user cannot read the signing key', async () => {
  const dataDir = join(work, 'data');
  const berth = await startBerth({ dataDir, backend: 'sqlite-fs' });
  servers.push(berth);
  const blob = randomBytes(4096);
  assert.equal((await berth.fetch(`/v2/acme/modes/blobs/uploads/?digest=${sha(blob)}`, { method: 'POST', body: blob })).status, 201);
  const session = await berth.fetch('/v2/acme/modes/blobs/uploads/', { method: 'POST' });
  assert.equal((await berth.fetch(session.headers.get('location')!, { method: 'PATCH', body: blob })).status, 202);

  const found = modes(dataDir);
  found.delete(join(dataDir, 'server.log')); // the test helper's file, not Berth's
  const hex = sha(blob).slice(7);
  for (const path of [
    join(dataDir, 'berth.db'), join(dataDir, 'berth.db-wal'), join(dataDir, 'berth.db-shm'),
    join(dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex),
  ]) assert.equal(found.get(path), '0600', path);
  assert.equal(readdirSync(join(dataDir, 'storage', 'uploads')).length, 1, 'the open session has its scratch file');
  for (const [path, m] of found) {
    assert.equal(m, statSync(path).isDirectory() ? '0700' : '0600', `${path} is ${m}`);
  }

  // As an attacker with a local account would: copy the database out and read the key row.
  const loot = mkdtempSync(join(tmpdir(), 'berth-nobody-'));
  chownSync(loot, 65534, 65534);
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const script = `cp ${dataDir}/berth.db ${dataDir}/berth.db-wal ${loot}/ && node -e "`
    + `const D = require(${JSON.stringify(sqlite).replace(/"/g, '\\"')}); `
    + `console.log(JSON.stringify(new D('${loot}/berth.db').prepare('select private_jwk from signing_keys').all()))"`;
  const attempt = await run('runuser', ['-u', 'nobody', '--', 'sh', '-c', script]).then(
    (r) => ({ ok: true, out: r.stdout }), (e: { stderr: string }) => ({ ok: false, out: e.stderr }),
  );
  await rm(loot, { recursive: true, force: true });
  assert.equal(attempt.ok, false, `nobody read the key row:\n${attempt.out}`);
  assert.match(attempt.out, /Permission denied/);
});

test('an existing data directory open to other users gets a warning at start naming it and its mode', async () => {
  const dataDir = join(work, 'shared');
  mkdirSync(dataDir, { mode: 0o755 });
  chmodSync(dataDir, 0o755);
  const berth = await startBerth({ dataDir, backend: 'sqlite-fs' });
  servers.push(berth);
  // Logged before the server listens, so already in its log when startBerth returns.
  const line = berth.logLines().find((l) => l.level === 40 && l.path === dataDir) as { mode?: string; msg: string } | undefined;
  assert.ok(line, `a warning names ${dataDir}:\n${berth.serverLog()}`);
  assert.equal(line.mode, '0755');
  assert.match(line.msg, /open to other local users \(mode 0755\).*chmod 700/);
  // Berth leaves the mode as it found it (the operator may mean it); what it creates inside is private.
  assert.equal(mode(dataDir), '0755');
  assert.equal(mode(join(dataDir, 'storage')), '0700');
  assert.equal(mode(join(dataDir, 'berth.db')), '0600');
});
