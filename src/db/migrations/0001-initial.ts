import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.js';
import { blobType, idColumn } from './column-types.js';

// Written against `Kysely<unknown>`: migrations must not depend on today's table types.
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  // Names and tags sort byte-wise on both dialects (_catalog and tags/list are lexical): PostgreSQL needs "C".
  const lexical = dialect === 'postgres' ? sql`text collate "C"` : 'text';
  await idColumn(db.schema.createTable('repositories'), dialect)
    .addColumn('name', lexical, (c) => c.notNull().unique())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('repositories_owner').on('repositories').column('owner').execute();

  await db.schema.createTable('blobs')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema.createTable('repository_blobs')
    .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('digest', 'text', (c) => c.notNull().references('blobs.digest'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('repository_blobs_pk', ['repository_id', 'digest'])
    .execute();
  await db.schema.createIndex('repository_blobs_digest').on('repository_blobs').column('digest').execute();

  await idColumn(db.schema.createTable('manifests'), dialect)
    .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('media_type', 'text', (c) => c.notNull())
    .addColumn('artifact_type', 'text')
    .addColumn('subject_digest', 'text')
    .addColumn('config_digest', 'text')
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('body', blobType(dialect), (c) => c.notNull())
    .addColumn('annotations', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('manifests_repository_digest', ['repository_id', 'digest'])
    .execute();
  await db.schema.createIndex('manifests_subject').on('manifests').columns(['repository_id', 'subject_digest']).execute();

  await db.schema.createTable('manifest_references')
    .addColumn('manifest_id', 'bigint', (c) => c.notNull().references('manifests.id').onDelete('cascade'))
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('manifest_references_pk', ['manifest_id', 'digest'])
    .execute();
  await db.schema.createIndex('manifest_references_digest').on('manifest_references').column('digest').execute();

  await db.schema.createTable('tags')
    .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('name', lexical, (c) => c.notNull())
    .addColumn('manifest_id', 'bigint', (c) => c.notNull().references('manifests.id').onDelete('cascade'))
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('tags_pk', ['repository_id', 'name'])
    .execute();
  await db.schema.createIndex('tags_manifest').on('tags').column('manifest_id').execute();

  await db.schema.createTable('uploads')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('handle', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('uploads_updated').on('uploads').column('updated_at').execute();

  await db.schema.createTable('downloads_daily')
    .addColumn('manifest_id', 'bigint', (c) => c.notNull().references('manifests.id').onDelete('cascade'))
    .addColumn('day', 'integer', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('downloads_daily_pk', ['manifest_id', 'day'])
    .execute();
}
