import type { Kysely } from 'kysely';
import type { Dialect } from '../connect.js';
import { idColumn } from './column-types.js';

/**
 * Bot accounts (src/accounts/bot-service.ts): an organization's machine identity with one long-lived secret
 * (`berth_bot_…`, only its sha256 stored, like access tokens), granted `actions` on the organization's `packages`
 * (JSON list of names or globs, validated by auth/ before they are written; `actions` a comma-separated subset of
 * pull,push,delete). `secret_version` grows on every rotation: registry tokens issued from an older secret carry the
 * old version and die with it. A bot's name is unique in its organization (case-insensitively, `lower_name`); rows go
 * with their organization (cascade).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await idColumn(db.schema.createTable('bots'), dialect)
    .addColumn('org_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('lower_name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('packages', 'text', (c) => c.notNull())
    .addColumn('actions', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('hint', 'text', (c) => c.notNull())
    .addColumn('secret_version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('expires_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .addColumn('created_by', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('rotated_at', 'bigint')
    .execute();
  await db.schema.createIndex('bots_org_name').on('bots').columns(['org_id', 'lower_name']).unique().execute();
}
