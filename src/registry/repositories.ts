import type { Db } from '../db/schema.js';
import { nameUnknown } from '../oci/errors.js';
import { repoOwner, type RepoName } from '../oci/names.js';
import type { Clock } from '../util/clock.js';

export interface RepositoryRow {
  readonly id: number;
  readonly name: RepoName;
}

/** Repository rows: created on first write (upload or manifest), looked up by name on every request. */
export class RepositoryStore {
  readonly #db: Db;
  readonly #clock: Clock;

  constructor(deps: { db: Db; clock: Clock }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
  }

  async find(name: RepoName): Promise<RepositoryRow | null> {
    const row = await this.#db.selectFrom('repositories').select(['id', 'name']).where('name', '=', name).executeTakeFirst();
    return row ? { id: row.id, name: row.name as RepoName } : null;
  }

  async get(name: RepoName): Promise<RepositoryRow> {
    const row = await this.find(name);
    if (!row) throw nameUnknown(name);
    return row;
  }

  async ensure(name: RepoName): Promise<RepositoryRow> {
    const existing = await this.find(name);
    if (existing) return existing;
    const now = this.#clock.now();
    await this.#db.insertInto('repositories')
      .values({ name, owner: repoOwner(name), createdAt: now, updatedAt: now })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    return this.get(name);
  }

  /** Repository names in lexical order after `last` (the `_catalog` endpoint). */
  async list(limit: number, last: string | undefined): Promise<string[]> {
    let q = this.#db.selectFrom('repositories').select('name').orderBy('name').limit(limit);
    if (last !== undefined) q = q.where('name', '>', last);
    return (await q.execute()).map((r) => r.name);
  }
}
