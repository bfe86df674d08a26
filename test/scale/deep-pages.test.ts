// Package listings past the 10,001 readable ids a listing remembers (src/packages/package-service.ts `list`): GitHub's
// REST paging stops there, the web UI pages on, and those pages come from the database (LIMIT/OFFSET in name
// order). On a seeded organization of 10,150 packages, the pages on both sides of the boundary hold the packages
// the database lists in name order, through the service and over HTTP in the web UI, for the organization's owner
// and for a member who reads only part of it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { readableRepositories } from '../../src/auth/package-access.js';
import type { Subject } from '../../src/auth/permissions.js';
import type { Connection } from '../../src/db/connect.js';
import { COUNT_LIMIT } from '../../src/packages/listing-count.js';
import type { Owner } from '../../src/packages/package-service.js';
import { SESSION_COOKIE } from '../../src/http/ui/cookies.js';
import { BIG_ORG, type SeedResult, type SeedShape } from '../../bench/seed.js';
import { startBerth, testBackend, type RunningBerth } from '../helpers/berth.js';
import { listingService, seedRegistry } from '../helpers/seeded-registry.js';

const SHAPE: SeedShape = {
  users: 60, owners: 6, repositories: COUNT_LIMIT + 300, bigOrgRepositories: COUNT_LIMIT + 150, hugeTags: 5,
  manifestsPerRepository: 1, tagsPerRepository: 1, memberRoles: 5,
};
/** The web UI's packages per page (src/http/ui/pages/package-list.ts). */
const UI_PER_PAGE = 30;

let conn: Connection;
let seeded: SeedResult;
let berth: RunningBerth;
let bigOrg: Owner;
const owner: Subject = { userId: 1, scopes: new Set(['read:packages']), repositoryLimit: null };
const member: Subject = { userId: SHAPE.users + 1, scopes: new Set(['read:packages']), repositoryLimit: null };

before(async () => {
  const registry = await seedRegistry(SHAPE);
  ({ conn, seeded, bigOrg } = registry);
  if (conn.dialect === 'postgres') await sql`analyze`.execute(conn.db);
  berth = await startBerth({ dataDir: registry.dataDir });
});
after(async () => {
  await berth?.stop();
  await conn?.close();
});

/** The organization's live packages `subject` reads, in name order, straight from the database. */
async function readable(subject: Subject): Promise<string[]> {
  return (await conn.db.selectFrom('repositories as r').select('r.name').where('r.owner', '=', BIG_ORG).where('r.deletedAt', 'is', null)
    .where(readableRepositories(subject)).orderBy('r.name').execute()).map((r) => r.name);
}

describe(`package listings past ${COUNT_LIMIT + 1} packages (${testBackend()})`, () => {
  it('pages on both sides of the remembered ids hold the packages in name order', async () => {
    const packages = listingService(conn);
    for (const [label, subject] of [['owner', owner], ['member', member]] as const) {
      const want = await readable(subject);
      const lastPage = Math.ceil(want.length / 100);
      // The member reads fewer than 10,001: every page is remembered. The owner's last pages are not.
      for (const page of [1, 100, 101, lastPage]) {
        const got = await packages.list(bigOrg, subject, { page, perPage: 100 });
        assert.deepEqual(got.packages.map((p) => p.repository), want.slice((page - 1) * 100, page * 100), `${label} page ${page}`);
        assert.equal(got.total, Math.min(want.length, COUNT_LIMIT + 1), `${label} total`);
      }
      if (label === 'owner') assert.ok(want.length > COUNT_LIMIT + 100, `${want.length} packages`);
    }
  });

  it('the web UI serves the pages past GitHub\'s limit to the organization\'s owner', async () => {
    const want = await readable(owner);
    for (const page of [Math.floor(COUNT_LIMIT / UI_PER_PAGE), Math.floor(COUNT_LIMIT / UI_PER_PAGE) + 1, Math.ceil(want.length / UI_PER_PAGE)]) {
      const res = await berth.fetch(`/orgs/${BIG_ORG}/packages?page=${page}`, { auth: null, headers: { cookie: `${SESSION_COOKIE}=${seeded.owner.session}` } });
      const html = await res.text();
      assert.equal(res.status, 200, html.slice(0, 500));
      const names = [...html.matchAll(/<h3><a href="[^"]+">([^<]+)<\/a>/g)].map((m) => `${BIG_ORG}/${m[1]}`);
      assert.deepEqual(names, want.slice((page - 1) * UI_PER_PAGE, page * UI_PER_PAGE), `page ${page}`);
    }
  });
});
