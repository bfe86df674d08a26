import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.js';

/**
 * Webhook scopes (src/events/hook-service.ts `HookScope`): a hook belongs to the instance, an organization, a user or
 * one package. `scope` says which; `owner_id` stays the account (null for the instance) and `repository_id` names the
 * package of a package hook (the hook goes with it). Hooks made before this migration were an organization's, or the
 * instance's when they had no owner. `webhook_events.repository_id` is the package an event is about, so a package's
 * hooks find it; no foreign key: an event about a package outlives its purge until delivered.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('hooks').addColumn('scope', 'text', (c) => c.notNull().defaultTo('org')).execute();
  await db.schema.alterTable('hooks').addColumn('repository_id', 'bigint', (c) => c.references('repositories.id').onDelete('cascade')).execute();
  await sql`update hooks set scope = 'instance' where owner_id is null`.execute(db);
  await db.schema.createIndex('hooks_repository').on('hooks').column('repository_id').execute();
  await db.schema.alterTable('webhook_events').addColumn('repository_id', 'bigint').execute();
}
