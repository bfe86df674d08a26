import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.js';
import { idColumn } from './column-types.js';

/**
 * Lifecycle rules (src/lifecycle/): one row per scope, the organization's (or user's) own (`repository_id` null:
 * defaults for every package of the namespace) or one package's. Each rule set is a JSON document validated by
 * src/lifecycle before it is written:
 * - `immutable_tags`: `{"patterns":["v*"],"exclude":["latest","main-*"]}`: tags that, once pushed, cannot move to
 *   another digest or be deleted.
 * - `retention`: the retention rules (lifecycle/retention-policy.ts), null when none are set at this scope.
 * Rows go with their owner or package (cascade). The unique index on the scope lets a write replace the row.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await idColumn(db.schema.createTable('lifecycle_policies'), dialect)
    .addColumn('owner_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('repository_id', 'bigint', (c) => c.references('repositories.id').onDelete('cascade'))
    .addColumn('immutable_tags', 'text')
    .addColumn('retention', 'text')
    .addColumn('updated_by', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('lifecycle_policies_scope').on('lifecycle_policies').unique()
    .expression(sql`owner_id, coalesce(repository_id, 0)`).execute();
  await db.schema.createIndex('lifecycle_policies_repository').on('lifecycle_policies').column('repository_id').execute();
}
