import type { Kysely } from 'kysely';
import type { Dialect } from '../connect.js';
import { idColumn } from './column-types.js';

/**
 * The audit log (src/audit/): append-only records of security-relevant actions, each written in the transaction of
 * the change it records. No foreign keys on purpose: a record outlives the account, organization or package it
 * names (logins and names are copied into it). `org_id` is the namespace the action belongs to (null for
 * instance-wide ones such as a sign-in); `actor_id`/`actor_login` the user, `token_id` the token that proved it
 * (never the secret); `before`/`after` JSON where a value changed. Read newest first per organization by id
 * (cursor pagination), pruned by time (config audit.retention).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await idColumn(db.schema.createTable('audit_log'), dialect)
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('org_id', 'bigint')
    .addColumn('org_login', 'text')
    .addColumn('actor_id', 'bigint')
    .addColumn('actor_login', 'text')
    .addColumn('token_id', 'bigint')
    .addColumn('target', 'text')
    .addColumn('repository', 'text')
    .addColumn('before', 'text')
    .addColumn('after', 'text')
    .addColumn('address', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_log_org').on('audit_log').columns(['org_id', 'id']).execute();
  await db.schema.createIndex('audit_log_created').on('audit_log').column('created_at').execute();
}
