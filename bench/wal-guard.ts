/**
 * `npx tsx bench/wal-guard.ts`: what the SQLite write-ahead-log guard (src/db/wal-guard.ts) costs. It runs after
 * every committed write: one stat() of the -wal file, compared with the identity taken at open. Measured here
 * against the commit it follows (synchronous=FULL, so an fsync) on a database in a temp directory of this disk, and
 * as a share of a blob upload request, which commits three writes (session insert, offset update, the commit
 * transaction).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { connect } from '../src/db/connect.js';
import { sqliteFiles, WalGuard } from '../src/db/wal-guard.js';

const CHECKS = 200_000;
const COMMITS = 300;

const dir = mkdtempSync(join(tmpdir(), 'berth-bench-wal-'));
try {
  const path = join(dir, 'bench.db');
  const conn = connect(`sqlite:${path}`);
  await sql`create table t (id integer primary key, v text)`.execute(conn.db);

  // The check alone, on a second connection to the same files (the guard is internal to connect()).
  const sqlite = new BetterSqlite3(path);
  const guard = new WalGuard({ sqlite, files: sqliteFiles(path), log: null, onFatal: () => {} });
  for (let i = 0; i < 10_000; i++) guard.check();
  let t = performance.now();
  for (let i = 0; i < CHECKS; i++) guard.check();
  const checkUs = ((performance.now() - t) * 1000) / CHECKS;
  guard.stop();
  sqlite.close();

  // A committed write as Berth makes it: one autocommit insert through Kysely, the guard included.
  for (let i = 0; i < 20; i++) await sql`insert into t (v) values (${'warm-up'})`.execute(conn.db);
  t = performance.now();
  for (let i = 0; i < COMMITS; i++) await sql`insert into t (v) values (${`row ${i}`})`.execute(conn.db);
  const commitUs = ((performance.now() - t) * 1000) / COMMITS;
  await conn.close();

  const share = (checkUs / commitUs) * 100;
  process.stdout.write([
    'SQLite WAL guard',
    `  check (stat of the -wal file): ${checkUs.toFixed(2)} µs (mean of ${CHECKS.toLocaleString('en')})`,
    `  committed write (autocommit insert, synchronous=FULL, guard included): ${commitUs.toFixed(0)} µs (${COMMITS} in a row)`,
    `  guard share of a committed write: ${share.toFixed(2)} %`,
    `  per blob upload request (3 committed writes): ${(3 * checkUs).toFixed(1)} µs`,
    '',
  ].join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
