// Listings at scale (issue 14): on a seeded registry (bench/seed.ts, 2,600 repositories, 2,001 of them in one
// organization, a package with 10,050 versions), the SQL permission filter (auth/package-access.ts
// `readableRepositories`) lets exactly the packages through that the in-memory decision (`loadTargets` +
// `allowedOperations`) allows, for a member who can read only part of the organization and every other kind of
// caller; the REST listing, versions, _catalog and tags/list serve the right pages over HTTP; and their queries read
// pages in order from an index, never the whole owner or registry: on PostgreSQL EXPLAIN ANALYZE counts the rows
// each scan read, on SQLite EXPLAIN QUERY PLAN shows the index and no sort.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { CompiledQuery, createQueryId, sql, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import { SessionService } from '../../src/accounts/session-service.js';
import { TokenService } from '../../src/accounts/token-service.js';
import { SESSION_COOKIE } from '../../src/http/ui/cookies.js';
import { loadTargets, readableRepositories } from '../../src/auth/package-access.js';
import { Policy } from '../../src/auth/policy.js';
import { allowedOperations, type Subject, type Scope } from '../../src/auth/permissions.js';
import type { Connection } from '../../src/db/connect.js';
import type { Db } from '../../src/db/schema.js';
import { COUNT_LIMIT } from '../../src/packages/listing-count.js';
import type { Owner } from '../../src/packages/package-service.js';
import { UsageService } from '../../src/packages/usage-service.js';
import { VersionService } from '../../src/packages/version-service.js';
import { VersionDetails } from '../../src/packages/version-details.js';
import { RepositoryStore } from '../../src/registry/repositories.js';
import { TagService } from '../../src/registry/tag-service.js';
import type { RepoName } from '../../src/oci/names.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { systemClock } from '../../src/util/clock.js';
import { BIG_ORG, HUGE_REPO, MEMBER, type SeedResult, type SeedShape } from '../../bench/seed.js';
import { startBerth, testBackend, type RunningBerth } from '../helpers/berth.js';
import { listingService, seedRegistry } from '../helpers/seeded-registry.js';

const SHAPE: SeedShape = {
  users: 200, owners: 6, repositories: 2_600, bigOrgRepositories: 2_000, hugeTags: COUNT_LIMIT + 50,
  manifestsPerRepository: 2, tagsPerRepository: 3, memberRoles: 40,
};
// Ids as bench/seed.ts assigns them: users 1…U (user 1 owns bigorg, users 1…U/10 are its members), member U + 1.
const U = SHAPE.users;
const MEMBER_ID = U + 1;
const READ = new Set<Scope>(['read:packages']);
const ALL = new Set<Scope>(['read:packages', 'write:packages', 'delete:packages']);
const subjects: Record<string, Subject> = {
  anonymous: { userId: null, scopes: new Set(), repositoryLimit: null },
  'member (partial reader)': { userId: MEMBER_ID, scopes: READ, repositoryLimit: null },
  'member without read:packages': { userId: MEMBER_ID, scopes: new Set(['delete:packages']), repositoryLimit: null },
  "member's CI token for one private package": { userId: MEMBER_ID, scopes: new Set(['read:packages', 'write:packages']), repositoryLimit: `${BIG_ORG}/pkg-000005` },
  'organization owner': { userId: 1, scopes: ALL, repositoryLimit: null },
  'plain member': { userId: 2, scopes: READ, repositoryLimit: null },
  'team member with write:packages only': { userId: 3, scopes: new Set(['write:packages']), repositoryLimit: null },
  'disabled member': { userId: 4, scopes: ALL, repositoryLimit: null },
  'instance admin': { userId: 5, scopes: READ, repositoryLimit: null },
  outsider: { userId: U, scopes: READ, repositoryLimit: null },
  // Bots (auth/bot-grant.ts): globs become LIKE patterns; `_` must stay literal (it would match the `-` of pkg-…).
  'bot pulling some packages by glob': {
    userId: null, scopes: new Set(), repositoryLimit: null,
    grant: { org: BIG_ORG, packages: ['pkg-00001?', 'pkg-0002*', 'pkg_0*', 'huge'], actions: ['pull'] },
  },
  'bot that may only push': { userId: null, scopes: new Set(), repositoryLimit: null, grant: { org: BIG_ORG, packages: ['*'], actions: ['push'] } },
};

