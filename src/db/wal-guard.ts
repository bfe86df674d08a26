import { statSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import type { Logger } from '../observability/logger.js';

/** Where an embedded database keeps its data: the main file and, in WAL mode, its log and shared-memory index. */
export interface SqliteFiles {
  readonly database: string;
  readonly wal: string;
  readonly shm: string;
}

export function sqliteFiles(path: string): SqliteFiles {
  return { database: path, wal: `${path}-wal`, shm: `${path}-shm` };
}

/**
 * Keeps an open SQLite connection tied to the -wal and -shm files next to its database.
 *
 * Commits go to the write-ahead log and reach the main file only at a checkpoint. Someone deleting the -wal file
 * ("cleaning up" *.wal) does not stop SQLite: it keeps appending to the unlinked inode, acknowledged commits live
 * only there, and a kill or crash loses them all. The guard remembers the device and inode of both files; it
 * compares the -wal file's after every committed write (one stat call, see bench/wal-guard.ts) and both once a
 * second. (A lost -shm loses no data, the index is rebuilt from the log, but a second process would then use
 * another index than ours.)
 * On a mismatch it recovers before the write is acknowledged: a TRUNCATE checkpoint copies everything the still
 * open, unlinked log holds into the main file (fsynced: synchronous=FULL), then leaving and re-entering WAL mode
 * creates fresh -wal and -shm files. The operator gets an error-level line saying what happened. When that is not
 * possible (another process holds the database, so the checkpoint or the switch is refused), the write fails and
 * `onFatal` is called: the process must stop rather than keep acknowledging writes that a kill would lose.
 */
export class WalGuard {
  readonly #sqlite: BetterSqlite3.Database;
  readonly #files: SqliteFiles;
  readonly #log: Logger | null;
  readonly #onFatal: (err: Error) => void;
  #wal: string | null;
  #shm: string | null;
  #failed: Error | null = null;
  readonly #timer: NodeJS.Timeout;

  constructor(deps: { sqlite: BetterSqlite3.Database; files: SqliteFiles; log: Logger | null; onFatal: (err: Error) => void }) {
    this.#sqlite = deps.sqlite;
    this.#files = deps.files;
    this.#log = deps.log;
    this.#onFatal = deps.onFatal;
    this.#wal = identity(this.#files.wal);
    this.#shm = identity(this.#files.shm);
    // Idle detection: without this, commits acknowledged before the deletion stay only in the unlinked log until
    // the next write comes along.
    this.#timer = setInterval(() => {
      if (!this.#sqlite.inTransaction && this.#sqlite.open) {
        try {
          this.check();
          const shm = identity(this.#files.shm);
          if (this.#shm === null) this.#shm = shm;
          else if (shm !== this.#shm) this.#recover();
        } catch { /* reported through onFatal */ }
      }
    }, 1000);
    this.#timer.unref();
  }

  /** Throws when the log was lost and could not be recovered; the caller's write must not be acknowledged. */
  check(): void {
    if (this.#failed) throw this.#failed;
    const now = identity(this.#files.wal);
    if (now === this.#wal) return;
    if (this.#wal === null) {
      // Not created yet when the guard started: the first file seen is ours.
      this.#wal = now;
      this.#shm = identity(this.#files.shm);
      return;
    }
    this.#recover();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #recover(): void {
    const files = this.#files;
    try {
      const [result] = this.#sqlite.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      if (!result || result.busy !== 0) throw new Error('the checkpoint could not complete: another process is using the database');
      // Leaving WAL mode needs exclusive access; SQLite answers with the mode it stayed in when it cannot switch.
      const left = this.#sqlite.pragma('journal_mode = DELETE', { simple: true });
      if (left !== 'delete') throw new Error('cannot leave WAL mode: another process is using the database');
      const back = this.#sqlite.pragma('journal_mode = WAL', { simple: true });
      if (back !== 'wal') throw new Error(`cannot re-enter WAL mode (journal mode is ${String(back)})`);
      // A read opens (creates) the new -wal and -shm, so the identity taken below is theirs.
      this.#sqlite.prepare('select count(*) from sqlite_master').get();
    } catch (cause) {
      this.#failed = new Error(
        `the SQLite write-ahead log ${files.wal} (or ${files.shm}) was deleted or replaced while Berth was running, `
        + `and recovering from it failed: ${(cause as Error).message}. Stop every process using ${files.database} and restart Berth.`,
        { cause },
      );
      this.#log?.fatal({ err: this.#failed, database: files.database, wal: files.wal }, 'SQLite write-ahead log lost');
      this.#onFatal(this.#failed);
      throw this.#failed;
    }
    this.#wal = identity(files.wal);
    this.#shm = identity(files.shm);
    this.#log?.error(
      { database: files.database, wal: files.wal, shm: files.shm },
      'the SQLite write-ahead log was deleted or replaced while Berth was running: everything it held was checkpointed into the '
      + 'database and a new log started. Never delete the -wal and -shm files of a database in use (see README, "Embedded database")',
    );
  }
}

/** `dev:ino` of a file, or null while it does not exist. */
function identity(path: string): string | null {
  const s = statSync(path, { throwIfNoEntry: false });
  return s ? `${s.dev}:${s.ino}` : null;
}
