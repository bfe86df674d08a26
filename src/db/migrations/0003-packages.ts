import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.js';

/**
 * The GitHub packages view: soft deletion of packages and versions (restorable for a while, then purged), the tags
 * a deleted version had (restored with it), and each version's description and licence from its labels.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  // A deleted package keeps its row (and id) under a tombstone name, so the name can be pushed again at once;
  // `deleted_name` holds the name to restore it under.
  await db.schema.alterTable('repositories').addColumn('deleted_at', 'bigint').execute();
  await db.schema.alterTable('repositories').addColumn('deleted_name', 'text').execute();
  await db.schema.createIndex('repositories_deleted_name').on('repositories').column('deleted_name').execute();

  await db.schema.alterTable('manifests').addColumn('deleted_at', 'bigint').execute();
  await db.schema.alterTable('manifests').addColumn('updated_at', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('manifests').addColumn('description', 'text').execute();
  await db.schema.alterTable('manifests').addColumn('license', 'text').execute();
  await sql`update manifests set updated_at = created_at`.execute(db);
  await db.schema.createIndex('manifests_deleted').on('manifests').column('deleted_at').execute();

  const lexical = dialect === 'postgres' ? sql`text collate "C"` : 'text';
  await db.schema.createTable('deleted_tags')
    .addColumn('manifest_id', 'bigint', (c) => c.notNull().references('manifests.id').onDelete('cascade'))
    .addColumn('name', lexical, (c) => c.notNull())
    .addColumn('deleted_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('deleted_tags_pk', ['manifest_id', 'name'])
    .execute();

  // Versions pushed before this migration get their description and licence from the stored annotations (config
  // labels would need the blobs: those versions show none until pushed again).
  const rows = await sql<{ id: number; annotations: string }>`
    select id, annotations from manifests where annotations like ${'%org.opencontainers.image.%'}`.execute(db);
  for (const row of rows.rows) {
    const annotations = JSON.parse(row.annotations) as Record<string, unknown>;
    const description = text(annotations['org.opencontainers.image.description'], 512);
    const license = text(annotations['org.opencontainers.image.licenses'], 256);
    if (description === null && license === null) continue;
    await sql`update manifests set description = ${description}, license = ${license} where id = ${row.id}`.execute(db);
  }
}

function text(value: unknown, max: number): string | null {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, max) : null;
}
