import { sql, type Kysely } from 'kysely';

/**
 * The storage figure, kept up to date in the transactions that change it (src/registry/storage-usage.ts), and the
 * quotas checked against it:
 * - `package_blob_refs`: per package, each blob its live versions reference, with how many of them do (`refs`) and
 *   the size counted for it; a row exists while `refs` > 0.
 * - `owner_blob_refs`: per owner (lowercase login, as `repositories.owner`), each blob referenced by its live
 *   packages, with how many packages do (`packages`); a blob shared by two packages is counted once for the owner.
 * - `package_storage`, `owner_storage`: the figure itself (distinct blob bytes plus the live manifests' bytes) and
 *   the quota an instance admin set (null: none; for owners, config `quota.default` applies).
 * The rows for existing data are computed here, as `berth usage recompute` does.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('package_blob_refs')
    .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('refs', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('package_blob_refs_pk', ['repository_id', 'digest'])
    .execute();
  await db.schema.createTable('owner_blob_refs')
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('packages', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('owner_blob_refs_pk', ['owner', 'digest'])
    .execute();
  await db.schema.createTable('package_storage')
    .addColumn('repository_id', 'bigint', (c) => c.primaryKey().references('repositories.id').onDelete('cascade'))
    .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('quota_bytes', 'bigint')
    .execute();
  await db.schema.createTable('owner_storage')
    .addColumn('owner', 'text', (c) => c.primaryKey())
    .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('quota_bytes', 'bigint')
    .execute();

  await sql`insert into package_blob_refs (repository_id, digest, size, refs)
    select m.repository_id, r.digest, coalesce(max(b.size), 0), count(*) from manifest_references r
    join manifests m on m.id = r.manifest_id left join blobs b on b.digest = r.digest
    where r.kind = 'blob' and m.deleted_at is null group by m.repository_id, r.digest`.execute(db);
  await sql`insert into owner_blob_refs (owner, digest, size, packages)
    select p.owner, x.digest, max(x.size), count(*) from package_blob_refs x join repositories p on p.id = x.repository_id
    where p.deleted_at is null group by p.owner, x.digest`.execute(db);
  await sql`insert into package_storage (repository_id, bytes)
    select p.id, coalesce((select sum(x.size) from package_blob_refs x where x.repository_id = p.id), 0)
      + coalesce((select sum(m.size) from manifests m where m.repository_id = p.id and m.deleted_at is null), 0)
    from repositories p`.execute(db);
  await sql`insert into owner_storage (owner, bytes)
    select o.owner, coalesce((select sum(x.size) from owner_blob_refs x where x.owner = o.owner), 0)
      + coalesce((select sum(m.size) from manifests m join repositories p on p.id = m.repository_id
                  where p.owner = o.owner and p.deleted_at is null and m.deleted_at is null), 0)
    from (select distinct owner from repositories) o`.execute(db);
}
