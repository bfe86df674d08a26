import type { Db } from '../db/schema.js';
import type { RepoName } from '../oci/names.js';
import type { RepositoryStore } from './repositories.js';

/** Tag listing (spec "Listing tags"): lexical order, `n` results after `last`. */
export class TagService {
  readonly #db: Db;
  readonly #repos: RepositoryStore;

  constructor(deps: { db: Db; repos: RepositoryStore }) {
    this.#db = deps.db;
    this.#repos = deps.repos;
  }

  /** Returns up to `limit` tags and whether more follow. */
  async list(name: RepoName, limit: number, last: string | undefined): Promise<{ tags: string[]; more: boolean }> {
    const repo = await this.#repos.get(name);
    if (limit === 0) return { tags: [], more: false };
    let q = this.#db.selectFrom('tags').select('name').where('repositoryId', '=', repo.id).orderBy('name').limit(limit + 1);
    if (last !== undefined) q = q.where('name', '>', last);
    const rows = await q.execute();
    return { tags: rows.slice(0, limit).map((r) => r.name), more: rows.length > limit };
  }
}
