// The failed-authentication limiter over HTTP (README "Failed authentications"): registry credentials (/token, Basic
// on /v2) count against the client address only, so bad requests naming an account cannot lock it out of the web
// UI; Basic failures on /v2 count too. Client addresses are set with X-Forwarded-For through a trusted proxy.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { signInForm } from '../helpers/sign-in.js';

let berth: RunningBerth;
const basic = (user: string, secret: string): string => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const BAD = 'berth_pat_000000000000000000000000000000000000';
const from = (address: string): Record<string, string> => ({ 'x-forwarded-for': address });

async function ociCode(res: Response): Promise<string> {
  return ((await res.json()) as { errors: { code: string }[] }).errors[0]!.code;
}

before(async () => {
  berth = await startBerth({ env: { BERTH_SERVER_TRUSTED_PROXIES: '127.0.0.1', BERTH_AUTH_FAILED_LOGIN_LIMIT: '5', BERTH_AUTH_FAILED_LOGIN_WINDOW: '1h' } });
  await berth.admin((s) => s.accounts.createUser({ login: 'victim', password: 'victim-password' }));
});
after(() => berth.stop());

test('bad /token requests naming an account do not lock that account out of the sign-in form', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) {
    const res = await berth.fetch('/token?scope=repository:acme/app:pull', { auth: basic('victim', BAD), headers: from('203.0.113.5') });
    statuses.push(res.status);
    await res.body?.cancel();
  }
  assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(7).fill(429)], 'the attacking address is limited');
  const signIn = await signInForm(berth, 'victim', 'victim-password', from('198.51.100.7'));
  assert.equal(signIn.status, 303, signIn.text.slice(0, 300));
  assert.ok(signIn.session, 'the victim signs in from their own address');
});

test('failed Basic authentication on /v2 counts against the address: 429 with Retry-After past the limit', async () => {
  for (let i = 0; i < 5; i++) {
    const res = await berth.fetch('/v2/acme/app/tags/list', { auth: basic('anyone', BAD), headers: from('203.0.113.9') });
    assert.equal(res.status, 401, `failure ${i + 1}`);
    await res.body?.cancel();
  }
  const limited = await berth.fetch('/v2/acme/app/tags/list', { auth: basic('anyone', BAD), headers: from('203.0.113.9') });
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  assert.equal(await ociCode(limited), 'TOOMANYREQUESTS');
  // The same address is limited at /token too: one count per address.
  const token = await berth.fetch('/token?scope=repository:acme/app:pull', { auth: basic('anyone', BAD), headers: from('203.0.113.9') });
  assert.equal(token.status, 429);
  await token.body?.cancel();
  // Valid credentials from that address still work; other addresses are not affected.
  const valid = await berth.fetch('/v2/', { headers: from('203.0.113.9') });
  assert.equal(valid.status, 200);
  const other = await berth.fetch('/v2/acme/app/tags/list', { auth: basic('anyone', BAD), headers: from('203.0.113.10') });
  assert.equal(other.status, 401);
  await other.body?.cancel();
});
