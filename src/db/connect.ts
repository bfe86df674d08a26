import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect, type Driver, type SqliteDatabase, type SqliteStatement } from 'kysely';
import pg from 'pg';
import { OutageAwareDriver } from './outage-driver.js';
import type { Database, Db } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Connection {
  readonly db: Db;
  readonly dialect: Dialect;
  close(): Promise<void>;
}

/** Longest wait for a PostgreSQL connection (a free pool slot, or a new connection) before a request gives up. */
const PG_CONNECT_TIMEOUT_MS = 10_000;

export interface ConnectOptions {
  /** Hears of each error meaning PostgreSQL is unreachable (for a log line); the caller gets a 503 BerthError. */
  readonly onUnreachable?: (err: unknown) => void;
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
    // While the server is away a request waits at most this long for a connection, then answers 503 (see
    // OutageAwareDriver) instead of hanging. Keepalive notices a server gone without a word (network partition).
    const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS, keepAlive: true });
    // A server that closes connections (restart, failover, pg_terminate_backend) makes their clients emit `error`,
    // idle ones through the pool: with no listener that event would end the process. The pool drops such clients;
    // the requests using them fail with 503.
    pool.on('error', onUnreachable);
    pool.on('connect', (client) => client.on('error', onUnreachable));
    const dialect = new (class extends PostgresDialect {
      override createDriver(): Driver {
        return new OutageAwareDriver(super.createDriver(), onUnreachable);
      }
    })({ pool });
    const db = new Kysely<Database>({ dialect, plugins: [new CamelCasePlugin()] });
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  const path = url.replace(/^sqlite:(\/\/)?/, '');
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  // FULL: a committed transaction survives power loss, not only a process crash. Commits are per blob/manifest.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  // Admin CLI commands open the same file while `serve` runs.
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }), plugins: [new CamelCasePlugin()] });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

/**
 * Kysely prepares every query anew; preparing was a third of the CPU of a manifest GET. Statements are reused by
 * SQL text (bounded), which is safe because Kysely's SQLite driver runs one query at a time on this connection.
 */
function withStatementCache(sqlite: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      let statement = cache.get(text);
      if (!statement) {
        statement = sqlite.prepare(text);
        if (cache.size >= 500) cache.delete(cache.keys().next().value!);
        cache.set(text, statement);
      }
      return statement as unknown as SqliteStatement;
    },
  };
}
