// Passwords in the web UI (issue 13 §3), in Chromium against a real server: a user changes their own password
// (current one required, checked like the CLI checks it, other sessions signed out, this one kept); the instance
// admin creates users and organizations and sets a password, also a first one for a user created without; nobody
// else reaches those forms.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { inSession, launchBrowser, type UiSession } from '../helpers/browser.js';
import { signInForm } from '../helpers/sign-in.js';

const NOT_FOUND_LOG = /Failed to load resource: the server responded with a status of 4\d\d/;

describe('passwords in the web UI', () => {
  let berth: RunningBerth;
  let browser: Browser;
  const shots = process.env.BERTH_TEST_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'berth-ui-shots-'));

  before(async () => {
    berth = await startBerth();
    browser = await launchBrowser();
    await berth.admin(async (s) => {
      await s.accounts.createUser({ login: 'root', password: 'root-password', isAdmin: true });
      await s.accounts.createUser({ login: 'dana', password: 'dana-password' });
    });
  });
  after(async () => {
    await browser?.close();
    await berth?.stop();
  });

  /** Whether a session cookie still opens a page that needs a signed-in user. */
  async function signedIn(session: string): Promise<boolean> {
    const res = await berth.fetch('/settings/tokens', { auth: null, redirect: 'manual', headers: { cookie: `berth_session=${session}` } });
    await res.body?.cancel();
    return res.status === 200;
  }

  async function submitPasswordChange(ui: UiSession, current: string, next: string, confirm = next): Promise<void> {
    await ui.page.getByLabel('Current password').fill(current);
    await ui.page.getByLabel('New password', { exact: true }).fill(next);
    await ui.page.getByLabel('Confirm new password').fill(confirm);
    await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Update password' }).click()]);
  }

  it('a user changes their password: the current one is required, other sessions end, this one stays', async () => {
    const elsewhere = await signInForm(berth, 'dana', 'dana-password');
    assert.ok(elsewhere.session && await signedIn(elsewhere.session));
    await inSession(browser, berth.url, shots, 'dana', async (ui) => {
      await ui.goto('/settings/tokens');
      await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('link', { name: 'Password' }).click()]);
      assert.equal(new URL(ui.page.url()).pathname, '/settings/password');

      await submitPasswordChange(ui, 'not-my-password', 'dana-new-password');
      assert.match(await ui.page.getByRole('alert').innerText(), /The current password is not right/);
      await submitPasswordChange(ui, 'dana-password', 'dana-new-password', 'dana-other-password');
      assert.match(await ui.page.getByRole('alert').innerText(), /confirmation differ/);
      await submitPasswordChange(ui, 'dana-password', 'short');
      assert.match(await ui.page.getByRole('alert').innerText(), /at least 8 characters/, 'checked as the CLI checks it');
      ui.takeProblems();
      assert.ok(await signedIn(elsewhere.session!), 'refused changes end nothing');

      await submitPasswordChange(ui, 'dana-password', 'dana-new-password');
      assert.match(await ui.page.getByRole('status').innerText(), /Your password was changed/);
      assert.equal(await signedIn(elsewhere.session!), false, 'the other session is over');
      assert.equal(await ui.goto('/settings/tokens'), 200, 'this browser is still signed in');
    });
    assert.equal((await signInForm(berth, 'dana', 'dana-password')).status, 401);
    assert.equal((await signInForm(berth, 'dana', 'dana-new-password')).status, 303);
  });

  it('the admin creates a user without a password, gives it one, and creates an organization it owns', async () => {
    await inSession(browser, berth.url, shots, 'root', async (ui) => {
      await ui.goto('/admin');
      await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('link', { name: /Create users and organizations/ }).click()]);
      await ui.page.getByLabel('Username').fill('erin');
      await ui.page.getByLabel('E-mail (optional)').fill('erin@example.com');
      await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Create user' }).click()]);
      assert.match(await ui.page.getByRole('status').innerText(), /Created the user erin/);
      assert.equal((await signInForm(berth, 'erin', 'erin-password')).status, 401, 'no password yet');

      // A taken name comes back on the form with the service's words.
      await ui.page.getByLabel('Username').fill('ERIN');
      await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Create user' }).click()]);
      assert.match(await ui.page.getByRole('alert').innerText(), /already taken/);
      ui.takeProblems();

      // Logins are typed (the browser suggests known ones); an unknown one comes back on the form.
      const setPassword = ui.page.getByRole('region', { name: "Set a user's password" });
      assert.ok((await ui.page.locator('#known-users option').evaluateAll((o) => o.map((e) => e.getAttribute('value')))).includes('erin'));
      await setPassword.getByLabel('User').fill('nobody-here');
      await setPassword.getByLabel('New password').fill('erin-password');
      await Promise.all([ui.page.waitForNavigation(), setPassword.getByRole('button', { name: 'Set password' }).click()]);
      assert.match(await ui.page.getByRole('alert').innerText(), /nobody-here/);
      ui.takeProblems();
      await setPassword.getByLabel('User').fill('erin');
      await setPassword.getByLabel('New password').fill('erin-password');
      await Promise.all([ui.page.waitForNavigation(), setPassword.getByRole('button', { name: 'Set password' }).click()]);
      assert.match(await ui.page.getByRole('status').innerText(), /Set the password of erin/);

      const createOrg = ui.page.getByRole('region', { name: 'Create an organization' });
      await createOrg.getByLabel('Organization name').fill('globex');
      await createOrg.getByLabel('Owner').fill('erin');
      await Promise.all([ui.page.waitForNavigation(), createOrg.getByRole('button', { name: 'Create organization' }).click()]);
      assert.match(await ui.page.getByRole('status').innerText(), /Created the organization globex/);
    });
    assert.equal((await signInForm(berth, 'erin', 'erin-password')).status, 303);
    const members = await berth.admin((s) => s.accounts.members('globex'));
    assert.deepEqual(members, [{ login: 'erin', role: 'owner' }]);
    const [erin] = await berth.query<{ email: string; is_admin: number }>('select email, is_admin from accounts where login = ?', 'erin');
    assert.deepEqual({ ...erin }, { email: 'erin@example.com', is_admin: 0 });
  });

  it('the admin reset signs the user out everywhere', async () => {
    const dana = await signInForm(berth, 'dana', 'dana-new-password');
    assert.ok(dana.session && await signedIn(dana.session));
    await inSession(browser, berth.url, shots, 'root', async (ui) => {
      await ui.goto('/admin/users');
      const setPassword = ui.page.getByRole('region', { name: "Set a user's password" });
      await setPassword.getByLabel('User').fill('dana');
      await setPassword.getByLabel('New password').fill('dana-reset-password');
      await Promise.all([ui.page.waitForNavigation(), setPassword.getByRole('button', { name: 'Set password' }).click()]);
      assert.match(await ui.page.getByRole('status').innerText(), /Set the password of dana/);
    });
    assert.equal(await signedIn(dana.session!), false);
    assert.equal((await signInForm(berth, 'dana', 'dana-reset-password')).status, 303);
  });

  it('anyone but the instance admin gets 404 for the forms, and a post changes nothing', async () => {
    await inSession(browser, berth.url, shots, 'tester', async (ui) => {
      assert.equal(await ui.goto('/admin/users'), 404);
      const csrf = await ui.page.evaluate('document.querySelector("form[action=\'/logout\'] input[name=_csrf]").value') as string;
      const res = await ui.page.request.post(`${berth.url}/admin/users`, { form: { _csrf: csrf, login: 'mallory', password: 'mallory-password' } });
      assert.equal(res.status(), 404);
      ui.assertClean([NOT_FOUND_LOG]);
    });
    assert.equal(await berth.admin((s) => s.accounts.find('mallory')), null);
    const visitor = await berth.fetch('/admin/users', { auth: null, redirect: 'manual' });
    assert.equal(visitor.status, 404);
  });
});
