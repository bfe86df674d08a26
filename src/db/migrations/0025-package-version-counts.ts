import { sql, type Kysely } from 'kysely';

/**
 * A package's live version count, kept beside its storage figure by the same transactions (countVersions in
 * src/registry/storage-usage.ts): the packages and versions listings show it, and counting the live manifests per
 * request read every one of them (100,000 index entries for a package that large). Computed here for what exists;
 * a package without a `package_storage` row yet gets one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('package_storage').addColumn('version_count', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await sql`insert into package_storage (repository_id, bytes)
    select p.id, 0 from repositories p where not exists (select 1 from package_storage s where s.repository_id = p.id)`.execute(db);
  await sql`update package_storage set version_count =
    (select count(*) from manifests m where m.repository_id = package_storage.repository_id and m.deleted_at is null)`.execute(db);
}
