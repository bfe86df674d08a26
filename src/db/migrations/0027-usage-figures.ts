import { sql, type Kysely } from 'kysely';

/**
 * An owner's usage figures kept like its storage (issue 14: the usage page read every package of the owner and every
 * download row of them; 20,000 packages took 1.7 s on PostgreSQL):
 * - `package_storage.owner` (`repositories.owner`, which never changes) and `.downloads` (the package's downloads,
 *   all time), indexed per owner by bytes and by downloads, so the largest and the most downloaded packages are
 *   read in order and no further;
 * - `package_downloads_daily`, `owner_downloads_daily`: downloads per day, added by the download counter's flush
 *   with those of `downloads_daily` (per version);
 * - `owner_storage.package_count` and `.version_count`: the owner's live packages and their live versions, kept by
 *   pushes, deletions and restores (the instance overview adds up the owners' instead of counting every row);
 * - `repositories_deleted_owner`: an owner's deleted packages, without walking its live ones;
 * - `package_storage_quota`: the few packages with a quota of their own (the quota listings);
 * - `manifests_deleted` holds deleted versions only (what the purge reads): holding every live one under NULL, it
 *   looked to SQLite like the best index for "live", which made the overview's recent pushes read all 1,000,000
 *   and sort them rather than walk the primary key from the newest.
 * A download stays counted when its version or package is purged: it happened. Every package gets its
 * `package_storage` row here, and from now on when it is created. Computed here for what exists.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('package_storage').addColumn('owner', 'text', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('package_storage').addColumn('downloads', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('owner_storage').addColumn('package_count', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('owner_storage').addColumn('version_count', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.createTable('package_downloads_daily')
    .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('day', 'integer', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('package_downloads_daily_pk', ['repository_id', 'day'])
    .execute();
  await db.schema.createTable('owner_downloads_daily')
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('day', 'integer', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('owner_downloads_daily_pk', ['owner', 'day'])
    .execute();

  await sql`insert into package_storage (repository_id, bytes)
    select p.id, 0 from repositories p where not exists (select 1 from package_storage s where s.repository_id = p.id)`.execute(db);
  await sql`update package_storage set owner = (select p.owner from repositories p where p.id = package_storage.repository_id)`.execute(db);
  await sql`insert into package_downloads_daily (repository_id, day, count)
    select m.repository_id, d.day, sum(d.count) from downloads_daily d join manifests m on m.id = d.manifest_id
    group by m.repository_id, d.day`.execute(db);
  await sql`update package_storage set downloads =
    coalesce((select sum(d.count) from package_downloads_daily d where d.repository_id = package_storage.repository_id), 0)`.execute(db);
  await sql`insert into owner_downloads_daily (owner, day, count)
    select p.owner, d.day, sum(d.count) from package_downloads_daily d join repositories p on p.id = d.repository_id
    group by p.owner, d.day`.execute(db);
  await sql`insert into owner_storage (owner, bytes)
    select distinct p.owner, 0 from repositories p where not exists (select 1 from owner_storage o where o.owner = p.owner)`.execute(db);
  await sql`update owner_storage set package_count =
    (select count(*) from repositories p where p.owner = owner_storage.owner and p.deleted_at is null)`.execute(db);
  await sql`update owner_storage set version_count = (select coalesce(sum(s.version_count), 0) from package_storage s
    join repositories p on p.id = s.repository_id where p.owner = owner_storage.owner and p.deleted_at is null)`.execute(db);

  await db.schema.createIndex('package_storage_owner_bytes').on('package_storage').columns(['owner', 'bytes desc', 'repository_id']).execute();
  await db.schema.createIndex('package_storage_owner_downloads').on('package_storage').columns(['owner', 'downloads desc', 'repository_id'])
    .where(sql.ref('downloads'), '>', 0).execute();
  await db.schema.createIndex('package_storage_quota').on('package_storage').column('owner').where(sql.ref('quota_bytes'), 'is not', null).execute();
  await db.schema.dropIndex('manifests_deleted').execute();
  await db.schema.createIndex('manifests_deleted').on('manifests').column('deleted_at').where(sql.ref('deleted_at'), 'is not', null).execute();
  await db.schema.createIndex('repositories_deleted_owner').on('repositories').column('owner').where(sql.ref('deleted_at'), 'is not', null).execute();
}
