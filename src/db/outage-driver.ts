import type { CompiledQuery, DatabaseConnection, Driver, QueryCompiler, QueryResult, TransactionSettings } from 'kysely';
import { isNetworkFailure, unavailable } from '../util/errors.js';

/**
 * Whether a PostgreSQL error means the server is away rather than the statement wrong: the server shutting down or
 * restarting (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now: starting up, failover), the
 * connection class (08…), the socket refused or reset, the pool's connect timeout, a connection that died under a
 * client (pg: "Connection terminated…", "…not queryable").
 */
export function isDatabaseUnreachable(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (code === '57P01' || code === '57P02' || code === '57P03' || (typeof code === 'string' && code.startsWith('08'))) return true;
  if (isNetworkFailure(err)) return true;
  return typeof message === 'string'
    && /^Connection terminated|timeout exceeded when trying to connect|connection error and is not queryable|Connection ended unexpectedly/.test(message);
}

/**
 * A Kysely driver around PostgreSQL's that turns "the database is unreachable" into one error, `unavailable`
 * (503 + Retry-After), at the one place every query, transaction statement and connection checkout passes: every
 * surface's error handler then answers it in its own shape, and no handler catches it. Other errors pass as they are.
 * `onUnreachable` hears of each one (for a log line).
 */
export class OutageAwareDriver implements Driver {
  readonly #inner: Driver;
  readonly #onUnreachable: (err: unknown) => void;

  constructor(inner: Driver, onUnreachable: (err: unknown) => void) {
    this.#inner = inner;
    this.#onUnreachable = onUnreachable;
  }

  init(): Promise<void> {
    return this.#inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new OutageAwareConnection(await this.#guard(() => this.#inner.acquireConnection()), (err) => this.#classify(err));
  }

  // The wrapped driver gets its own connection object back: its methods reach into it (private fields, symbols).
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#guard(() => this.#inner.beginTransaction(innerOf(connection), settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#guard(() => this.#inner.commitTransaction(innerOf(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#guard(() => this.#inner.rollbackTransaction(innerOf(connection)));
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#guard(() => this.#inner.savepoint!(innerOf(connection), name, compile));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#guard(() => this.#inner.rollbackToSavepoint!(innerOf(connection), name, compile));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#guard(() => this.#inner.releaseSavepoint!(innerOf(connection), name, compile));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(innerOf(connection));
  }

  destroy(): Promise<void> {
    return this.#inner.destroy();
  }

  async #guard<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw this.#classify(err);
    }
  }

  #classify(err: unknown): unknown {
    if (!isDatabaseUnreachable(err)) return err;
    this.#onUnreachable(err);
    return unavailable('database', err);
  }
}

class OutageAwareConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;
  readonly #classify: (err: unknown) => unknown;

  constructor(inner: DatabaseConnection, classify: (err: unknown) => unknown) {
    this.inner = inner;
    this.#classify = classify;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await this.inner.executeQuery<R>(query);
    } catch (err) {
      throw this.#classify(err);
    }
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (err) {
      throw this.#classify(err);
    }
  }
}

function innerOf(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof OutageAwareConnection ? connection.inner : connection;
}
