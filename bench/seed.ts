/**
 * Fills an empty, migrated Berth database (SQLite or PostgreSQL) with a registry at the size issue 14 names, fast:
 * every table is filled by a few set-based `INSERT … SELECT` statements over a number series, generated inside the
 * database, each in its own transaction, through the schema the migrations built (same tables, constraints and
 * indexes as a real registry). At scale 1:
 *
 * - 10,000 users and 1,000 owners (organizations), each organization with two teams (`devs`, `readers`); every
 *   user a member of three organizations (one membership in 50 as owner) and of the `devs` team of every other one;
 * - 100,000 repositories: a fifth in the big organization `bigorg` (public, internal and private in turn), the rest
 *   spread over the other organizations; each with an admin grant for a member (its "creator", as a push makes it);
 * - 1,000,000 manifests and 2,000,000 tags: `bigorg/huge` has 100,000 versions, one tag each; every other repository
 *   9 versions and 19 tags;
 * - 700,000 download counts: each repository's newest version on each of the last 7 days;
 * - `member`: a member (not owner) of `bigorg` who reads its public and internal packages and, through the
 *   `readers` team and direct grants, every tenth private one, plus direct roles on 1,000 packages elsewhere and
 *   a seat in 100 teams: the partial reader and the caller with many roles the bench measures.
 *
 * Everything scales with `scale` (0.1 = a tenth of each count). Manifests are small, well-formed image manifests
 * whose digests are synthetic (no blob bytes exist): listings, tokens and pages read them, no bench pulls them.
 */
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import type { Connection, Dialect } from '../src/db/connect.js';
import { SessionService } from '../src/accounts/session-service.js';
import { TokenService } from '../src/accounts/token-service.js';
import { AuditLog } from '../src/audit/audit-log.js';
import { systemClock } from '../src/util/clock.js';

export const BIG_ORG = 'bigorg';
export const HUGE_REPO = `${BIG_ORG}/huge`;
export const MEMBER = 'member';
/** A package of another organization on which `member` holds a direct (read) role. */
export const MEMBER_ROLE_PACKAGE = 'org00001/pkg-000000';
/** Days on which each repository's newest version was downloaded. */
const DOWNLOAD_DAYS = 7;

export interface SeedShape {
  readonly users: number;
  readonly owners: number;
  readonly repositories: number;
  /** Repositories of `bigorg` (besides `bigorg/huge`). */
  readonly bigOrgRepositories: number;
  /** Versions and tags of `bigorg/huge`. */
  readonly hugeTags: number;
  readonly manifestsPerRepository: number;
  readonly tagsPerRepository: number;
  /** Packages outside `bigorg` on which `member` holds a direct role. */
  readonly memberRoles: number;
}

export function seedShape(scale: number): SeedShape {
  const n = (x: number): number => Math.max(1, Math.round(x * scale));
  return {
    users: n(10_000), owners: Math.max(2, n(1_000)), repositories: n(100_000), bigOrgRepositories: n(20_000) - 1,
    hugeTags: n(100_000), manifestsPerRepository: 9, tagsPerRepository: 19, memberRoles: n(1_000),
  };
}

export interface SeedResult {
  readonly shape: SeedShape;
  readonly seconds: number;
  /** Rows per table after seeding. */
  readonly rows: Record<string, number>;
  /** A personal access token (read:packages) of `member`. */
  readonly memberToken: string;
  /** The login and a personal access token (read:packages) of an owner of `bigorg`, who reads all of it. */
  readonly owner: { readonly login: string; readonly token: string; /** A web UI session's cookie value. */ readonly session: string };
}

/**
 * Seeds `conn` (migrated, empty). Ids are assigned here, in blocks: users 1…U, `member` U+1, organizations after
 * it (`bigorg` first), teams 2 per organization, repositories 1…R (`bigorg/huge` = 1, then `bigorg`'s, then the
 * rest), manifests 1…M (`bigorg/huge`'s first).
 */
