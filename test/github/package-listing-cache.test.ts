// The package listings' remembered ids (PackageService.list, src/db/change-bound-cache.ts): pages after the first
// come from memory, and what decides who reads which package, changed by this server or by another process (an
// admin command, SQL on the same database, another replica), shows in the next listing: at once for this server's
// own changes, within a second for another process's (SQLite: 10 ms; PostgreSQL: the notification's delivery,
// migrations 0024 and 0026). Checked through berth_package_listing_cache_lookups_total and the listings.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { api, createToken } from '../helpers/github.js';
import { pushImage, useAuthorization } from '../helpers/http.js';

const METRICS_TOKEN = 'listing-cache-metrics-token';
const LIST = '/v3/orgs/acme/packages?package_type=container';

describe('package listing cache', () => {
  let berth: RunningBerth;
  let member: string;
  let memberId: number;

  before(async () => {
    berth = await startBerth({ env: { BERTH_METRICS_TOKEN: METRICS_TOKEN } });
    useAuthorization(berth.authorization);
    memberId = await berth.admin(async (s) => {
      await s.accounts.createUser({ login: 'member' });
      await s.accounts.addMember('acme', 'member', 'member');
      await s.accounts.createTeam('acme', 'readers');
      return (await s.accounts.getUser('member')).id;
    });
    member = await createToken(berth, 'member', ['read:packages']);
    for (const name of ['acme/a', 'acme/b', 'acme/c', 'acme/d', 'acme/e']) await pushImage(berth.url, name, name, 'v1');
    await berth.admin((s) => s.packages.setVisibility('acme/b', 'internal'));
  });
  after(() => berth.stop());

  async function lookups(): Promise<Record<'hit' | 'miss' | 'bypass', number>> {
    const text = await (await berth.fetch('/metrics', { auth: `Bearer ${METRICS_TOKEN}` })).text();
    const count = (result: string): number => Number(new RegExp(`^berth_package_listing_cache_lookups_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { hit: count('hit'), miss: count('miss'), bypass: count('bypass') };
  }

  /** The member's listing: the package names. */
  async function listed(query = ''): Promise<string[]> {
    const res = await api<{ name: string }[]>(berth, `${LIST}${query}`, { auth: `Bearer ${member}` });
    assert.equal(res.status, 200, res.text);
    return res.body.map((p) => p.name);
  }

  /** Polls the member's listing until it is `want`; how long that took. */
  async function until(want: string[], limitMs = 1000): Promise<number> {
    const start = Date.now();
    for (;;) {
      const got = await listed();
      if (JSON.stringify(got) === JSON.stringify(want)) return Date.now() - start;
      if (Date.now() - start > limitMs) assert.fail(`listing still ${JSON.stringify(got)}, not ${JSON.stringify(want)}, after ${limitMs} ms`);
      await sleep(5);
    }
  }

  it('pages after the first, and the count in Link, come from memory', async () => {
    await until(['b']);
    const before = await lookups();
    assert.deepEqual(await listed('&per_page=1&page=1'), ['b']);
    assert.deepEqual(await listed('&per_page=1&page=2'), []);
    assert.deepEqual(await listed(), ['b']);
    const now = await lookups();
    assert.ok(now.hit - before.hit >= 2, `hits ${before.hit} → ${now.hit}`);
    assert.ok(now.miss - before.miss <= 1, `misses ${before.miss} → ${now.miss}`);
    assert.equal(now.bypass, 0);
  });

  it('a package pushed or deleted through this server shows in the very next listing', async () => {
    const admin = async (): Promise<string[]> => (await api<{ name: string }[]>(berth, LIST)).body.map((p) => p.name);
    assert.deepEqual(await admin(), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(await admin(), ['a', 'b', 'c', 'd', 'e']);
    await pushImage(berth.url, 'acme/f', 'acme/f', 'v1');
    assert.deepEqual(await admin(), ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.deepEqual(await listed(), ['b']);
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/b', { method: 'DELETE' })).status, 204);
    assert.deepEqual(await admin(), ['a', 'c', 'd', 'e', 'f']);
    assert.deepEqual(await listed(), []);
  });

  it('roles, teams, memberships, admin flags and visibility changed by another process show within a second', async () => {
    const start = await listed();
    assert.deepEqual(start, []);
    // A direct role (an admin command: another process, its own connection).
    await berth.admin((s) => s.packages.grant('acme/a', { type: 'user', id: memberId }, 'read'));
    // SQLite: the listing asks data_version on every lookup, so the very next listing shows it.
    if (berth.backend === 'sqlite-fs') assert.deepEqual(await listed(), ['a', ...start].sort());
    const roleMs = await until(['a', ...start].sort());
    // A team role, then a seat in the team.
    const teamId = await berth.admin(async (s) => {
      const [team] = await berth.query<{ id: number }>('SELECT id FROM teams WHERE lower_name = ?', 'readers');
      await s.packages.grant('acme/d', { type: 'team', id: team!.id }, 'read');
      return team!.id;
    });
    assert.deepEqual(await listed(), ['a', ...start].sort(), 'a team role alone gives the member nothing');
    await berth.query('INSERT INTO team_members (team_id, user_id) VALUES (?, ?)', teamId, memberId);
    await until(['a', 'd', ...start].sort());
    // Visibility, in SQL as another replica's statement would change it.
    await berth.query("UPDATE repositories SET visibility = 'public' WHERE name = ?", 'acme/e');
    await until(['a', 'd', 'e', ...start].sort());
    // The instance admin flag: every package.
    await berth.query('UPDATE accounts SET is_admin = 1 WHERE id = ?', memberId);
    const all = (await berth.query<{ name: string }>("SELECT name FROM repositories WHERE owner = 'acme' AND deleted_at IS NULL ORDER BY name")).map((r) => r.name.slice('acme/'.length));
    await until(all);
    await berth.query('UPDATE accounts SET is_admin = 0 WHERE id = ?', memberId);
    // Leaving the organization: its internal packages go (the roles stay).
    await berth.query('DELETE FROM org_members WHERE user_id = ?', memberId);
    const internal = (await berth.query<{ name: string }>("SELECT name FROM repositories WHERE owner = 'acme' AND visibility = 'internal' AND deleted_at IS NULL")).map((r) => r.name.slice('acme/'.length));
    await until(['a', 'd', 'e', ...start].filter((n) => !internal.includes(n)).sort());
    // And the roles, in SQL.
    await berth.query("DELETE FROM package_permissions WHERE (principal_type = 'user' AND principal_id = ?) OR (principal_type = 'team' AND principal_id = ?)", memberId, teamId);
    const lastMs = await until(['e', ...start].filter((n) => !internal.includes(n)).sort());
    if (berth.backend === 'sqlite-fs') assert.ok(roleMs < 200 && lastMs < 200, `${roleMs} ms, ${lastMs} ms`);
  });
});