let conn: Connection;
let seeded: SeedResult;
let berth: RunningBerth;
let bigOrg: Owner;

before(async () => {
  const registry = await seedRegistry(SHAPE);
  ({ conn, seeded, bigOrg } = registry);
  const { db } = conn;
  await db.updateTable('accounts').set({ disabledAt: Date.now() }).where('id', '=', 4).execute();
  await db.updateTable('accounts').set({ isAdmin: 1 }).where('id', '=', 5).execute();
  // User 3 joins bigorg's `devs` team (write on every seventh package); a deleted package is listed to no one.
  const devs = await db.selectFrom('teams as t').innerJoin('accounts as a', 'a.id', 't.orgId').select('t.id')
    .where('a.lowerLogin', '=', BIG_ORG).where('t.lowerName', '=', 'devs').executeTakeFirstOrThrow();
  await db.insertInto('teamMembers').values({ teamId: devs.id, userId: 3 }).execute();
  await db.updateTable('repositories').set({ name: `${BIG_ORG}/pkg-000000~deleted-2`, deletedName: `${BIG_ORG}/pkg-000000`, deletedAt: Date.now() })
    .where('name', '=', `${BIG_ORG}/pkg-000000`).execute();
  // As deleting it does (registry/storage-usage.ts countPackage): its package and versions leave the owner's counts.
  await db.updateTable('ownerStorage').set((eb) => ({ packageCount: eb('packageCount', '-', 1), versionCount: eb('versionCount', '-', SHAPE.manifestsPerRepository) }))
    .where('owner', '=', BIG_ORG).execute();
  if (conn.dialect === 'postgres') await sql`analyze`.execute(db);
  berth = await startBerth({ dataDir: registry.dataDir });
});
after(async () => {
  await berth?.stop();
  await conn?.close();
});

/** The live packages `subject` may read, decided in memory per package as before (sorted by name). */
async function expected(db: Db, subject: Subject, owner?: string): Promise<string[]> {
  let q = db.selectFrom('repositories').select(['id', 'name', 'visibility', 'owner']).where('deletedAt', 'is', null);
  if (owner) q = q.where('owner', '=', owner);
  const rows = await q.execute();
  const out: string[] = [];
  for (const login of new Set(rows.map((r) => r.owner))) {
    const mine = rows.filter((r) => r.owner === login);
    const targets = await loadTargets(db, subject.userId, login, mine);
    for (const r of mine) if (allowedOperations(subject, targets.get(r.id)!).has('read')) out.push(r.name);
  }
  return out.sort();
}

