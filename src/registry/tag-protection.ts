import type { Db } from '../db/schema.js';
import { tagImmutable } from '../oci/errors.js';

/**
 * Which tags of a repository an immutable-tag rule protects. The rules live in lifecycle/ (ImmutableTagGuard);
 * the registry only asks, inside the transaction that would move or delete a tag, so a rule and a push or delete
 * cannot pass each other.
 */
export interface TagProtection {
  /** For each of `tags` of the repository that a rule protects: tag → the pattern that does. */
  protectedTags(db: Db, repositoryId: number, tags: readonly string[]): Promise<Map<string, string>>;
}

export const NO_TAG_PROTECTION: TagProtection = { protectedTags: async () => new Map() };

/**
 * Refuses (403 DENIED, tagImmutable) the deletion of versions `manifestIds` of a repository when one of them
 * carries a protected tag, or is a manifest listed by an index that carries one (deleting a platform manifest
 * would break the protected image). Call inside the deleting transaction, after locking the repository row.
 */
export async function refuseProtectedDeletion(db: Db, protection: TagProtection, repo: { id: number; name: string }, manifestIds: readonly number[]): Promise<void> {
  if (protection === NO_TAG_PROTECTION || manifestIds.length === 0) return;
  for (let i = 0; i < manifestIds.length; i += 500) {
    const ids = manifestIds.slice(i, i + 500);
    const own = db.selectFrom('tags').select('name').where('repositoryId', '=', repo.id).where('manifestId', 'in', ids);
    const parents = db.selectFrom('tags as t')
      .innerJoin('manifestReferences as r', 'r.manifestId', 't.manifestId')
      .innerJoin('manifests as child', (j) => j.onRef('child.digest', '=', 'r.digest').on('child.repositoryId', '=', repo.id))
      .select('t.name').where('t.repositoryId', '=', repo.id).where('r.kind', '=', 'manifest').where('child.id', 'in', ids);
    const tags = [...new Set((await own.union(parents).execute()).map((r) => r.name))];
    if (tags.length === 0) continue;
    const hit = await protection.protectedTags(db, repo.id, tags);
    const first = [...hit].sort(([a], [b]) => a.localeCompare(b))[0];
    if (first) throw tagImmutable(first[0], repo.name, first[1], 'delete-version');
  }
}
