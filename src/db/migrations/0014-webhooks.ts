import type { Kysely } from 'kysely';
import type { Dialect } from '../connect.js';
import { idColumn } from './column-types.js';

/**
 * Webhooks (src/events/): hooks, the outbox of events and the deliveries of each event to each hook.
 * - `hooks`: a namespace's (`owner_id`) or, with `owner_id` null, the instance's. `secret` is the HMAC key, usable
 *   (sealed with auth.keyEncryptionKey when one is configured, else stored as given): it must sign every delivery.
 *   `disabled_reason` says why Berth turned the hook off after repeated failures.
 * - `webhook_events`: written in the same transaction as the change that caused it (the outbox); `fanned_out` is
 *   set once a delivery row exists for every hook that wanted it.
 * - `hook_deliveries`: one per (event, hook); `guid` is the `X-GitHub-Delivery` id, the same on every attempt.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await idColumn(db.schema.createTable('hooks'), dialect)
    .addColumn('owner_id', 'bigint', (c) => c.references('accounts.id').onDelete('cascade'))
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull().defaultTo('json'))
    .addColumn('secret', 'text')
    .addColumn('events', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('disabled_reason', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('hooks_owner').on('hooks').column('owner_id').execute();
  await idColumn(db.schema.createTable('webhook_events'), dialect)
    .addColumn('owner_id', 'bigint', (c) => c.references('accounts.id').onDelete('cascade'))
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('fanned_out', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('webhook_events_pending').on('webhook_events').columns(['fanned_out', 'id']).execute();
  await idColumn(db.schema.createTable('hook_deliveries'), dialect)
    .addColumn('hook_id', 'bigint', (c) => c.notNull().references('hooks.id').onDelete('cascade'))
    .addColumn('event_id', 'bigint', (c) => c.references('webhook_events.id').onDelete('set null'))
    .addColumn('guid', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('action', 'text')
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('duration_ms', 'integer')
    .addColumn('response', 'text')
    .addColumn('redelivery', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('delivered_at', 'bigint')
    .execute();
  await db.schema.createIndex('hook_deliveries_queue').on('hook_deliveries').columns(['hook_id', 'status', 'id']).execute();
}
