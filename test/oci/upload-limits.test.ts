// Caps on open upload sessions (uploads.maxSessionsPerUser, uploads.maxSessionsPerRepository): each session holds a
// row and scratch data until it is finished, cancelled or expires, so one user must not be able to open them without
// end. Past a cap: 429 TOOMANYREQUESTS saying how many are open and how to get below it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { assertOciError, sha256 } from '../helpers/http.js';

let berth: RunningBerth;
let other: string;

before(async () => {
  berth = await startBerth({ env: { BERTH_UPLOADS_MAX_SESSIONS_PER_USER: '5', BERTH_UPLOADS_MAX_SESSIONS_PER_REPOSITORY: '3' } });
  other = await berth.admin(async (s) => {
    const user = await s.accounts.createUser({ login: 'other' });
    await s.accounts.addMember('acme', 'other', 'member');
    const token = (await s.tokens.create({ userId: user.id, note: 'test', scopes: ['write:packages'], expiresAt: null })).token;
    return `Basic ${Buffer.from(`other:${token}`).toString('base64')}`;
  });
});
after(() => berth.stop());

async function start(name: string, auth?: string): Promise<Response> {
  return berth.fetch(`/v2/${name}/blobs/uploads/`, { method: 'POST', ...(auth ? { auth } : {}) });
}

async function startOk(name: string, auth?: string): Promise<string> {
  const res = await start(name, auth);
  assert.equal(res.status, 202, await res.text());
  return res.headers.get('location')!;
}

test('past the cap per repository a new session is refused with 429; cancelling one makes room', async () => {
  const sessions = [await startOk('acme/capped'), await startOk('acme/capped'), await startOk('acme/capped')];
  await berth.admin(async (s) => s.packages.grant('acme/capped', { type: 'user', id: (await s.accounts.getUser('other')).id }, 'write'));
  const refused = await assertOciError(await start('acme/capped'), 429, 'TOOMANYREQUESTS');
  assert.match(refused.message, /^acme\/capped has 3 upload sessions open, the most one repository may have \(uploads\.maxSessionsPerRepository\): finish or cancel some \(DELETE \/v2\/acme\/capped\/blobs\/uploads\/<uuid>\); idle sessions expire after 1d \(uploads\.expireAfter\)$/);
  assert.deepEqual(refused.detail, { open: 3, limit: 3 });
  // Another user is refused too: the cap is the repository's.
  await assertOciError(await start('acme/capped', other), 429, 'TOOMANYREQUESTS');
  await assertOciError(await berth.fetch(`/v2/acme/capped/blobs/uploads/?digest=${sha256('x')}`, { method: 'POST', body: 'x' }), 429, 'TOOMANYREQUESTS');

  assert.equal((await berth.fetch(sessions[0]!, { method: 'DELETE' })).status, 204);
  const again = await startOk('acme/capped');
  // A finished session makes room as well.
  assert.equal((await berth.fetch(`${again}?digest=${sha256('done')}`, { method: 'PUT', body: 'done' })).status, 201);
  await startOk('acme/capped');
  for (const location of [sessions[1]!, sessions[2]!]) assert.equal((await berth.fetch(location, { method: 'DELETE' })).status, 204);
});

test('past the cap per user a new session is refused with 429 in any repository; other users are not affected', async () => {
  const [open] = await berth.query<{ n: number }>('select count(*) as n from uploads');
  assert.equal(Number(open!.n), 1, 'one session left open by the test above');
  const mine = [await startOk('acme/one'), await startOk('acme/one'), await startOk('acme/two'), await startOk('acme/two')];
  const refused = await assertOciError(await start('acme/three'), 429, 'TOOMANYREQUESTS');
  assert.match(refused.message, /^you have 5 upload sessions open, the most one user may have \(uploads\.maxSessionsPerUser\): finish or cancel some/);
  assert.deepEqual(refused.detail, { open: 5, limit: 5 });
  await startOk('acme/three', other);
  assert.equal((await berth.fetch(mine[0]!, { method: 'DELETE' })).status, 204);
  await startOk('acme/three');
});
