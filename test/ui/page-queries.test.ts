// The package page's version list at scale (10,000 versions, deep pages): the query VersionService.list runs is
// answered from the `manifests_live_versions` index (migration 0007) in order, without sorting the package's
// versions, on SQLite and PostgreSQL. Query plans are checked, not timings (those are bench/ui-pages.ts's job).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CompiledQuery, createQueryId, sql, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import { connect, type Connection } from '../../src/db/connect.js';
import { migrate } from '../../src/db/migrate.js';
import type { PackageInfo } from '../../src/packages/package-service.js';
import { VersionService } from '../../src/packages/version-service.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { systemClock } from '../../src/util/clock.js';
import { createDatabase, postgresBinDir } from '../helpers/postgres.js';

const noPostgres = postgresBinDir() === null && !process.env.BERTH_TEST_PG_ADMIN_URL
  ? 'PostgreSQL is not installed: run scripts/install-test-deps.sh' : false;
const VERSIONS = 2_000;

/** Records every query a Kysely instance runs (after the other plugins, so with the database's column names). */
class QueryRecorder implements KyselyPlugin {
  readonly nodes: RootOperationNode[] = [];
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.nodes.push(args.node);
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

const opened: Connection[] = [];
after(async () => { await Promise.all(opened.map((c) => c.close())); });

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`the version list query on ${dialect}`, { skip: dialect === 'postgres' && noPostgres }, () => {
    it('reads pages of a package\'s versions in order from manifests_live_versions (migration 0007)', async () => {
      const conn = connect(dialect === 'postgres' ? await createDatabase() : ':memory:');
      opened.push(conn);
      await migrate(conn);
      const { db } = conn;
      const now = Date.now();
      const repo = await db.insertInto('repositories').values({ name: 'acme/big', owner: 'acme', createdAt: now, updatedAt: now, visibility: 'private' })
        .returning('id').executeTakeFirstOrThrow();
      const other = await db.insertInto('repositories').values({ name: 'acme/other', owner: 'acme', createdAt: now, updatedAt: now, visibility: 'private' })
        .returning('id').executeTakeFirstOrThrow();
      const rows = Array.from({ length: VERSIONS }, (_, i) => ({
        repositoryId: i % 4 === 0 ? other.id : repo.id, digest: `sha256:${String(i).padStart(64, '0')}`, mediaType: 'application/vnd.oci.image.manifest.v1+json',
        size: 2, body: Buffer.from('{}'), annotations: '{}', createdAt: now - i * 1000, updatedAt: now - i * 1000,
        deletedAt: i % 10 === 0 ? now : null,
      }));
      for (let i = 0; i < rows.length; i += 200) await db.insertInto('manifests').values(rows.slice(i, i + 200)).execute();
      if (dialect === 'postgres') await sql`analyze manifests`.execute(db);

      // Page 1 and a deep page. SQLite takes them from the index, in order. PostgreSQL does for page 1; for a deep
      // page its planner may rightly prefer a bitmap scan (and a sort of the package's live rows) to as many random
      // heap reads, so there page 1 is what is checked. Their number is the package's kept count: no count query.
      const live = rows.filter((r) => r.repositoryId === repo.id && r.deletedAt === null).length;
      for (const n of [1, 40]) {
        const recorder = new QueryRecorder();
        const versions = new VersionService({ db: db.withPlugin(recorder), clock: systemClock, audit: new AuditLog({ db: db.withPlugin(recorder), clock: systemClock }), downloads: null as never, rules: null as never, protection: null as never });
        const page = await versions.list({ id: Number(repo.id), versionCount: live } as PackageInfo, 'active', n, 30);
        assert.equal(page.versions.length, 30);
        assert.equal(page.total, live);
        const compiled = recorder.nodes.map((node) => db.getExecutor().compileQuery(node, createQueryId()));
        const fromManifests = compiled.filter((q) => /from "manifests"/.test(q.sql));
        assert.equal(fromManifests.length, 1, fromManifests.map((q) => q.sql).join('\n'));
        const list = fromManifests[0]!;
        assert.match(list.sql, /offset/i);
        for (const query of dialect === 'sqlite' || n === 1 ? [list] : []) {
          const plan = await explain(conn, query);
          assert.match(plan, /manifests_live_versions/, `page ${n}: ${query.sql}\n${plan}`);
          assert.doesNotMatch(plan, /TEMP B-TREE|Sort/i, `page ${n}: no sort of the package's versions:\n${plan}`);
        }
      }
    });
  });
}

/** The query plan as one text (SQLite: EXPLAIN QUERY PLAN details; PostgreSQL: EXPLAIN, sequential scans off). */
async function explain(conn: Connection, query: CompiledQuery): Promise<string> {
  if (conn.dialect === 'sqlite') {
    const res = await conn.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]));
    return res.rows.map((r) => r.detail).join('\n');
  }
  // A small table is cheaper to scan whole: with sequential scans off the planner shows which index it would use.
  return conn.db.transaction().execute(async (tx) => {
    await sql`set local enable_seqscan = off`.execute(tx);
    const res = await tx.executeQuery<Record<string, string>>(CompiledQuery.raw(`explain ${query.sql}`, [...query.parameters]));
    // One text column ("QUERY PLAN", whatever the camel-case plugin makes of its name).
    return res.rows.map((r) => Object.values(r)[0]).join('\n');
  });
}
