import type { CompiledQuery, DatabaseConnection, Driver, QueryCompiler, QueryResult, TransactionSettings } from 'kysely';
import { isUnavailable } from '../util/errors.js';
import { isForeignKeyViolation, isUniqueViolation } from './constraint-errors.js';
import { movesCaches } from './change-feed.js';

export type DatabaseErrorReason = 'unreachable' | 'constraint' | 'other';

/**
 * A Kysely driver around either dialect's that reports each failed statement, connection checkout or transaction
 * step to `onError` with a reason (for `berth_database_errors_total`); the error itself passes unchanged. On
 * PostgreSQL it wraps OutageAwareDriver, so "unreachable" is the 503 that one made of it. `onCommit` hears of each
 * write once it is committed (a COMMIT, or a statement other than SELECT outside a transaction) unless it wrote only
 * bookkeeping tables (`movesCaches`): the change feed's own commits (src/db/change-feed.ts).
 */
export class MeasuredDriver implements Driver {
  readonly #inner: Driver;
  readonly #onError: (reason: DatabaseErrorReason) => void;
  readonly #onCommit: () => void;

  constructor(inner: Driver, onError: (reason: DatabaseErrorReason) => void, onCommit: () => void = () => {}) {
    this.#inner = inner;
    this.#onError = onError;
    this.#onCommit = onCommit;
  }

  init(): Promise<void> {
    return this.#inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new MeasuredConnection(await this.#watch(() => this.#inner.acquireConnection()), (err) => this.#report(err), this.#onCommit);
  }

  // The wrapped driver gets its own connection object back: its methods reach into it.
  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await this.#watch(() => this.#inner.beginTransaction(innerOf(connection), settings));
    if (connection instanceof MeasuredConnection) {
      connection.inTransaction = true;
      connection.moved = false;
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.#watch(() => this.#inner.commitTransaction(innerOf(connection)));
    } finally {
      if (connection instanceof MeasuredConnection) connection.inTransaction = false;
    }
    if (!(connection instanceof MeasuredConnection) || connection.moved) this.#onCommit();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.#watch(() => this.#inner.rollbackTransaction(innerOf(connection)));
    } finally {
      if (connection instanceof MeasuredConnection) connection.inTransaction = false;
    }
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#watch(() => this.#inner.savepoint!(innerOf(connection), name, compile));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#watch(() => this.#inner.rollbackToSavepoint!(innerOf(connection), name, compile));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#watch(() => this.#inner.releaseSavepoint!(innerOf(connection), name, compile));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(innerOf(connection));
  }

  destroy(): Promise<void> {
    return this.#inner.destroy();
  }

  async #watch<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      this.#report(err);
      throw err;
    }
  }

  #report(err: unknown): void {
    this.#onError(isUnavailable(err) ? 'unreachable' : isUniqueViolation(err) || isForeignKeyViolation(err) ? 'constraint' : 'other');
  }
}

class MeasuredConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;
  readonly #report: (err: unknown) => void;
  readonly #onCommit: () => void;
  inTransaction = false;
  /** Whether the open transaction wrote anything the caches read. */
  moved = false;

  constructor(inner: DatabaseConnection, report: (err: unknown) => void, onCommit: () => void) {
    this.inner = inner;
    this.#report = report;
    this.#onCommit = onCommit;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    let result: QueryResult<R>;
    try {
      result = await this.inner.executeQuery<R>(query);
    } catch (err) {
      this.#report(err);
      throw err;
    }
    if (!READ_ONLY.test(query.sql) && movesCaches(query.sql)) {
      if (this.inTransaction) this.moved = true;
      else this.#onCommit();
    }
    return result;
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (err) {
      this.#report(err);
      throw err;
    }
  }
}

/** A statement that changes nothing (the hot ones: Kysely writes SELECT in lower case). */
const READ_ONLY = /^\s*select\b/i;

function innerOf(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof MeasuredConnection ? connection.inner : connection;
}