export async function seed(conn: Connection, shape: SeedShape, progress: (message: string) => void = () => {}): Promise<SeedResult> {
  const t0 = performance.now();
  const { db, dialect } = conn;
  const d = fragments(dialect);
  const now = Date.now();
  const U = shape.users;
  const member = U + 1;
  const firstOrg = U + 2;
  const O = shape.owners;
  const otherOrgs = O - 1;
  const R = shape.repositories;
  const bigRepos = Math.min(shape.bigOrgRepositories, R - 1);
  const restRepos = R - 1 - bigRepos;
  const restStart = 2 + bigRepos;
  const H = shape.hugeTags;
  const MPR = shape.manifestsPerRepository;
  const TPR = shape.tagsPerRepository;
  const orgOf = (i: string): string => `${firstOrg} + 1 + ((${i}) % ${otherOrgs})`;
  const loginOfOrg = (id: string): string => `case when ${id} = ${firstOrg} then '${BIG_ORG}' else 'org' || ${d.pad(`${id} - ${firstOrg}`, 5)} end`;
  const teamOf = (org: string, kind: 0 | 1): string => `(((${org}) - ${firstOrg}) * 2 + ${kind + 1})`;

  const step = async (label: string, count: number, text: string): Promise<void> => {
    const t = performance.now();
    await db.transaction().execute(async (tx) => { await sql.raw(d.series(count) + text).execute(tx); });
    progress(`seed ${dialect}: ${label} (${count.toLocaleString('en')}) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  };

  const accountColumns = 'id, login, lower_login, type, display_name, email, password_hash, is_admin, disabled_at, members_can_create, allowed_visibilities, default_visibility, created_at, updated_at';
  await step('users', U, `insert into accounts (${accountColumns})
    select i + 1, 'user' || ${d.pad('i + 1', 5)}, 'user' || ${d.pad('i + 1', 5)}, 'user', null, null, null, 0, null, 1, 'private,internal,public', 'private', ${now}, ${now} from s`);
  await sql`insert into accounts (id, login, lower_login, type, is_admin, members_can_create, allowed_visibilities, default_visibility, created_at, updated_at)
    values (${member}, ${MEMBER}, ${MEMBER}, 'user', 0, 1, 'private,internal,public', 'private', ${now}, ${now})`.execute(db);
  await step('organizations', O, `insert into accounts (${accountColumns})
    select ${firstOrg} + i, ${loginOfOrg(`${firstOrg} + i`)}, ${loginOfOrg(`${firstOrg} + i`)}, 'org', null, null, null, 0, null, 1, 'private,internal,public', 'private', ${now}, ${now} from s`);
  await step('teams', O * 2, `insert into teams (id, org_id, name, lower_name, created_at)
    select i + 1, ${firstOrg} + i / 2, case when i % 2 = 0 then 'devs' else 'readers' end, case when i % 2 = 0 then 'devs' else 'readers' end, ${now} from s`);
  // Three memberships per user, in distinct organizations (offsets 0, 1, 2 of a stride), never bigorg; then bigorg's.
  await step('memberships', U * 3, `insert into org_members (org_id, user_id, role)
    select ${orgOf('(i / 3) * 7 + i % 3')}, i / 3 + 1, case when i % 50 = 0 then 'owner' else 'member' end from s`);
  await step('team seats', U * 3, `insert into team_members (team_id, user_id)
    select ${teamOf(orgOf('(i / 3) * 7 + i % 3'), 0)}, i / 3 + 1 from s where i % 2 = 0`);
  const bigMembers = Math.max(2, Math.round(U / 10));
  await step(`${BIG_ORG} members`, bigMembers, `insert into org_members (org_id, user_id, role)
    select ${firstOrg}, i + 1, case when i = 0 then 'owner' else 'member' end from s`);
  await sql`insert into org_members (org_id, user_id, role) values (${firstOrg}, ${member}, 'member')`.execute(db);
  const memberTeams = Math.min(100, otherOrgs);
  await step(`${MEMBER}'s teams`, memberTeams + 1, `insert into team_members (team_id, user_id)
    select case when i = 0 then ${teamOf(String(firstOrg), 1)} else ${teamOf(`${firstOrg} + i`, 0)} end, ${member} from s`);

  // Repositories: 1 = bigorg/huge (private), 2… bigorg's (public, internal, private in turn), then the rest.
  const repoColumns = 'id, name, owner, owner_id, visibility, source_url, created_by, created_at, updated_at, deleted_at, deleted_name';
  await sql.raw(`insert into repositories (${repoColumns}) values (1, '${HUGE_REPO}', '${BIG_ORG}', ${firstOrg}, 'private', null, null, ${now}, ${now}, null, null)`).execute(db);
  await step(`${BIG_ORG} repositories`, bigRepos, `insert into repositories (${repoColumns})
    select i + 2, '${BIG_ORG}/pkg-' || ${d.pad('i', 6)}, '${BIG_ORG}', ${firstOrg},
      case i % 3 when 0 then 'public' when 1 then 'internal' else 'private' end, null, i % ${bigMembers} + 1, ${now} - i, ${now} - i, null, null from s`);
  await step('other repositories', restRepos, `insert into repositories (${repoColumns})
    select i + ${restStart}, ${loginOfOrg(orgOf('i'))} || '/pkg-' || ${d.pad('i', 6)}, ${loginOfOrg(orgOf('i'))}, ${orgOf('i')},
      case i % 4 when 0 then 'public' when 1 then 'internal' else 'private' end, null, null, ${now} - i, ${now} - i, null, null from s`);
  // Every package has an admin (its creator, as a first push makes it); bigorg's `readers` read every tenth
  // private one, `devs` write every seventh; member holds direct roles on other organizations' packages.
  const perm = 'insert into package_permissions (repository_id, principal_type, principal_id, role)';
  await step('creator grants', R - 1, `${perm} select i + 2, 'user', (i * 13) % ${U} + 1, 'admin' from s`);
  await step(`${BIG_ORG} team grants`, bigRepos, `${perm}
    select i + 2, 'team', ${teamOf(String(firstOrg), 1)}, 'read' from s where i % 3 = 2 and i % 10 = 2
    union all select i + 2, 'team', ${teamOf(String(firstOrg), 0)}, 'write' from s where i % 7 = 0`);
  const memberRoles = Math.min(shape.memberRoles, restRepos);
  await step(`${MEMBER}'s direct roles`, memberRoles, `${perm}
    select ${restStart} + i * ${Math.max(1, Math.floor(restRepos / memberRoles))}, 'user', ${member},
      case i % 3 when 0 then 'read' when 1 then 'write' else 'admin' end from s`);
  await step(`${MEMBER}'s grants in ${BIG_ORG}`, Math.ceil(bigRepos / 20), `${perm}
    select i * 20 + 2 + 5, 'user', ${member}, 'read' from s where i * 20 + 5 < ${bigRepos}`);

  // Manifests: bigorg/huge's H first (ids 1…H), newest first; then MPR per other repository.
  const manifestColumns = 'id, repository_id, digest, media_type, artifact_type, subject_digest, config_digest, size, body, annotations, created_at, updated_at, deleted_at, description, license, pushed_by';
  const body = (i: string): string => `'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:${'0'.repeat(64)}","size":2},"layers":[],"annotations":{"n":"' || (${i}) || '"}}'`;
  const manifest = (id: string, repo: string, created: string): string => `${id}, ${repo}, ${d.digest(id)}, 'application/vnd.oci.image.manifest.v1+json', null, null,
      'sha256:${'0'.repeat(64)}', length(${body(id)}), ${d.bytes(body(id))}, '{}', ${created}, ${created}, null, null, null, null`;
  await step(`${HUGE_REPO} versions`, H, `insert into manifests (${manifestColumns}) select ${manifest('i + 1', '1', `${now} - i * 1000`)} from s`);
  const restManifests = (R - 1) * MPR;
  await step('other versions', restManifests, `insert into manifests (${manifestColumns})
    select ${manifest(`i + ${H + 1}`, `2 + i / ${MPR}`, `${now} - (i % ${MPR}) * 1000`)} from s`);
  await step(`${HUGE_REPO} tags`, H, `insert into tags (repository_id, name, manifest_id, updated_at)
    select 1, '1.0.' || ${d.pad('i', 6)}, i + 1, ${now} - i * 1000 from s`);
  await step('other tags', (R - 1) * TPR, `insert into tags (repository_id, name, manifest_id, updated_at)
    select 2 + i / ${TPR}, case when i % ${TPR} = 0 then 'latest' else 'v' || (i % ${TPR}) end,
      ${H + 1} + (i / ${TPR}) * ${MPR} + (i % ${TPR}) % ${MPR}, ${now} from s`);
  // Downloads: each repository's newest version, on each of the last DOWNLOAD_DAYS days.
  const today = Math.floor(now / 86_400_000);
  await step('downloads', R * DOWNLOAD_DAYS, `insert into downloads_daily (manifest_id, day, count)
    select case when i / ${DOWNLOAD_DAYS} = 0 then 1 else ${H + 1} + (i / ${DOWNLOAD_DAYS} - 1) * ${MPR} end, ${today} - i % ${DOWNLOAD_DAYS}, (i * 7) % 97 + 1 from s`);
  // The kept figures (src/registry/storage-usage.ts, migration 0027), as `berth usage recompute` and the migration
  // compute them: the seeded manifests reference no blobs, so a package's bytes are its live manifests'.
  const t = performance.now();
  await sql`insert into package_storage (repository_id, owner, bytes, version_count)
    select p.id, p.owner, coalesce(m.bytes, 0), coalesce(m.n, 0) from repositories p left join
      (select repository_id, sum(size) as bytes, count(*) as n from manifests where deleted_at is null group by repository_id) m on m.repository_id = p.id`.execute(db);
  await sql`insert into package_downloads_daily (repository_id, day, count)
    select m.repository_id, d.day, sum(d.count) from downloads_daily d join manifests m on m.id = d.manifest_id group by m.repository_id, d.day`.execute(db);
  await sql`update package_storage set downloads =
    coalesce((select sum(d.count) from package_downloads_daily d where d.repository_id = package_storage.repository_id), 0)`.execute(db);
  await sql`insert into owner_downloads_daily (owner, day, count)
    select p.owner, d.day, sum(d.count) from package_downloads_daily d join repositories p on p.id = d.repository_id group by p.owner, d.day`.execute(db);
  await sql`insert into owner_storage (owner, bytes, package_count, version_count) select p.owner, sum(s.bytes), count(*), sum(s.version_count) from package_storage s
    join repositories p on p.id = s.repository_id where p.deleted_at is null group by p.owner`.execute(db);
  progress(`seed ${dialect}: storage and download figures in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  if (dialect === 'postgres') {
    // Ids were given explicitly: move the identity sequences past them, then let the planner see the tables
    // (autovacuum would, a little later).
    for (const table of ['accounts', 'teams', 'repositories', 'manifests']) {
      await sql.raw(`select setval(pg_get_serial_sequence('${table}', 'id'), (select max(id) from ${table}))`).execute(db);
    }
    await sql`vacuum analyze`.execute(db);
  }
  const seconds = (performance.now() - t0) / 1000;
  const tokens = new TokenService({ db, clock: systemClock, audit: new AuditLog({ db, clock: systemClock }) });
  const pat = async (userId: number): Promise<string> =>
    (await tokens.create({ userId, note: 'bench', scopes: ['read:packages'], expiresAt: now + 86_400_000 })).token;
  const memberToken = await pat(member);
  const owner = {
    login: `user${'1'.padStart(5, '0')}`, token: await pat(1), session: (await new SessionService({ db, clock: systemClock }).create(1)).id,
  };
  const rows: Record<string, number> = {};
  for (const table of ['accounts', 'org_members', 'teams', 'team_members', 'repositories', 'package_permissions', 'manifests', 'tags', 'downloads_daily']) {
    const r = await sql.raw<{ n: number | string }>(`select count(*) as n from ${table}`).execute(db);
    rows[table] = Number(r.rows[0]!.n);
  }
  return { shape, seconds, rows, memberToken, owner };
}

/** The few SQL spellings that differ between the dialects. */
/** SQL pieces per dialect: a number series `s(i)`, zero padding, a digest made of an id, text as bytes. */
export function fragments(dialect: Dialect): { series(n: number): string; pad(expr: string, width: number): string; digest(id: string): string; bytes(text: string): string } {
  if (dialect === 'postgres') {
    return {
      series: (n) => `with s(i) as (select generate_series(0, ${n - 1})::bigint) `,
      pad: (expr, width) => `lpad((${expr})::text, ${width}, '0')`,
      digest: (id) => `'sha256:' || lpad(to_hex(${id}), 64, '0')`,
      bytes: (text) => `convert_to(${text}, 'UTF8')`,
    };
  }
  return {
    series: (n) => `with recursive s(i) as (select 0 union all select i + 1 from s where i < ${n - 1}) `,
    pad: (expr, width) => `printf('%0${width}d', ${expr})`,
    digest: (id) => `printf('sha256:%064x', ${id})`,
    bytes: (text) => `cast(${text} as blob)`,
  };
}
