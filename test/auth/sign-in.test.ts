// Signing in with a password (the web UI's form): response times do not tell whether an account exists, and a
// password hash made with older scrypt parameters is upgraded at the next successful sign-in.
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { signInForm } from '../helpers/sign-in.js';

let berth: RunningBerth;

before(async () => {
  berth = await startBerth({ env: { BERTH_AUTH_FAILED_LOGIN_LIMIT: '1000' } });
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'known', password: 'known-password' });
    await s.accounts.createUser({ login: 'gone', password: 'gone-password' });
    await s.accounts.setDisabled('gone', true);
  });
});
after(() => berth.stop());

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test('a sign-in as an unknown or disabled user takes about as long as one with a wrong password', async () => {
  const times: Record<'known' | 'unknown' | 'disabled', number[]> = { known: [], unknown: [], disabled: [] };
  // Interleaved, so load on the machine affects all three alike.
  for (let i = 0; i < 3; i++) {
    for (const [kind, login] of [['known', 'known'], ['unknown', `nobody-${i}`], ['disabled', 'gone']] as const) {
      const res = await signInForm(berth, login, `wrong-${i}`);
      assert.equal(res.status, 401, `${kind}: ${res.text.slice(0, 200)}`);
      assert.match(res.text, /Incorrect username or password\./);
      times[kind].push(res.ms);
    }
  }
  const known = median(times.known);
  for (const kind of ['unknown', 'disabled'] as const) {
    assert.ok(median(times[kind]) >= known / 3, `${kind}: ${times[kind].map((t) => t.toFixed(0)).join(', ')} ms vs known ${times.known.map((t) => t.toFixed(0)).join(', ')} ms`);
  }
});

test('a password hash with older scrypt parameters is re-hashed with today\'s at sign-in', async () => {
  // What Berth stored before N went from 2^15 to 2^17.
  const salt = randomBytes(16);
  const key = scryptSync('legacy-password', salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  const old = `scrypt$32768$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
  await berth.admin((s) => s.accounts.createUser({ login: 'legacy' }));
  await berth.query('update accounts set password_hash = ? where lower_login = ?', old, 'legacy');

  const first = await signInForm(berth, 'legacy', 'legacy-password');
  assert.equal(first.status, 303, first.text.slice(0, 200));
  const [row] = await berth.query<{ password_hash: string }>('select password_hash from accounts where lower_login = ?', 'legacy');
  assert.match(row!.password_hash, /^scrypt\$131072\$8\$1\$/, 'today\'s parameters');
  assert.notEqual(row!.password_hash, old);
  const again = await signInForm(berth, 'legacy', 'legacy-password');
  assert.equal(again.status, 303, 'the new hash verifies the same password');
  assert.equal((await signInForm(berth, 'legacy', 'other-password')).status, 401);
});
