import { sql, type Kysely } from 'kysely';

/**
 * Indexes for listings done in SQL at scale (issue 14: 100,000 repositories, 1,000,000 manifests), both over live
 * repositories only (a deleted package is a tombstone no listing shows) and covering what the permission condition
 * (auth/package-access.ts `readableRepositories`) reads of a repository, so pages are read in order from the index:
 * - `repositories_owner_live`: an owner's packages by name (REST `/orgs/{org}/packages`, `/users/{u}/packages`, the
 *   UI's package list); a deep page skips its offset inside the index, and the count stops at 10,001.
 * - `repositories_live_name`: every repository by name after `last` (`/v2/_catalog`), stopping after `n` readable.
 * - `package_permissions_principal`: the packages a user or team holds a role on, which the permission condition
 *   collects once per statement (the primary key starts with the package).
 * Tags (`tags_pk`: repository, name) and a package's versions (`manifests_live_versions`, 0007) already page from an
 * index.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('repositories_owner_live').on('repositories')
    .columns(['owner', 'name', 'visibility', 'id']).where(sql.ref('deleted_at'), 'is', null).execute();
  await db.schema.createIndex('repositories_live_name').on('repositories')
    .columns(['name', 'visibility', 'owner', 'id']).where(sql.ref('deleted_at'), 'is', null).execute();
  await db.schema.createIndex('package_permissions_principal').on('package_permissions')
    .columns(['principal_type', 'principal_id', 'repository_id', 'role']).execute();
}
