import type BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';

/**
 * A number that moves after every committed change to the registry's tags, manifests or repositories, or to who may
 * read them (accounts, memberships, roles), made by this process or any other (a CLI command, another replica): what
 * an in-memory cache of those rows compares against before trusting an entry (src/db/change-bound-cache.ts).
 * `version()` is null while changes cannot be heard: a cache must then answer from the database. `exact` asks for
 * no staleness the feed allows itself for speed (SQLite: `data_version` asked now, not within the last 10 ms).
 */
export interface ChangeFeed {
  version(exact?: boolean): number | null;
  close(): Promise<void>;
}

/**
 * Tables that keep records of what happened (downloads, pulls audited, a token's or bot's last use, job leases, web
 * sessions, webhook deliveries, a mirror's last pulls) or figures (a package's storage and downloads): no cache
 * reads them, and the pull path writes them all the time (download counts every `stats.flushInterval`, an audit row
 * per pull with `audit.pulls`), so a commit that wrote only these leaves the feed where it is. A write to any other
 * table, or a statement whose target cannot be read off its text, moves it.
 */
const BOOKKEEPING_TABLES = new Set([
  'downloads_daily', 'package_downloads_daily', 'owner_downloads_daily', 'package_storage',
  'audit_log', 'access_tokens', 'bots', 'job_leases', 'sessions', 'hook_deliveries', 'webhook_events', 'mirror_pulls',
]);
const WRITE_TARGET = /^\s*(?:insert\s+into|update|delete\s+from)\s+"?([a-z_]+)"?/i;

/** Whether a write statement can change what the caches hold (see BOOKKEEPING_TABLES). */
export function movesCaches(sqlText: string): boolean {
  const table = WRITE_TARGET.exec(sqlText)?.[1];
  return table === undefined || !BOOKKEEPING_TABLES.has(table.toLowerCase());
}

/** How often, at most, the SQLite feed asks whether another process committed (the staleness it allows). */
const EXTERNAL_CHECK_MS = 10;

/**
 * SQLite: this process's own commits, counted as they complete (`committed`, from the connection's statement
 * wrapper in connect.ts), and other processes' (`berth` CLI commands), seen by `PRAGMA data_version` on the same
 * connection (it moves when another connection committed), asked at most every EXTERNAL_CHECK_MS: that pragma costs
 * about as much as the manifest lookup it saves. Not a second connection: the WAL guard's recovery needs the
 * database to itself. Another process's commit always counts (data_version does not say what it wrote); this
 * process's count unless they wrote only bookkeeping tables.
 */
export class SqliteChangeFeed implements ChangeFeed {
  readonly #sqlite: BetterSqlite3.Database;
  #version = 0;
  #external: number | null = null;
  #checkedAt = 0;
  #statement: BetterSqlite3.Statement | null = null;

  constructor(sqlite: BetterSqlite3.Database) {
    this.#sqlite = sqlite;
  }

  version(exact = false): number | null {
    if (!this.#sqlite.open) return null;
    const now = Date.now();
    if (exact || now - this.#checkedAt >= EXTERNAL_CHECK_MS) {
      this.#checkedAt = now;
      try {
        this.#statement ??= this.#sqlite.prepare('PRAGMA data_version').pluck();
        const external = this.#statement.get() as number;
        if (external !== this.#external) {
          this.#external = external;
          this.#version++;
        }
      } catch {
        this.#checkedAt = 0;
        return null; // the database cannot be read now: no cache rather than a stale one
      }
    }
    return this.#version;
  }

  /** A write of this process that moves caches (`movesCaches`) committed. */
  committed(): void {
    this.#version++;
  }

  async close(): Promise<void> {}
}

/** How long a lost PostgreSQL listener waits before connecting again. */
const RELISTEN_MS = 1000;
export const PG_CHANGES_CHANNEL = 'berth_registry_changes';

/**
 * PostgreSQL: a listener connection on the channel that the triggers of migrations 0024 and 0026 notify when a
 * statement changes tags, manifests, repositories or permissions (delivered on commit, from any replica or CLI), plus
 * this process's own commits, counted as they complete (`committed`) so a client reading its own write never waits for the
 * notification. Started on first use (CLI commands never need it). While the listener is down the version is null;
 * once it listens again the version moves, since notifications sent meanwhile were lost.
 */
export class PgChangeFeed implements ChangeFeed {
  readonly #url: string;
  readonly #onError: (err: unknown) => void;
  #version = 0;
  #listening = false;
  #client: pg.Client | null = null;
  #started = false;
  #closed = false;
  #retry: NodeJS.Timeout | null = null;

  constructor(url: string, onError: (err: unknown) => void) {
    this.#url = url;
    this.#onError = onError;
  }

  version(): number | null {
    if (!this.#started) {
      this.#started = true;
      this.#listen();
    }
    return this.#listening ? this.#version : null;
  }

  /** A write of this process that moves caches (`movesCaches`) committed. */
  committed(): void {
    this.#version++;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#listening = false;
    await this.#client?.end().catch(() => undefined);
  }

  #listen(): void {
    if (this.#closed) return;
    const client = new pg.Client({ connectionString: this.#url, keepAlive: true });
    this.#client = client;
    const lost = (err?: unknown): void => {
      if (this.#client !== client) return;
      this.#client = null;
      this.#listening = false;
      if (err) this.#onError(err);
      client.end().catch(() => undefined);
      if (!this.#closed) this.#retry = setTimeout(() => this.#listen(), RELISTEN_MS).unref();
    };
    client.on('notification', () => this.#version++);
    client.on('error', lost);
    client.on('end', () => lost());
    client.connect()
      .then(() => client.query(`LISTEN ${PG_CHANGES_CHANNEL}`))
      .then(() => {
        if (this.#client !== client) return;
        this.#version++;
        this.#listening = true;
      })
      .catch(lost);
  }
}
