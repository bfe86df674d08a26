import type { Kysely } from 'kysely';
import type { Dialect } from '../connect.js';
import { idColumn } from './column-types.js';

/**
 * OIDC trust policies (trusted publishing, src/auth/trust-policy.ts): an organization trusts ID tokens from one
 * issuer for one audience whose claims meet `conditions`, and grants them `actions` on its `packages` for
 * `token_lifetime_ms`. `conditions` (`{"repository":"acme/*",…}`) and `packages` (`["api","web-*"]`) are JSON
 * validated by auth/ before they are written; `actions` a comma-separated subset of pull,push,delete. Rows go with
 * their organization (cascade); the issuer index serves the lookup done for every presented ID token.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await idColumn(db.schema.createTable('trust_policies'), dialect)
    .addColumn('org_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('conditions', 'text', (c) => c.notNull())
    .addColumn('packages', 'text', (c) => c.notNull())
    .addColumn('actions', 'text', (c) => c.notNull())
    .addColumn('token_lifetime_ms', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('trust_policies_issuer').on('trust_policies').column('issuer').execute();
  await db.schema.createIndex('trust_policies_org').on('trust_policies').column('org_id').execute();
}