describe(`listings on a seeded registry (${testBackend()})`, () => {
  it('the SQL filter lets through exactly what the in-memory decision allows, for every kind of caller', async () => {
    const { db } = conn;
    const counts: Record<string, number> = {};
    for (const [label, subject] of Object.entries(subjects)) {
      const want = await expected(db, subject);
      const got = (await db.selectFrom('repositories as r').select('r.name').where('r.deletedAt', 'is', null)
        .where(readableRepositories(subject)).orderBy('r.name').execute()).map((r) => r.name);
      assert.deepEqual(got, want, label);
      counts[label] = (await expected(db, subject, BIG_ORG)).length;
    }
    // The cases differ as they should: the member reads part of bigorg, its owner and the admin all of it.
    const all = SHAPE.bigOrgRepositories; // bigorg/huge + pkg-000001… (pkg-000000 is deleted)
    assert.equal(counts['organization owner'], all);
    assert.equal(counts['instance admin'], all);
    assert.ok(counts['member (partial reader)']! > counts.outsider! && counts['member (partial reader)']! < all, JSON.stringify(counts));
    assert.equal(counts['disabled member'], counts.anonymous);
    assert.equal(counts["member's CI token for one private package"], counts.anonymous! + 1);
    assert.ok(counts['bot pulling some packages by glob']! > counts.anonymous!, JSON.stringify(counts));
    assert.equal(counts['bot that may only push'], counts.anonymous);
  });

  it('PackageService.list pages, filters and counts in SQL, as the in-memory listing did', async () => {
    const packages = listingService(conn);
    for (const label of ['member (partial reader)', 'plain member', 'organization owner', 'anonymous']) {
      const subject = subjects[label]!;
      const want = await expected(conn.db, subject, BIG_ORG);
      for (const [page, perPage] of [[1, 30], [7, 100], [Math.ceil(want.length / 100), 100]] as const) {
        const got = await packages.list(bigOrg, subject, { page, perPage });
        assert.deepEqual(got.packages.map((p) => p.repository), want.slice((page - 1) * perPage, page * perPage), `${label} page ${page}`);
        assert.equal(got.total, want.length);
      }
      const internal = await packages.list(bigOrg, subject, { visibility: 'internal', nameContains: '0012', page: 1, perPage: 100 });
      const wantInternal = (await expected(conn.db, subject, BIG_ORG)).filter((n) => n.slice(BIG_ORG.length + 1).includes('0012'));
      const visibilities = new Map((await conn.db.selectFrom('repositories').select(['name', 'visibility']).where('name', 'in', wantInternal.length ? wantInternal : ['-']).execute()).map((r) => [r.name, r.visibility]));
      assert.deepEqual(internal.packages.map((p) => p.repository), wantInternal.filter((n) => visibilities.get(n) === 'internal'), `${label} filtered`);
    }
    // LIKE wildcards in the filter are literal.
    assert.equal((await packages.list(bigOrg, subjects['organization owner']!, { nameContains: '%', page: 1, perPage: 10 })).total, 0);
    assert.equal((await packages.list(bigOrg, subjects['organization owner']!, { nameContains: 'pkg_0', page: 1, perPage: 10 })).total, 0);
  });

  it('the versions of a package with more than 10,000 are counted up to 10,001 and paged from the index', async () => {
    const versions = new VersionService({ db: conn.db, clock: systemClock, audit: new AuditLog({ db: conn.db, clock: systemClock }), downloads: null as never, rules: null as never, protection: null as never });
    const packages = listingService(conn);
    const huge = (await packages.find(bigOrg, 'huge', subjects['organization owner']!))!.package;
    assert.equal(huge.versionCount, SHAPE.hugeTags);
    for (const tagged of [undefined, true]) {
      const page = await versions.list(huge, 'active', 100, 100, tagged === undefined ? {} : { tagged });
      assert.equal(page.total, COUNT_LIMIT + 1);
      assert.equal(page.versions.length, 100);
      assert.deepEqual(page.versions[0]!.tags, [`1.0.${String(9_900).padStart(6, '0')}`]);
    }
    assert.equal((await versions.list(huge, 'active', 1, 10, { tagged: false })).total, 0);
  });

  it('the usage page of an organization of 2,000 packages lists the 100 largest and links to the rest', async () => {
    const session = await new SessionService({ db: conn.db, clock: systemClock }).create(1);
    const res = await berth.fetch(`/orgs/${BIG_ORG}/usage`, { auth: null, headers: { cookie: `${SESSION_COOKIE}=${session.id}` } });
    const page = await res.text();
    assert.equal(res.status, 200, page.slice(0, 500));
    const rows = [...page.matchAll(/<tr data-package="([^"]+)"/g)].map((m) => m[1]!);
    assert.equal(rows.length, 100);
    const sizes = [...page.matchAll(/<tr data-package="[^"]+">[\s\S]*?data-bytes="(\d+)"/g)].map((m) => Number(m[1]));
    assert.deepEqual(sizes, [...sizes].sort((a, b) => b - a), 'largest first');
    assert.match(page, new RegExp(`The 100 largest of ${(SHAPE.bigOrgRepositories).toLocaleString('en')} packages`));
    assert.match(page, new RegExp(`href="/orgs/${BIG_ORG}/packages">the packages list</a>`));
    assert.ok(page.length < 200_000, `${page.length} bytes`);
  });

  it('the usage figures of an organization of 2,000 packages are its kept figures, read in order from their indexes', async () => {
    const { db } = conn;
    const recorder = new QueryRecorder();
    const usage = await new UsageService({ db: db.withPlugin(recorder), downloads: { flush: async () => {} } as never, defaultQuota: null })
      .forOwner(bigOrg, { largest: 100 });
    // What the versions and their download rows add up to.
    const figures = await db.selectFrom('repositories as p').innerJoin('packageStorage as s', 's.repositoryId', 'p.id')
      .select(['p.name', 'p.deletedAt', 's.bytes', (eb) => eb.selectFrom('downloadsDaily as d').innerJoin('manifests as m', 'm.id', 'd.manifestId')
        .select((e) => e.fn.sum('d.count').as('n')).whereRef('m.repositoryId', '=', 'p.id').as('downloads')])
      .where('p.owner', '=', BIG_ORG).orderBy('p.id').execute();
    const live = figures.filter((f) => f.deletedAt === null).map((f) => ({ name: f.name, bytes: Number(f.bytes), downloads: Number(f.downloads ?? 0) }));
    assert.equal(usage.packageCount, live.length);
    assert.deepEqual(usage.largest.map((p) => p.repository), [...live].sort((a, b) => b.bytes - a.bytes).slice(0, 100).map((p) => p.name));
    assert.deepEqual(usage.topDownloads.map((p) => [p.repository, p.downloads]),
      live.filter((p) => p.downloads > 0).sort((a, b) => b.downloads - a.downloads).slice(0, 10).map((p) => [p.name, p.downloads]));
    const deleted = figures.filter((f) => f.deletedAt !== null);
    assert.deepEqual(usage.deleted, { packages: 1, downloads: Number(deleted[0]!.downloads) });
    assert.equal(usage.downloads.total, figures.reduce((sum, f) => sum + Number(f.downloads ?? 0), 0));
    assert.ok(usage.downloads.total > 0 && usage.downloads.daily.length === 7, JSON.stringify(usage.downloads.daily));
    // No query reads the owner's 2,000 packages: each reads at most the rows it returns, plus the deleted one.
    const queries = recorder.nodes.map((node) => db.getExecutor().compileQuery(node, createQueryId()));
    // Each query by the index that bounds its read (SQLite: no row counts, so the index and no sort say it).
    const indexes: [RegExp, RegExp][] = [
      [/from "owner_storage"/, /owner_storage_pkey|sqlite_autoindex_owner_storage_1/],
      [/order by "s"\."bytes" desc/, /package_storage_owner_bytes/],
      [/order by "s"\."downloads" desc/, /package_storage_owner_downloads/],
      [/"p"\."deleted_at" is not null/, /repositories_deleted_owner/],
      [/from "owner_downloads_daily"/, /owner_downloads_daily_pk|sqlite_autoindex_owner_downloads_daily_1/],
    ];
    assert.equal(queries.length, indexes.length, queries.map((q) => q.sql).join('\n'));
    for (const [text, index] of indexes) {
      const query = queries.find((q) => text.test(q.sql));
      assert.ok(query, `${text}: ${queries.map((q) => q.sql).join('\n')}`);
      if (conn.dialect === 'sqlite') {
        const plan = (await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]))).rows.map((r) => r.detail).join('\n');
        assert.match(plan, index, `${query.sql}\n${plan}`);
        assert.doesNotMatch(plan, /TEMP B-TREE/, `no sort: ${query.sql}\n${plan}`);
        assert.doesNotMatch(plan, /^SCAN /m, `no scan of a whole table or index: ${query.sql}\n${plan}`);
      } else {
        for (const table of ['repositories', 'package_storage', 'owner_storage', 'owner_downloads_daily']) {
          const { plan, read } = await explainAnalyze(conn, query, table);
          if (read > 0) assert.match(plan, index, `${query.sql}\n${plan}`);
          assert.ok(read <= 110, `${table}: read ${read} rows for ${query.sql}\n${plan}`);
        }
      }
    }
  });

  it('a registry token for several scopes reads the packages in one query, then each namespace once: the same grant as scope by scope', async () => {
    const { db } = conn;
    const names = [`${BIG_ORG}/pkg-000005`, `${BIG_ORG}/pkg-000003`, 'org00001/pkg-000000', `${BIG_ORG}/not-there`, `${BIG_ORG}/pkg-000005`];
    const requested = names.map((name) => ({ name, actions: ['pull', 'push'] as const }));
    for (const [label, subject] of Object.entries(subjects)) {
      if (subject.grant) continue; // bots' grants are decided without the database
      const recorder = new QueryRecorder();
      const caller = { via: 'access-token', login: MEMBER, tokenId: 1, userId: subject.userId ?? 0, subject } as const;
      const batched = await new Policy({ db: db.withPlugin(recorder) }).grant(caller, requested);
      const oneByOne = [];
      for (const r of requested) oneByOne.push(...await new Policy({ db }).grant(caller, [r]));
      assert.deepEqual(batched, oneByOne, label);
      // The packages; then per namespace (two here) its facts and the caller's grants (none needed for an admin).
      assert.ok(recorder.nodes.length <= 1 + 2 * 2, `${label}: ${recorder.nodes.length} queries`);
    }
  });

  it("the /usage list's totals of a namespace are its figures row and its days with downloads: two reads, no package", async () => {
    const { db } = conn;
    const recorder = new QueryRecorder();
    const service = new UsageService({ db: db.withPlugin(recorder), downloads: { flush: async () => {} } as never, defaultQuota: null });
    const totals = await service.totals(bigOrg);
    const queries = recorder.nodes.map((node) => db.getExecutor().compileQuery(node, createQueryId()).sql);
    assert.equal(queries.length, 2, queries.join('\n'));
    assert.ok(queries.every((q) => /from "(owner_storage|owner_downloads_daily)"/.test(q) && !/package_storage|repositories/.test(q)), queries.join('\n'));
    const { largest: _l, topDownloads: _t, deleted: _d, ...full } = await service.forOwner(bigOrg, { largest: 1 });
    assert.deepEqual(totals, full);
    assert.ok(totals.packageCount > 2000 - 10 && totals.downloads.total > 0, JSON.stringify(totals));
  });

  it("the instance overview adds up the owners' kept figures and reads the recent pushes from the newest id back", async () => {
    const { db } = conn;
    const recorder = new QueryRecorder();
    const overview = await new UsageService({ db: db.withPlugin(recorder), downloads: { flush: async () => {} } as never, defaultQuota: null })
      .overview({ recentPushes: 20 });
    const live = await db.selectFrom('manifests as m').innerJoin('repositories as p', 'p.id', 'm.repositoryId')
      .select((eb) => eb.fn.countAll().as('n')).where('m.deletedAt', 'is', null).where('p.deletedAt', 'is', null).executeTakeFirstOrThrow();
    const packages = await db.selectFrom('repositories').select((eb) => eb.fn.countAll().as('n')).where('deletedAt', 'is', null).executeTakeFirstOrThrow();
    assert.deepEqual([overview.packages, overview.deletedPackages, overview.versions], [Number(packages.n), 1, Number(live.n)]);
    // The seed tags every live version it writes last (the 20 highest ids are tagged versions of live packages).
    const newest = await db.selectFrom('manifests as m').innerJoin('repositories as p', 'p.id', 'm.repositoryId')
      .select(['m.digest']).where('m.deletedAt', 'is', null).where('p.deletedAt', 'is', null)
      .where((eb) => eb.exists(eb.selectFrom('tags as t').select('t.name').whereRef('t.manifestId', '=', 'm.id')))
      .orderBy('m.id', 'desc').limit(20).execute();
    assert.deepEqual(overview.recentPushes.map((p) => p.digest), newest.map((n) => n.digest));
    assert.ok(overview.recentPushes.every((p) => p.ownerType === 'org'));
    const queries = recorder.nodes.map((node) => db.getExecutor().compileQuery(node, createQueryId()));
    const recent = queries.find((q) => /from "manifests" as "m"/.test(q.sql))!;
    if (conn.dialect === 'sqlite') {
      const plan = (await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${recent.sql}`, [...recent.parameters]))).rows.map((r) => r.detail).join('\n');
      assert.match(plan, /^SCAN m$/m, plan);
      assert.doesNotMatch(plan, /TEMP B-TREE/, plan);
    } else {
      const { plan, read } = await explainAnalyze(conn, recent, 'manifests');
      assert.match(plan, /manifests_pkey/, plan);
      assert.ok(read <= 100, `read ${read} manifests:\n${plan}`);
    }
    // Every other figure is a sum over one row per owner or a count of deleted packages, never over the versions.
    assert.ok(queries.filter((q) => q !== recent).every((q) => !/"manifests"/.test(q.sql) || /"tags"/.test(q.sql)), queries.map((q) => q.sql).join('\n'));
  });

  it('the package page shows the 30 most recently moved tags and says when there are older ones', async () => {
    const session = await new SessionService({ db: conn.db, clock: systemClock }).create(1);
    const page = async (name: string): Promise<string> => {
      const res = await berth.fetch(`/orgs/${BIG_ORG}/packages/container/package/${name}`, { auth: null, headers: { cookie: `${SESSION_COOKIE}=${session.id}` } });
      const text = await res.text();
      assert.equal(res.status, 200, text.slice(0, 500));
      return text.slice(text.indexOf('id="tags"'), text.indexOf('id="downloads"'));
    };
    const huge = await page('huge');
    assert.equal([...huge.matchAll(/<li><a href="[^"]+\/\d+">/g)].length, 30);
    assert.match(huge, /Older tags are listed with their versions below\./);
    const small = await page('pkg-000001');
    assert.equal([...small.matchAll(/<li><a href="[^"]+\/\d+">/g)].length, SHAPE.tagsPerRepository);
    assert.doesNotMatch(small, /Older tags/);
  });

  it('over HTTP: REST packages and versions with Link, _catalog and tags/list serve the right pages', async () => {
    const member = `Basic ${Buffer.from(`${MEMBER}:${seeded.memberToken}`).toString('base64')}`;
    const want = await expected(conn.db, subjects['member (partial reader)']!, BIG_ORG);
    const res = await berth.fetch(`/api/v3/orgs/${BIG_ORG}/packages?package_type=container&per_page=100&page=3`, { auth: `token ${seeded.memberToken}` });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { name: string }[];
    assert.deepEqual(body.map((p) => `${BIG_ORG}/${p.name}`), want.slice(200, 300));
    assert.match(res.headers.get('link') ?? '', new RegExp(`page=${Math.ceil(want.length / 100)}>; rel="last"`));

    const { token: ownerToken } = await new TokenService({ db: conn.db, clock: systemClock, audit: new AuditLog({ db: conn.db, clock: systemClock }) })
      .create({ userId: 1, note: 'test', scopes: ['read:packages'], expiresAt: null });
    const versions = await berth.fetch(`/api/v3/orgs/${BIG_ORG}/packages/container/huge/versions?per_page=100&page=2`, { auth: `token ${ownerToken}` });
    assert.equal(versions.status, 200);
    assert.equal(((await versions.json()) as unknown[]).length, 100);
    // More than 10,000 versions: the last page is the last one GitHub serves.
    assert.match(versions.headers.get('link') ?? '', /[?&]page=100>; rel="last"/);

    const catalogWant = await expected(conn.db, subjects['member (partial reader)']!);
    const from = catalogWant[1000]!;
    const catalog = await berth.fetch(`/v2/_catalog?n=50&last=${encodeURIComponent(from)}`, { auth: member });
    assert.equal(catalog.status, 200);
    assert.deepEqual(((await catalog.json()) as { repositories: string[] }).repositories, catalogWant.slice(1001, 1051));
    assert.match(catalog.headers.get('link') ?? '', /rel="next"/);
    const anonymousWant = await expected(conn.db, subjects.anonymous!);
    const anonymous = await berth.fetch('/v2/_catalog?n=20', { auth: null });
    if (anonymous.status === 200) assert.deepEqual(((await anonymous.json()) as { repositories: string[] }).repositories, anonymousWant.slice(0, 20));
    else assert.equal(anonymous.status, 401);

    const tags = await berth.fetch(`/v2/${HUGE_REPO}/tags/list?n=100&last=1.0.009000`, { auth: `Basic ${Buffer.from(`owner:${ownerToken}`).toString('base64')}` });
    assert.equal(tags.status, 200);
    const tagList = ((await tags.json()) as { tags: string[] }).tags;
    assert.equal(tagList.length, 100);
    assert.equal(tagList[0], '1.0.009001');
  });

  it('PostgreSQL connections run without JIT (compiling cost a listing 25 of its 31 ms at full size)', { skip: testBackend() !== 'postgres-s3' }, async () => {
    const rows = await Promise.all(Array.from({ length: 3 }, () => sql<{ jit: string }>`show jit`.execute(conn.db)));
    assert.deepEqual(rows.map((r) => r.rows[0]!.jit), ['off', 'off', 'off']);
  });

  it('the listing queries read pages in order from an index: never the whole owner or registry', async () => {
    const member = subjects['member (partial reader)']!;
    const memberList = await expected(conn.db, member, BIG_ORG);
    const ownerRows = (await conn.db.selectFrom('repositories').select('name').where('owner', '=', BIG_ORG).where('deletedAt', 'is', null).orderBy('name').execute()).map((r) => r.name);
    const recorded = async <T>(run: (db: Db) => Promise<T>): Promise<CompiledQuery[]> => {
      const recorder = new QueryRecorder();
      await run(conn.db.withPlugin(recorder));
      return recorder.nodes.map((node) => conn.db.getExecutor().compileQuery(node, createQueryId()));
    };
    const service = (db: Db) => listingService(conn, db);
    const huge = await conn.db.selectFrom('repositories').select('id').where('name', '=', HUGE_REPO).executeTakeFirstOrThrow();
    const repos = (db: Db) => new RepositoryStore({ db, clock: systemClock });
    const cases: { label: string; queries: CompiledQuery[]; index: RegExp; maxRead: number; mayReadNone?: boolean }[] = [];
    // The first page reads the member's readable packages in name order, up to 10,001 (the count GitHub's paging
    // needs), from the owner's index, skipping the unreadable ones inside it; later pages and the count come from
    // memory until a change commits. (PostgreSQL: the change feed must be listening, or nothing is remembered.)
    for (let i = 0; conn.changes.version() === null; i++) {
      assert.ok(i < 100, 'the change feed listens');
      await sleep(50);
    }
    const listed = await recorded(async (db) => {
      const packages = service(db);
      for (const [page, perPage] of [[1, 30], [10, 100], [3, 30]] as const) {
        const got = await packages.list(bigOrg, member, { page, perPage });
        assert.deepEqual(got.packages.map((p) => p.repository), memberList.slice((page - 1) * perPage, page * perPage));
        assert.equal(got.total, memberList.length);
      }
    });
    const ownerReads = listed.filter((q) => /from "repositories" as "r"/.test(q.sql) && /"r"\."owner" = /.test(q.sql));
    cases.push({
      label: 'org packages (readable ids, once for three pages)', queries: ownerReads, index: /repositories_owner_live/,
      maxRead: ownerRows.indexOf(memberList[Math.min(memberList.length, COUNT_LIMIT + 1) - 1]!) + 2,
    });
    const catalogWant = await expected(conn.db, member);
    const allNames = (await conn.db.selectFrom('repositories').select('name').where('deletedAt', 'is', null).orderBy('name').execute()).map((r) => r.name);
    const catalog = await recorded((db) => repos(db).list(51, catalogWant[500], readableRepositories(member)));
    cases.push({ label: '_catalog', queries: catalog, index: /repositories_live_name/, maxRead: allNames.indexOf(catalogWant[551]!) - allNames.indexOf(catalogWant[500]!) + 2 });
    // A package's version count is a kept counter (migration 0025): loading the 10,050-version package reads no
    // manifest.
    const loaded = await recorded(async (db) => assert.equal((await service(db).find(bigOrg, 'huge', subjects['organization owner']!))!.package.versionCount, SHAPE.hugeTags));
    assert.ok(loaded.length > 0 && loaded.every((q) => !/"manifests"/.test(q.sql)), loaded.map((q) => q.sql).join('\n'));
    const versionService = (db: Db) => new VersionService({ db, clock: systemClock, audit: new AuditLog({ db, clock: systemClock }), downloads: null as never, rules: null as never, protection: null as never });
    const hugePackage = { id: huge.id, versionCount: SHAPE.hugeTags } as never;
    // All active versions: one query, the page; their number is the package's kept count.
    const versions = await recorded((db) => versionService(db).list(hugePackage, 'active', 50, 100));
    cases.push({ label: 'versions page 50', queries: versions.filter((q) => /from "manifests"/.test(q.sql)), index: /manifests_live_versions/, maxRead: 50 * 100 + 1 });
    // Tagged ones are counted, up to 10,001: whichever index the planner takes, the read is bounded.
    const tagged = await recorded((db) => versionService(db).list(hugePackage, 'active', 50, 100, { tagged: true }));
    const tcount = tagged.find((q) => /count\(\*\) as n from \(/.test(q.sql))!;
    cases.push({ label: 'tagged versions count', queries: [tcount], index: /manifests_(live_versions|subject|pkey)/, maxRead: COUNT_LIMIT + 1 });
    // The versions page's attachments: the page's referrers looked up by subject, not the package's live manifests.
    const page = await versionService(conn.db).list(hugePackage, 'active', 1, 30);
    const hugeInfo = (await service(conn.db).find(bigOrg, 'huge', subjects['organization owner']!))!.package;
    const details = await recorded((db) => new VersionDetails({ db, blobs: null as never, downloads: { flush: async () => {} } as never }).summarize(hugeInfo, page.versions));
    // (The seed has no referrers: PostgreSQL's index scan finds no row.)
    cases.push({ label: 'versions page referrers', queries: details.filter((q) => /"subject_digest" in/.test(q.sql)), index: /manifests_subject/, maxRead: 31, mayReadNone: true });
    const tags = await recorded((db) => new TagService({ db, repos: repos(db) }).list(HUGE_REPO as RepoName, 100, '1.0.009000'));
    cases.push({ label: 'tags/list after 1.0.009000', queries: tags.filter((q) => /from "tags"/.test(q.sql)), index: /tags_pk|sqlite_autoindex_tags_1/, maxRead: 101 });

    for (const { label, queries, index, maxRead, mayReadNone } of cases) {
      assert.equal(queries.length, 1, `${label}: ${queries.map((q) => q.sql).join('\n')}`);
      const query = queries[0]!;
      if (conn.dialect === 'sqlite') {
        const plan = (await conn.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]))).rows.map((r) => r.detail).join('\n');
        assert.match(plan, index, `${label}: ${query.sql}\n${plan}`);
        assert.doesNotMatch(plan, /TEMP B-TREE/, `${label}: no sort:\n${plan}`);
        assert.doesNotMatch(plan, /^SCAN (r|repositories|manifests|tags)$/m, `${label}: no full table scan:\n${plan}`);
      } else {
        const table = /from "(repositories|manifests|tags)"/.exec(query.sql)![1]!;
        const { plan, read } = await explainAnalyze(conn, query, table);
        assert.match(plan, index, `${label}: ${query.sql}\n${plan}`);
        assert.doesNotMatch(plan, /"Node Type": "Sort"/, `${label}: no sort:\n${plan}`);
        assert.ok(read > 0 || mayReadNone, `${label}: no scan of the table found in the plan:\n${plan}`);
        assert.ok(read <= maxRead, `${label}: read ${read} rows of the table, at most ${maxRead} expected:\n${plan}`);
      }
    }
  });
});

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

/**
 * PostgreSQL's plan of `query`, run (EXPLAIN ANALYZE, sequential scans off: small tables are cheaper to scan whole,
 * and the question is which index the query can use), and the rows its scans of the listed `table` read: rows
 * returned plus rows removed by the filter (the permission condition's subqueries, on other tables, aside).
 */
async function explainAnalyze(c: Connection, query: CompiledQuery, table: string): Promise<{ plan: string; read: number }> {
  return c.db.transaction().execute(async (tx) => {
    await sql`set local enable_seqscan = off`.execute(tx);
    const res = await tx.executeQuery<Record<string, unknown>>(CompiledQuery.raw(`explain (analyze, format json) ${query.sql}`, [...query.parameters]));
    const json = Object.values(res.rows[0]!)[0];
    const tree = (typeof json === 'string' ? JSON.parse(json) : json) as [{ Plan: PlanNode }];
    let read = 0;
    const walk = (node: PlanNode, inSubplan: boolean): void => {
      const sub = inSubplan || node['Parent Relationship'] === 'SubPlan' || node['Parent Relationship'] === 'InitPlan';
      if (!sub && /Scan/.test(node['Node Type']) && node['Relation Name'] === table) {
        read += (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * (node['Actual Loops'] ?? 1);
      }
      for (const child of node.Plans ?? []) walk(child, sub);
    };
    walk(tree[0].Plan, false);
    return { plan: JSON.stringify(tree, null, 1), read };
  });
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Parent Relationship'?: string;
  'Actual Rows': number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}
