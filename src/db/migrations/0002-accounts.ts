import type { Kysely } from 'kysely';
import type { Dialect } from '../connect.js';
import { idColumn } from './column-types.js';

/** Users, organizations, teams, tokens, package settings and permissions, signing keys. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  // Users and organizations share one namespace: an OWNER is exactly one account.
  await idColumn(db.schema.createTable('accounts'), dialect)
    .addColumn('login', 'text', (c) => c.notNull())
    .addColumn('lower_login', 'text', (c) => c.notNull().unique())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text')
    .addColumn('email', 'text')
    .addColumn('password_hash', 'text')
    .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('disabled_at', 'bigint')
    // Organization policy: may members create packages, and with which visibilities.
    .addColumn('members_can_create', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('allowed_visibilities', 'text', (c) => c.notNull().defaultTo('private,internal,public'))
    .addColumn('default_visibility', 'text', (c) => c.notNull().defaultTo('private'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema.createTable('org_members')
    .addColumn('org_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('org_members_pk', ['org_id', 'user_id'])
    .execute();
  await db.schema.createIndex('org_members_user').on('org_members').column('user_id').execute();

  await idColumn(db.schema.createTable('teams'), dialect)
    .addColumn('org_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('lower_name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('teams_org_name', ['org_id', 'lower_name'])
    .execute();

  await db.schema.createTable('team_members')
    .addColumn('team_id', 'bigint', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('team_members_pk', ['team_id', 'user_id'])
    .execute();
  await db.schema.createIndex('team_members_user').on('team_members').column('user_id').execute();

  await idColumn(db.schema.createTable('access_tokens'), dialect)
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('hint', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('repository_limit', 'text')
    .addColumn('expires_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('access_tokens_user').on('access_tokens').column('user_id').execute();

  // Existing repositories (pushed before accounts existed) become private packages of no one until claimed.
  await db.schema.alterTable('repositories').addColumn('owner_id', 'bigint').execute();
  await db.schema.alterTable('repositories').addColumn('visibility', 'text', (c) => c.notNull().defaultTo('private')).execute();
  await db.schema.alterTable('repositories').addColumn('source_url', 'text').execute();
  await db.schema.alterTable('repositories').addColumn('created_by', 'bigint').execute();

  await db.schema.createTable('package_permissions')
    .addColumn('repository_id', 'bigint', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('principal_type', 'text', (c) => c.notNull())
    .addColumn('principal_id', 'bigint', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('package_permissions_pk', ['repository_id', 'principal_type', 'principal_id'])
    .execute();

  // Registry-token signing keys live in the database so every replica signs and verifies with the same keys.
  await db.schema.createTable('signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('private_jwk', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('retired_at', 'bigint')
    .execute();
}
