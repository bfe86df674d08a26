import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect, type Driver, type SqliteDatabase, type SqliteStatement } from 'kysely';
import pg from 'pg';
import type { Logger } from '../observability/logger.js';
import { movesCaches, PgChangeFeed, SqliteChangeFeed, type ChangeFeed } from './change-feed.js';
import { MeasuredDriver, type DatabaseErrorReason } from './measured-driver.js';
import { OutageAwareDriver } from './outage-driver.js';
import type { Database, Db } from './schema.js';
import { sqliteFiles, WalGuard } from './wal-guard.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Connection {
  readonly db: Db;
  readonly dialect: Dialect;
  /** Moves after every committed registry or permission change, by any process: the caches' validity (src/db/change-feed.ts). */
  readonly changes: ChangeFeed;
  /** The PostgreSQL pool's connections now; null on SQLite (one connection). */
  pool(): PoolState | null;
  close(): Promise<void>;
}

export interface PoolState {
  readonly total: number;
  readonly idle: number;
  /** Checkouts queued for a connection. */
  readonly waiting: number;
  readonly max: number;
}

/** Longest wait for a PostgreSQL connection (a free pool slot, or a new connection) before a request gives up. */
const PG_CONNECT_TIMEOUT_MS = 10_000;
const PG_POOL_MAX = 10;

export interface ConnectOptions {
  /** Hears of each error meaning PostgreSQL is unreachable (for a log line); the caller gets a 503 BerthError. */
  readonly onUnreachable?: (err: unknown) => void;
  /** For the SQLite write-ahead-log guard's reports. */
  readonly log?: Logger;
  /**
   * Called when the SQLite database cannot safely go on (its write-ahead log was lost and could not be recovered):
   * the process must stop. Default: nothing beyond failing every later write.
   */
  readonly onFatal?: (err: Error) => void;
  /** Hears of each failed statement, checkout or transaction step, with its reason (for metrics). */
  readonly onQueryError?: (reason: DatabaseErrorReason) => void;
}

/**
 * Opens the metadata database named by `url`: `postgres://…` / `postgresql://…`, or `sqlite:PATH` / a plain
 * file path for the embedded default.
 */
export function connect(url: string, opts: ConnectOptions = {}): Connection {
  if (/^postgres(ql)?:\/\//.test(url)) {
    // int8 (ids, sizes, ms timestamps) would come back as strings; every value Berth stores fits a double.
    pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
    const onUnreachable = opts.onUnreachable ?? (() => undefined);
    const onQueryError = opts.onQueryError ?? (() => undefined);
    // While the server is away a request waits at most this long for a connection, then answers 503 (see
    // OutageAwareDriver) instead of hanging. Keepalive notices a server gone without a word (network partition).
    // JIT off: Berth's statements are short, and a listing whose estimated cost passes jit_above_cost (the org
    // packages count at 100,000 packages) spent 25 ms of its 31 compiling, on every request.
    const pool = new pg.Pool({
      connectionString: url, max: PG_POOL_MAX, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS, keepAlive: true, options: '-c jit=off',
    });
    // A server that closes connections (restart, failover, pg_terminate_backend) makes their clients emit `error`,
    // idle ones through the pool: with no listener that event would end the process. The pool drops such clients;
    // the requests using them fail with 503.
    pool.on('error', onUnreachable);
    pool.on('connect', (client) => client.on('error', onUnreachable));
    const changes = new PgChangeFeed(url, onUnreachable);
    const dialect = new (class extends PostgresDialect {
      override createDriver(): Driver {
        return new MeasuredDriver(new OutageAwareDriver(super.createDriver(), onUnreachable), onQueryError, () => changes.committed());
      }
    })({ pool });
    const db = new Kysely<Database>({ dialect, plugins: [new CamelCasePlugin()] });
    return {
      db, dialect: 'postgres', changes, close: () => changes.close().then(() => db.destroy()),
      pool: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: PG_POOL_MAX }),
    };
  }
  const path = sqlitePath(url);
  if (path !== ':memory:') {
    // Only the owner may read the database (it holds the token signing keys): a private directory, and a 0600 file
    // that SQLite copies onto the -wal and -shm files it creates beside it.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    closeSync(openSync(path, 'a', 0o600));
  }
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  // FULL: a committed transaction survives power loss, not only a process crash. Commits are per blob/manifest.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  // Admin CLI commands open the same file while `serve` runs.
  sqlite.pragma('busy_timeout = 5000');
  const guard = path === ':memory:' ? null : new WalGuard({ sqlite, files: sqliteFiles(path), log: opts.log ?? null, onFatal: opts.onFatal ?? (() => {}) });
  const changes = new SqliteChangeFeed(sqlite);
  const database = withStatementCache(sqlite, guard, () => changes.committed());
  const onQueryError = opts.onQueryError;
  const dialect = onQueryError
    ? new (class extends SqliteDialect {
      override createDriver(): Driver {
        return new MeasuredDriver(super.createDriver(), onQueryError);
      }
    })({ database })
    : new SqliteDialect({ database });
  const db = new Kysely<Database>({ dialect, plugins: [new CamelCasePlugin()] });
  return {
    db,
    dialect: 'sqlite',
    changes,
    pool: () => null,
    close: async () => {
      guard?.stop();
      await db.destroy();
    },
  };
}

