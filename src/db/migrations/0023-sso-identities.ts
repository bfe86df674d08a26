import type { Kysely } from 'kysely';
import type { Dialect } from '../connect.js';

/**
 * Single sign-on (src/accounts/sso-accounts.ts): which Berth user an identity provider's subject is. An OIDC subject
 * is `sub` within its `iss` (OpenID Connect Core §2: the pair is the stable identifier; `preferred_username` and
 * `email` may change or be reused), so the first sign-in records the pair and later ones find the user by it, not by
 * a name. Rows go with their user (cascade).
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.createTable('sso_identities')
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_login_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('sso_identities_pk', ['issuer', 'subject'])
    .execute();
  await db.schema.createIndex('sso_identities_user').on('sso_identities').column('user_id').execute();
}
