// Migrations and value types on PostgreSQL (a throwaway cluster, test/helpers/postgres.ts), next to SQLite.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { connect, type Connection } from '../../src/db/connect.js';
import { migrate } from '../../src/db/migrate.js';
import { createDatabase, postgresBinDir } from '../helpers/postgres.js';

// scripts/install-test-deps.sh installs PostgreSQL (CI always has it); a bare machine skips, saying why.
const noPostgres = postgresBinDir() === null && !process.env.BERTH_TEST_PG_ADMIN_URL
  ? 'PostgreSQL is not installed: run scripts/install-test-deps.sh' : false;

const opened: Connection[] = [];
after(async () => { await Promise.all(opened.map((c) => c.close())); });
function open(url: string): Connection {
  const conn = connect(url);
  opened.push(conn);
  return conn;
}

describe('migrations on PostgreSQL', { skip: noPostgres }, () => {
  it('two replicas migrating the same fresh database at once: both succeed, the schema is applied once', async () => {
    const url = await createDatabase();
    const [a, b] = [open(url), open(url)];
    const results = await Promise.all([migrate(a), migrate(b)]);
    // Kysely's migrator holds a PostgreSQL advisory lock while it migrates: one applies everything, the other
    // waits and then finds nothing left to do.
    const applied = results.flat().sort();
    assert.ok(applied.includes('0001-initial') && applied.includes('0003-packages'), JSON.stringify(results));
    assert.equal(new Set(applied).size, applied.length, `each migration applied once: ${JSON.stringify(results)}`);
    assert.ok(results.some((r) => r.length === 0), `one of them applied nothing: ${JSON.stringify(results)}`);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const rows = (await client.query<{ name: string }>('select name from berth_migrations order by name')).rows;
      assert.deepEqual(rows.map((r) => r.name), applied);
      const tables = (await client.query<{ n: string }>(
        "select count(*) as n from information_schema.tables where table_schema = 'public' and table_name = 'repositories'")).rows;
      assert.equal(Number(tables[0]!.n), 1);
    } finally {
      await client.end();
    }
    // And again later (a restart): nothing to do.
    assert.deepEqual(await migrate(open(url)), []);
  });

  it('uses the advisory lock (Kysely PostgresAdapter.acquireMigrationLock)', async () => {
    const url = await createDatabase();
    const seen: string[] = [];
    // A connection that logs every statement the migrator runs.
    const logged = new Kysely<unknown>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }),
      log: (e) => { if (e.level === 'query') seen.push(e.query.sql); },
    });
    try {
      await migrate({ db: logged as unknown as Connection['db'], dialect: 'postgres', changes: { version: () => null, close: async () => {} }, pool: () => null, close: () => logged.destroy() });
    } finally {
      await logged.destroy();
    }
    assert.ok(seen.some((q) => /pg_advisory(_xact)?_lock/.test(q)), `no advisory lock in:\n${seen.slice(0, 5).join('\n')}`);
  });
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`int8 values on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('ids, sizes, ms timestamps and count(*) come back as JS numbers; bytea as Buffer', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn);
      const db = conn.db;
      const now = Date.now();
      const big = 2 ** 40 + 3; // above int4, below 2^53
      const repo = await db.insertInto('repositories')
        .values({ name: 'acme/app', owner: 'acme', createdAt: now, updatedAt: now, visibility: 'private' })
        .returning(['id', 'createdAt'])
        .executeTakeFirstOrThrow();
      assert.equal(typeof repo.id, 'number');
      assert.equal(repo.createdAt, now);
      await db.insertInto('blobs').values({ digest: 'sha256:aa', size: big, createdAt: now }).execute();
      const blob = await db.selectFrom('blobs').select(['digest', 'size', 'createdAt']).executeTakeFirstOrThrow();
      assert.deepEqual(blob, { digest: 'sha256:aa', size: big, createdAt: now });
      const body = Buffer.from([0, 1, 2, 255]);
      const manifest = await db.insertInto('manifests').values({
        repositoryId: repo.id, digest: 'sha256:bb', mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: null,
        subjectDigest: null, configDigest: null, size: big, body, annotations: '{}', createdAt: now, updatedAt: now,
      }).returning('id').executeTakeFirstOrThrow();
      assert.equal(typeof manifest.id, 'number');
      const row = await db.selectFrom('manifests').select(['id', 'repositoryId', 'size', 'body', 'createdAt']).executeTakeFirstOrThrow();
      assert.deepEqual({ ...row, body: Buffer.from(row.body) }, { id: manifest.id, repositoryId: repo.id, size: big, body, createdAt: now });
      const { n } = await db.selectFrom('manifests').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(n, 1);
      const { total } = await db.selectFrom('blobs').select((eb) => eb.fn.sum<number>('size').as('total')).executeTakeFirstOrThrow();
      assert.equal(Number(total), big, 'sum() is numeric on PostgreSQL: callers convert');
      const raw = await sql<{ v: number }>`select cast(${big} as bigint) as v`.execute(db);
      assert.equal(raw.rows[0]!.v, big);
    });
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`0011-blob-quarantine on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('keeps existing blobs, served and due for a scrub by their creation time; the scrub order is indexed', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0010-upload-owner');
      await sql`insert into blobs (digest, size, created_at) values ('sha256:aa', 3, 1000), ('sha256:bb', 5, 2000)`.execute(conn.db);
      assert.deepEqual(await migrate(conn, '0011-blob-quarantine'), ['0011-blob-quarantine']);

      const rows = await conn.db.selectFrom('blobs').selectAll().orderBy('digest').execute();
      assert.deepEqual(rows, [
        { digest: 'sha256:aa', size: 3, createdAt: 1000, checkedAt: null, quarantinedAt: null, quarantineReason: null },
        { digest: 'sha256:bb', size: 5, createdAt: 2000, checkedAt: null, quarantinedAt: null, quarantineReason: null },
      ]);
      // New rows (an upload's insert names none of the new columns) start the same way.
      await conn.db.insertInto('blobs').values({ digest: 'sha256:cc', size: 1, createdAt: 3000 }).execute();
      await conn.db.updateTable('blobs').set({ checkedAt: 5000, quarantinedAt: 5000, quarantineReason: 'corrupt' }).where('digest', '=', 'sha256:aa').execute();
      const order = await conn.db.selectFrom('blobs').select('digest')
        .orderBy(sql`coalesce(${sql.ref('checkedAt')}, ${sql.ref('createdAt')})`).orderBy('digest').execute();
      assert.deepEqual(order.map((r) => r.digest), ['sha256:bb', 'sha256:cc', 'sha256:aa']);
      const index = dialect === 'postgres'
        ? await sql<{ def: string }>`select indexdef as def from pg_indexes where indexname = 'blobs_scrub_order'`.execute(conn.db)
        : await sql<{ def: string }>`select sql as def from sqlite_master where name = 'blobs_scrub_order'`.execute(conn.db);
      assert.match(index.rows[0]?.def ?? '', /coalesce\(checked_at, created_at\), digest/i);
    });
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`0013-lifecycle on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('one row per scope (a namespace, a package), gone with its package or owner', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0012-listing-indexes');
      assert.deepEqual(await migrate(conn, '0013-lifecycle'), ['0013-lifecycle']);
      const org = await conn.db.insertInto('accounts').values({ login: 'acme', lowerLogin: 'acme', type: 'org', displayName: null, email: null, passwordHash: null, disabledAt: null, createdAt: 1, updatedAt: 1 })
        .returning('id').executeTakeFirstOrThrow();
      const repo = await conn.db.insertInto('repositories').values({ name: 'acme/api', owner: 'acme', ownerId: org.id, sourceUrl: null, createdBy: null, createdAt: 1, updatedAt: 1 })
        .returning('id').executeTakeFirstOrThrow();
      const row = (repositoryId: number | null) => ({ ownerId: org.id, repositoryId, immutableTags: '{"patterns":["v*"],"exclude":[]}', retention: null, updatedBy: null, updatedAt: 1 });
      await conn.db.insertInto('lifecyclePolicies').values([row(null), row(repo.id)]).execute();
      // The namespace's own row is unique too, though its repository_id is null.
      await assert.rejects(conn.db.insertInto('lifecyclePolicies').values(row(null)).execute());
      await assert.rejects(conn.db.insertInto('lifecyclePolicies').values(row(repo.id)).execute());
      await conn.db.deleteFrom('repositories').where('id', '=', repo.id).execute();
      assert.equal((await conn.db.selectFrom('lifecyclePolicies').select('id').execute()).length, 1);
      await conn.db.deleteFrom('accounts').where('id', '=', org.id).execute();
      assert.equal((await conn.db.selectFrom('lifecyclePolicies').select('id').execute()).length, 0);
    });
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`0017-mirror on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('adds mirror_tags: one row per repository and tag, upserted, gone with its repository', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0016-audit-log');
      await sql`insert into repositories (name, owner, created_at, updated_at) values ('hub/library/alpine', 'hub', 1, 1)`.execute(conn.db);
      assert.deepEqual(await migrate(conn, '0017-mirror'), ['0017-mirror']);
      const repo = await conn.db.selectFrom('repositories').select('id').executeTakeFirstOrThrow();
      const touch = (at: number) => conn.db.insertInto('mirrorTags').values({ repositoryId: repo.id, name: '3.20', checkedAt: at })
        .onConflict((oc) => oc.columns(['repositoryId', 'name']).doUpdateSet({ checkedAt: at })).execute();
      await touch(1000);
      await touch(2000);
      assert.deepEqual(await conn.db.selectFrom('mirrorTags').selectAll().execute(), [{ repositoryId: repo.id, name: '3.20', checkedAt: 2000 }]);
      await conn.db.deleteFrom('repositories').execute();
      assert.deepEqual(await conn.db.selectFrom('mirrorTags').selectAll().execute(), []);
    });
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`0014-webhooks on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('adds hooks, the webhook_events outbox and hook_deliveries; deliveries go with their hook, hooks with their owner', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0013-lifecycle');
      const org = await conn.db.insertInto('accounts').values({ login: 'acme', lowerLogin: 'acme', type: 'org', displayName: null, email: null, passwordHash: null, disabledAt: null, createdAt: 1, updatedAt: 1 })
        .returning('id').executeTakeFirstOrThrow();
      assert.deepEqual(await migrate(conn, '0014-webhooks'), ['0014-webhooks']);
      const hook = await conn.db.insertInto('hooks').values({ ownerId: org.id, url: 'http://127.0.0.1:9/', secret: 's', events: '["*"]', disabledReason: null, createdAt: 1, updatedAt: 1 })
        .returning('id').executeTakeFirstOrThrow();
      const event = await conn.db.insertInto('webhookEvents').values({ ownerId: org.id, event: 'package', action: 'published', payload: '{}', createdAt: 1 })
        .returning('id').executeTakeFirstOrThrow();
      await conn.db.insertInto('hookDeliveries').values({
        hookId: hook.id, eventId: event.id, guid: 'g-1', event: 'package', action: 'published', payload: '{}', nextAttemptAt: 1,
        statusCode: null, durationMs: null, response: null, createdAt: 1, deliveredAt: null,
      }).execute();
      const d = await conn.db.selectFrom('hookDeliveries').selectAll().executeTakeFirstOrThrow();
      assert.equal(d.status, 'pending');
      assert.equal(d.attempts, 0);
      assert.equal(typeof d.hookId, 'number');
      await conn.db.deleteFrom('hooks').execute();
      assert.deepEqual(await conn.db.selectFrom('hookDeliveries').selectAll().execute(), []);
      await conn.db.deleteFrom('accounts').execute();
      assert.deepEqual(await conn.db.selectFrom('webhookEvents').selectAll().execute(), []);
    });
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`0015-trust-policies on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('adds trust_policies: rows per organization, found by issuer, gone with their organization', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0014-webhooks');
      assert.deepEqual(await migrate(conn, '0015-trust-policies'), ['0015-trust-policies']);
      const org = await conn.db.insertInto('accounts').values({ login: 'acme', lowerLogin: 'acme', type: 'org', displayName: null, email: null, passwordHash: null, disabledAt: null, createdAt: 1, updatedAt: 1 })
        .returning('id').executeTakeFirstOrThrow();
      const row = {
        orgId: org.id, issuer: 'https://token.actions.githubusercontent.com', audience: 'registry.example.com', conditions: '{"repository":"acme/*"}',
        packages: '["api"]', actions: 'pull,push', tokenLifetimeMs: 900_000, createdBy: null, createdAt: 1,
      };
      await conn.db.insertInto('trustPolicies').values([row, { ...row, audience: 'other' }]).execute();
      const found = await conn.db.selectFrom('trustPolicies').select(['orgId', 'tokenLifetimeMs']).where('issuer', '=', row.issuer).execute();
      assert.deepEqual(found, [{ orgId: org.id, tokenLifetimeMs: 900_000 }, { orgId: org.id, tokenLifetimeMs: 900_000 }]);
      await assert.rejects(conn.db.insertInto('trustPolicies').values({ ...row, orgId: org.id + 1000 }).execute());
      await conn.db.deleteFrom('accounts').where('id', '=', org.id).execute();
      assert.deepEqual(await conn.db.selectFrom('trustPolicies').select('id').execute(), []);
      assert.deepEqual(await migrate(conn, '0016-audit-log'), ['0016-audit-log']);
    });
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`0016-audit-log on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('adds audit_log: records outlive the accounts they name, read newest first per organization, pruned by time', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0015-trust-policies');
      const org = await conn.db.insertInto('accounts').values({ login: 'acme', lowerLogin: 'acme', type: 'org', displayName: null, email: null, passwordHash: null, disabledAt: null, createdAt: 1, updatedAt: 1 })
        .returning('id').executeTakeFirstOrThrow();
      assert.deepEqual(await migrate(conn, '0016-audit-log'), ['0016-audit-log']);
      const row = (action: string, createdAt: number) => ({
        action, orgId: org.id, orgLogin: 'acme', actorId: 7, actorLogin: 'alice', tokenId: 2 ** 40, target: 'acme/api', repository: 'acme/api',
        before: null, after: '{"visibility":"public"}', address: '127.0.0.1', userAgent: 'skopeo/1.13', createdAt,
      });
      await conn.db.insertInto('auditLog').values([row('package.push', 1000), row('package.delete', 2000), { ...row('user.login', 3000), orgId: null, orgLogin: null }]).execute();
      await conn.db.deleteFrom('accounts').execute();
      const newest = await conn.db.selectFrom('auditLog').select(['action', 'tokenId', 'createdAt']).where('orgId', '=', org.id).orderBy('id', 'desc').execute();
      assert.deepEqual(newest, [{ action: 'package.delete', tokenId: 2 ** 40, createdAt: 2000 }, { action: 'package.push', tokenId: 2 ** 40, createdAt: 1000 }]);
      await conn.db.deleteFrom('auditLog').where('createdAt', '<', 2500).execute();
      assert.deepEqual((await conn.db.selectFrom('auditLog').select('action').execute()).map((r) => r.action), ['user.login']);
      assert.deepEqual(await migrate(conn, '0017-mirror'), ['0017-mirror']);
    });
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`0018-bot-accounts on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('adds bots: one name per organization (case-insensitive), unique token hashes, gone with their organization', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0017-mirror');
      const org = await conn.db.insertInto('accounts').values({ login: 'acme', lowerLogin: 'acme', type: 'org', displayName: null, email: null, passwordHash: null, disabledAt: null, createdAt: 1, updatedAt: 1 })
        .returning('id').executeTakeFirstOrThrow();
      assert.deepEqual(await migrate(conn, '0018-bot-accounts'), ['0018-bot-accounts']);
      const row = {
        orgId: org.id, name: 'Deployer', lowerName: 'deployer', packages: '["api","web-*"]', actions: 'pull', tokenHash: 'h1', hint: 'berth_bot_abcd…',
        expiresAt: null, lastUsedAt: null, createdBy: null, createdAt: 1, rotatedAt: null,
      };
      await conn.db.insertInto('bots').values(row).execute();
      const bot = await conn.db.selectFrom('bots').selectAll().executeTakeFirstOrThrow();
      assert.equal(bot.secretVersion, 1);
      assert.equal(bot.description, '');
      assert.equal(typeof bot.orgId, 'number');
      await assert.rejects(conn.db.insertInto('bots').values({ ...row, name: 'deployer', tokenHash: 'h2' }).execute());
      await assert.rejects(conn.db.insertInto('bots').values({ ...row, name: 'other', lowerName: 'other' }).execute());
      await assert.rejects(conn.db.insertInto('bots').values({ ...row, orgId: org.id + 1000, tokenHash: 'h3' }).execute());
      await conn.db.deleteFrom('accounts').where('id', '=', org.id).execute();
      assert.deepEqual(await conn.db.selectFrom('bots').select('id').execute(), []);
    });
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`0022-hook-scopes on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('gives hooks a scope (the instance\'s for hooks without owner, else the organization\'s) and a package, gone with it', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0018-bot-accounts');
      const org = await conn.db.insertInto('accounts').values({ login: 'acme', lowerLogin: 'acme', type: 'org', displayName: null, email: null, passwordHash: null, disabledAt: null, createdAt: 1, updatedAt: 1 })
        .returning('id').executeTakeFirstOrThrow();
      const hook = (ownerId: number | null, url: string) => sql`insert into hooks (owner_id, url, events, created_at, updated_at) values (${ownerId}, ${url}, '["*"]', 1, 1)`.execute(conn.db);
      await hook(org.id, 'https://org.example/');
      await hook(null, 'https://instance.example/');
      assert.equal((await migrate(conn, '0022-hook-scopes')).at(-1), '0022-hook-scopes');
      const rows = await conn.db.selectFrom('hooks').select(['url', 'scope', 'ownerId', 'repositoryId']).orderBy('url').execute();
      assert.deepEqual(rows, [
        { url: 'https://instance.example/', scope: 'instance', ownerId: null, repositoryId: null },
        { url: 'https://org.example/', scope: 'org', ownerId: org.id, repositoryId: null },
      ]);
      const repo = await conn.db.insertInto('repositories').values({ name: 'acme/api', owner: 'acme', ownerId: org.id, sourceUrl: null, createdBy: null, createdAt: 1, updatedAt: 1 })
        .returning('id').executeTakeFirstOrThrow();
      await conn.db.insertInto('hooks').values({
        scope: 'package', ownerId: org.id, repositoryId: repo.id, url: 'https://pkg.example/', secret: null, events: '["*"]', disabledReason: null, createdAt: 1, updatedAt: 1,
      }).execute();
      await conn.db.insertInto('webhookEvents').values({ ownerId: org.id, repositoryId: repo.id, event: 'package', action: 'published', payload: '{}', createdAt: 1 }).execute();
      assert.equal((await conn.db.selectFrom('webhookEvents').select('repositoryId').executeTakeFirstOrThrow()).repositoryId, repo.id);
      await conn.db.deleteFrom('repositories').execute();
      assert.deepEqual((await conn.db.selectFrom('hooks').select('url').orderBy('url').execute()).map((h) => h.url), ['https://instance.example/', 'https://org.example/']);
    });
  });

  describe(`0023-sso-identities on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('links one (issuer, subject) to one user, gone with the user', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0018-bot-accounts');
      const user = await conn.db.insertInto('accounts').values({ login: 'frank', lowerLogin: 'frank', type: 'user', displayName: null, email: null, passwordHash: null, disabledAt: null, createdAt: 1, updatedAt: 1 })
        .returning('id').executeTakeFirstOrThrow();
      assert.equal((await migrate(conn, '0023-sso-identities')).at(-1), '0023-sso-identities');
      const row = { issuer: 'https://id.example.com', subject: 'abc', userId: user.id, createdAt: 1, lastLoginAt: 2 };
      await conn.db.insertInto('ssoIdentities').values(row).execute();
      assert.deepEqual(await conn.db.selectFrom('ssoIdentities').selectAll().execute(), [row]);
      await assert.rejects(conn.db.insertInto('ssoIdentities').values(row).execute(), 'one user per subject of an issuer');
      await conn.db.insertInto('ssoIdentities').values({ ...row, issuer: 'https://other.example.com' }).execute();
      await assert.rejects(conn.db.insertInto('ssoIdentities').values({ ...row, subject: 'x', userId: user.id + 1000 }).execute());
      await conn.db.deleteFrom('accounts').where('id', '=', user.id).execute();
      assert.deepEqual(await conn.db.selectFrom('ssoIdentities').select('subject').execute(), []);
    });
  });

  describe(`0020-package-readme on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('adds an optional README to packages, kept as written (a long Markdown text included)', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0019-storage-quotas');
      const pkg = await conn.db.insertInto('repositories').values({ name: 'acme/api', owner: 'acme', ownerId: null, sourceUrl: null, createdBy: null, createdAt: 1, updatedAt: 1 })
        .returning('id').executeTakeFirstOrThrow();
      assert.deepEqual(await migrate(conn, '0020-package-readme'), ['0020-package-readme']);
      assert.equal((await conn.db.selectFrom('repositories').select('readme').where('id', '=', pkg.id).executeTakeFirstOrThrow()).readme, null);
      const readme = `# API\n\n${'Some *text* with ünïcode. '.repeat(800)}`;
      await conn.db.updateTable('repositories').set({ readme }).where('id', '=', pkg.id).execute();
      assert.equal((await conn.db.selectFrom('repositories').select('readme').where('id', '=', pkg.id).executeTakeFirstOrThrow()).readme, readme);
    });
  });

  describe(`0019-storage-quotas on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('computes the storage figures of what was pushed before it: distinct blobs plus live manifests, deleted ones left out', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0018-bot-accounts');
      const db = conn.db;
      await db.insertInto('blobs').values([{ digest: 'x', size: 100, createdAt: 1 }, { digest: 'y', size: 50, createdAt: 1 }, { digest: 'z', size: 7, createdAt: 1 }]).execute();
      const repo = async (name: string, deletedAt: number | null) => (await db.insertInto('repositories')
        .values({ name, owner: 'acme', ownerId: null, createdBy: null, sourceUrl: null, createdAt: 1, updatedAt: 1, deletedAt }).returning('id').executeTakeFirstOrThrow()).id;
      const manifest = async (repositoryId: number, digest: string, size: number, refs: string[], deletedAt: number | null = null) => {
        const { id } = await db.insertInto('manifests').values({
          repositoryId, digest, mediaType: 'm', artifactType: null, subjectDigest: null, configDigest: null, size, body: Buffer.alloc(size), annotations: '{}',
          createdAt: 1, updatedAt: 1, deletedAt,
        }).returning('id').executeTakeFirstOrThrow();
        if (refs.length > 0) await db.insertInto('manifestReferences').values(refs.map((d) => ({ manifestId: id, digest: d, kind: 'blob' as const }))).execute();
      };
      const [a, b, c] = [await repo('acme/a', null), await repo('acme/b~deleted', 5), await repo('acme/c', null)];
      await manifest(a, 'm1', 10, ['x', 'y']);
      await manifest(a, 'm2', 20, ['x', 'z']);
      await manifest(a, 'm3', 40, ['y'], 9);
      await manifest(b, 'm4', 5, ['x']);
      await manifest(c, 'm5', 3, ['y']);
      assert.deepEqual(await migrate(conn, '0019-storage-quotas'), ['0019-storage-quotas']);
      const packages = await db.selectFrom('packageStorage').select(['repositoryId', 'bytes', 'quotaBytes']).orderBy('repositoryId').execute();
      assert.deepEqual(packages, [{ repositoryId: a, bytes: 157 + 30, quotaBytes: null }, { repositoryId: b, bytes: 105, quotaBytes: null }, { repositoryId: c, bytes: 53, quotaBytes: null }]);
      assert.deepEqual(await db.selectFrom('ownerStorage').selectAll().execute(), [{ owner: 'acme', bytes: 157 + 33, quotaBytes: null }]);
      const refs = await db.selectFrom('packageBlobRefs').select(['digest', 'refs']).where('repositoryId', '=', a).orderBy('digest').execute();
      assert.deepEqual(refs, [{ digest: 'x', refs: 2 }, { digest: 'y', refs: 1 }, { digest: 'z', refs: 1 }]);
      await db.deleteFrom('repositories').where('id', '=', b).execute();
      assert.equal((await db.selectFrom('packageBlobRefs').select('digest').where('repositoryId', '=', b).execute()).length, 0, 'gone with their package');
    });
  });

  describe(`0025-package-version-counts on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('counts the live versions of every package, and gives a package without a figure row one', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0024-change-notifications');
      const db = conn.db;
      const repo = async (name: string) => (await db.insertInto('repositories')
        .values({ name, owner: 'acme', ownerId: null, createdBy: null, sourceUrl: null, createdAt: 1, updatedAt: 1, deletedAt: null }).returning('id').executeTakeFirstOrThrow()).id;
      const manifest = (repositoryId: number, digest: string, deletedAt: number | null) => db.insertInto('manifests').values({
        repositoryId, digest, mediaType: 'm', artifactType: null, subjectDigest: null, configDigest: null, size: 1, body: Buffer.alloc(1), annotations: '{}',
        createdAt: 1, updatedAt: 1, deletedAt,
      }).execute();
      const [a, b, empty] = [await repo('acme/a'), await repo('acme/b'), await repo('acme/empty')];
      await manifest(a, 'm1', null);
      await manifest(a, 'm2', null);
      await manifest(a, 'm3', 9);
      await manifest(b, 'm4', null);
      // Figures as pushes kept them before 0025 (no owner column until 0027); acme/b's row is missing.
      await db.insertInto('packageStorage').values([{ repositoryId: a, bytes: 2, quotaBytes: 50 }, { repositoryId: empty, bytes: 0, quotaBytes: null }] as never).execute();
      assert.deepEqual(await migrate(conn, '0025-package-version-counts'), ['0025-package-version-counts']);
      const rows = await db.selectFrom('packageStorage').select(['repositoryId', 'bytes', 'quotaBytes', 'versionCount']).orderBy('repositoryId').execute();
      assert.deepEqual(rows, [
        { repositoryId: a, bytes: 2, quotaBytes: 50, versionCount: 2 },
        { repositoryId: b, bytes: 0, quotaBytes: null, versionCount: 1 },
        { repositoryId: empty, bytes: 0, quotaBytes: null, versionCount: 0 },
      ]);
    });
  });

  describe(`0027-usage-figures on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('adds up each package\'s and owner\'s downloads per day, counts live packages and files every package under its owner', async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0026-permission-change-notifications');
      const db = conn.db;
      const repo = async (name: string, deletedAt: number | null) => (await db.insertInto('repositories')
        .values({ name, owner: name.split('/')[0]!, ownerId: null, createdBy: null, sourceUrl: null, createdAt: 1, updatedAt: 1, deletedAt }).returning('id').executeTakeFirstOrThrow()).id;
      const manifest = async (repositoryId: number, digest: string, downloads: [day: number, count: number][]) => {
        const { id } = await db.insertInto('manifests').values({
          repositoryId, digest, mediaType: 'm', artifactType: null, subjectDigest: null, configDigest: null, size: 1, body: Buffer.alloc(1), annotations: '{}',
          createdAt: 1, updatedAt: 1, deletedAt: null,
        }).returning('id').executeTakeFirstOrThrow();
        for (const [day, count] of downloads) await db.insertInto('downloadsDaily').values({ manifestId: id, day, count }).execute();
      };
      const [a, b, gone, other] = [await repo('acme/a', null), await repo('acme/b', null), await repo('acme/gone~deleted-3', 7), await repo('globex/x', null)];
      await manifest(a, 'm1', [[100, 2], [101, 3]]);
      await manifest(a, 'm2', [[101, 4]]);
      await manifest(b, 'm3', []);
      await manifest(gone, 'm4', [[100, 1]]);
      await manifest(other, 'm5', [[100, 50]]);
      // A row from before 0027 (acme/b and the others have none yet).
      await db.insertInto('packageStorage').values({ repositoryId: a, bytes: 9, quotaBytes: 50, versionCount: 2 } as never).execute();
      assert.deepEqual(await migrate(conn, '0027-usage-figures'), ['0027-usage-figures']);
      const packages = await db.selectFrom('packageStorage').select(['repositoryId', 'owner', 'bytes', 'quotaBytes', 'downloads']).orderBy('repositoryId').execute();
      assert.deepEqual(packages.map((r) => ({ ...r, bytes: Number(r.bytes), downloads: Number(r.downloads) })), [
        { repositoryId: a, owner: 'acme', bytes: 9, quotaBytes: 50, downloads: 9 },
        { repositoryId: b, owner: 'acme', bytes: 0, quotaBytes: null, downloads: 0 },
        { repositoryId: gone, owner: 'acme', bytes: 0, quotaBytes: null, downloads: 1 },
        { repositoryId: other, owner: 'globex', bytes: 0, quotaBytes: null, downloads: 50 },
      ]);
      const daily = await db.selectFrom('packageDownloadsDaily').select(['repositoryId', 'day', 'count']).orderBy('repositoryId').orderBy('day').execute();
      assert.deepEqual(daily.map((r) => [r.repositoryId, r.day, Number(r.count)]), [[a, 100, 2], [a, 101, 7], [gone, 100, 1], [other, 100, 50]]);
      const owners = await db.selectFrom('ownerDownloadsDaily').select(['owner', 'day', 'count']).orderBy('owner').orderBy('day').execute();
      assert.deepEqual(owners.map((r) => [r.owner, r.day, Number(r.count)]), [['acme', 100, 3], ['acme', 101, 7], ['globex', 100, 50]]);
      // Live packages, and their live versions as the kept per-package counts say (acme/b's row was missing: 0).
      const counts = await db.selectFrom('ownerStorage').select(['owner', 'packageCount', 'versionCount']).orderBy('owner').execute();
      assert.deepEqual(counts.map((r) => [r.owner, Number(r.packageCount), Number(r.versionCount)]), [['acme', 2, 2], ['globex', 1, 0]]);
    });
  });

  describe(`0029-blob-totals on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it("counts the blobs there are, then keeps the figures as blobs are inserted, upserted and deleted", async () => {
      const conn = open(dialect === 'postgres' ? await createDatabase() : ':memory:');
      await migrate(conn, '0028-mirror-upstreams');
      const db = conn.db;
      const digest = (first: string, n: number) => `sha256:${first}${String(n).padStart(63, '0')}`;
      const insert = (d: string, size: number) => db.insertInto('blobs').values({ digest: d, size, createdAt: 1 })
        // As an upload's commit writes it: an existing row is updated, not counted twice.
        .onConflict((oc) => oc.column('digest').doUpdateSet({ size: (eb) => eb.ref('excluded.size') })).execute();
      await insert(digest('a', 1), 10);
      await insert(digest('a', 2), 20);
      await insert(digest('f', 1), 5);
      await insert('sha512:' + '0'.repeat(128), 7);
      assert.deepEqual(await migrate(conn, '0029-blob-totals'), ['0029-blob-totals']);
      const totals = async () => {
        const shards = await db.selectFrom('blobTotals').select(['shard', 'blobCount', 'blobBytes']).orderBy('shard').execute();
        assert.equal(shards.length, 16);
        const sum = await db.selectFrom('blobs').select([(eb) => eb.fn.countAll().as('n'), (eb) => eb.fn.sum('size').as('bytes')]).executeTakeFirstOrThrow();
        const kept = { count: shards.reduce((s, r) => s + Number(r.blobCount), 0), bytes: shards.reduce((s, r) => s + Number(r.blobBytes), 0) };
        assert.deepEqual(kept, { count: Number(sum.n), bytes: Number(sum.bytes ?? 0) }, 'the kept figures are the sum over blobs');
        return Object.fromEntries(shards.filter((r) => Number(r.blobCount) !== 0).map((r) => [r.shard, [Number(r.blobCount), Number(r.blobBytes)]]));
      };
      assert.deepEqual(await totals(), { 0: [1, 7], a: [2, 30], f: [1, 5] });
      await insert(digest('a', 2), 20);
      await insert(digest('3', 1), 100);
      assert.deepEqual(await totals(), { 0: [1, 7], 3: [1, 100], a: [2, 30], f: [1, 5] });
      await db.deleteFrom('blobs').where('digest', 'in', [digest('a', 1), digest('f', 1)]).execute();
      await db.deleteFrom('blobs').where('digest', '=', digest('f', 9)).execute();
      assert.deepEqual(await totals(), { 0: [1, 7], 3: [1, 100], a: [1, 20] });
      // A transaction rolled back takes its figures with it.
      await db.transaction().execute(async (tx) => {
        await tx.insertInto('blobs').values({ digest: digest('b', 1), size: 1, createdAt: 1 }).execute();
        throw new Error('rolled back');
      }).catch(() => undefined);
      assert.deepEqual(await totals(), { 0: [1, 7], 3: [1, 100], a: [1, 20] });
    });
  });
}