/** The database file of a `sqlite:PATH` (or plain path) metadata URL. */
export function sqlitePath(url: string): string {
  return url.replace(/^sqlite:(\/\/)?/, '');
}

/**
 * Kysely prepares every query anew; preparing was a third of the CPU of a manifest GET. Statements are reused by
 * SQL text (bounded), which is safe because Kysely's SQLite driver runs one query at a time on this connection.
 *
 * Three statements are adapted on the way:
 * - BEGIN takes the write lock at once (BEGIN IMMEDIATE). A deferred transaction that has read and then writes while
 *   another process (an admin command beside `serve`) holds that lock gets SQLITE_BUSY at once: SQLite does not wait
 *   (busy_timeout) there, since waiting could deadlock, nor when the other process committed after this one read.
 *   Taken up front, the lock is waited for like any other. In this process nothing changes: Kysely runs one query
 *   at a time on this connection, so transactions here never overlap.
 * - ROLLBACK runs only when a transaction is open. On SQLITE_FULL (and IOERR, NOMEM) SQLite may already have rolled
 *   back by itself; Kysely's ROLLBACK would then fail with "cannot rollback - no transaction is active", and that
 *   error would replace the real one in the log and in the response.
 * - After every committed write (COMMIT, or a write outside a transaction) the WAL guard checks, before the caller
 *   can acknowledge anything, that the write went to the -wal file next to the database, and the change feed hears
 *   of it unless it wrote only bookkeeping tables (`movesCaches`): the caches must not outlive a change.
 */
function withStatementCache(sqlite: BetterSqlite3.Database, guard: WalGuard | null, onCommit: () => void): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  // Whether the open transaction wrote anything the caches read (reset by BEGIN).
  let moved = false;
  const adapt = (text: string, statement: BetterSqlite3.Statement): SqliteStatement => {
    if (text === 'begin') {
      const begin = sqlite.prepare('begin immediate') as unknown as SqliteStatement;
      return { reader: false, all: (p) => begin.all(p), iterate: (p) => begin.iterate(p), run: (p) => { moved = false; return begin.run(p); } };
    }
    const raw = statement as unknown as SqliteStatement;
    if (text === 'rollback') {
      return { reader: false, all: (p) => raw.all(p), iterate: (p) => raw.iterate(p), run: (p) => (sqlite.inTransaction ? raw.run(p) : { changes: 0, lastInsertRowid: 0 }) };
    }
    if (statement.readonly && text !== 'commit') return raw;
    const moves = text !== 'commit' && movesCaches(text);
    const committed = <T>(result: T): T => {
      if (!sqlite.inTransaction) {
        if (moves || (text === 'commit' && moved)) onCommit();
        moved = false;
        guard?.check();
      } else if (moves) {
        moved = true;
      }
      return result;
    };
    return { reader: raw.reader, all: (p) => committed(raw.all(p)), run: (p) => committed(raw.run(p)), iterate: (p) => raw.iterate(p) };
  };
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      let statement = cache.get(text);
      if (!statement) {
        statement = adapt(text, sqlite.prepare(text));
        if (cache.size >= 500) cache.delete(cache.keys().next().value!);
        cache.set(text, statement);
      }
      return statement;
    },
  };
}
