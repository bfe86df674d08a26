import type { Expression, SqlBool } from 'kysely';
import type { Db } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import { nameUnknown } from '../oci/errors.js';
import { repoOwner, type RepoName } from '../oci/names.js';
import type { Clock } from '../util/clock.js';
import { countNewPackage } from './storage-usage.js';

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

  /**
   * The repository, created on first push: owned by the namespace's account, with that organization's default
   * visibility (private for users), and (GHCR) its publisher becomes an admin of it.
   */
  async ensure(name: RepoName, createdBy: number | null = null): Promise<RepositoryRow> {
    const existing = await this.find(name);
    if (existing) return existing;
    const now = this.#clock.now();
    const owner = await this.#db.selectFrom('accounts').select(['id', 'type', 'defaultVisibility'])
      .where('lowerLogin', '=', repoOwner(name)).executeTakeFirst();
    // Two first pushes at once (PostgreSQL, READ COMMITTED): the second INSERT waits for the first to commit, then
    // inserts nothing, so only the creator is made admin; both read the same row below.
    await transaction(this.#db, async (tx) => {
      const inserted = await tx.insertInto('repositories')
        .values({
          name, owner: repoOwner(name), ownerId: owner?.id ?? null, createdBy,
          visibility: owner?.type === 'org' ? owner.defaultVisibility : 'private',
          sourceUrl: null, createdAt: now, updatedAt: now,
        })
        .onConflict((oc) => oc.column('name').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (inserted) await countNewPackage(tx, inserted.id, repoOwner(name));
      if (inserted && createdBy !== null && owner?.type === 'org') {
        await tx.insertInto('packagePermissions').values({ repositoryId: inserted.id, principalType: 'user', principalId: createdBy, role: 'admin' }).execute();
      }
    });
    return this.get(name);
  }

  /**
   * Names of the repositories matching `readable` (a condition on `repositories as r`: the caller's read permission),
   * in lexical order after `last` (the `_catalog` endpoint). Read in name order from `repositories_live_name`
   * (migration 0012), stopping after `limit` matches.
   */
  async list(limit: number, last: string | undefined, readable: Expression<SqlBool>): Promise<string[]> {
    // Deleted packages keep their rows under tombstone names until purged; they are no repositories for /v2.
    let q = this.#db.selectFrom('repositories as r').select('r.name').where('r.deletedAt', 'is', null).where(readable)
      .orderBy('r.name').limit(limit);
    if (last !== undefined) q = q.where('r.name', '>', last);
    return (await q.execute()).map((r) => r.name);
  }
}
