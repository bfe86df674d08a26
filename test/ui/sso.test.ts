// Single sign-on for the web UI (issue 13 §3) against a real OpenID provider (npm oidc-provider, certified) on
// loopback: in Chromium, the sign-in button → the provider's login and consent pages → back to Berth signed in, the
// user made from the claims and put in the team its group maps to (and out of it when the group goes). Over HTTP: a
// return whose state is not this browser's, and a code used twice, are refused. With local passwords off the
// sign-in page offers single sign-on only.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { inSession, launchBrowser, type UiSession } from '../helpers/browser.js';
import { startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { freePort } from '../helpers/ports.js';
import { signInForm } from '../helpers/sign-in.js';

describe('single sign-on through an OpenID provider', () => {
  let provider: OidcProvider;
  let berth: RunningBerth;
  let browser: Browser;
  const shots = process.env.BERTH_TEST_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'berth-ui-shots-'));

  before(async () => {
    const port = await freePort();
    provider = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${port}/login/sso/callback`] });
    provider.people.set('frank-sub', { preferred_username: 'frank', email: 'frank@example.com', groups: ['platform', 'unrelated'] });
    provider.people.set('tester-sub', { preferred_username: 'tester', email: 'someone-else@example.com' });
    provider.people.set('mail-sub', { preferred_username: 'gina@example.com' });
    berth = await startBerth({
      port,
      env: {
        BERTH_AUTH_SSO_ISSUER: provider.url, BERTH_AUTH_SSO_CLIENT_ID: provider.clientId, BERTH_AUTH_SSO_CLIENT_SECRET: provider.clientSecret,
        BERTH_AUTH_SSO_SCOPES: 'openid profile email groups', BERTH_AUTH_SSO_GROUPS_CLAIM: 'groups',
        BERTH_AUTH_SSO_TEAM_MAP: 'platform=acme/platform,ghosts=nowhere/team',
      },
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await berth?.stop();
    await provider?.stop();
  });

  /**
   * From Berth's sign-in page through the provider's login (as `subject`) and consent pages. `seen` gets the pending
   * cookie Berth set before leaving for the provider and the URL of the provider's return to Berth.
   */
  async function signInThroughProvider(ui: UiSession, subject: string, seen: { pending?: string; callback?: string } = {}): Promise<void> {
    ui.page.on('request', (r) => { if (r.url().includes('/login/sso/callback')) seen.callback = r.url(); });
    await ui.goto('/login?return_to=%2Fsettings%2Ftokens');
    await Promise.all([ui.page.waitForURL(`${provider.url}/**`), ui.page.getByRole('link', { name: 'Sign in with single sign-on' }).click()]);
    seen.pending = (await ui.context.cookies(berth.url)).find((c) => c.name === 'berth_sso')?.value;
    await ui.page.locator('input[name=login]').fill(subject);
    await ui.page.locator('input[name=password]').fill('any password the development page accepts');
    await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Sign-in' }).click()]);
    await ui.page.getByRole('button', { name: 'Continue' }).click();
  }

  /**
   * The problems of Berth's pages: the provider's development pages load a web font from the internet and have no
   * favicon (Chromium asks for one: a 404), which are not Berth's.
   */
  function berthProblems(ui: UiSession): string[] {
    return ui.takeProblems().filter((p) => !/fonts\.googleapis|ERR_NAME_NOT_RESOLVED|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION|net::ERR_FAILED|status of 404/.test(p));
  }

  it('a first sign-in makes the user from the claims, in the team its group maps to, and lands where it started', async () => {
    await inSession(browser, berth.url, shots, null, async (ui) => {
      await signInThroughProvider(ui, 'frank-sub');
      await ui.page.waitForURL(`${berth.url}/settings/tokens`);
      assert.equal(await ui.page.locator('.nav-login').innerText(), 'frank');
      assert.deepEqual(berthProblems(ui), []);
    });
    const [frank] = await berth.query<{ email: string; password_hash: string | null; is_admin: number }>(
      'select email, password_hash, is_admin from accounts where login = ?', 'frank');
    assert.deepEqual({ ...frank }, { email: 'frank@example.com', password_hash: null, is_admin: 0 });
    const teams = await berth.admin((s) => s.accounts.teams('acme'));
    assert.deepEqual(teams.find((t) => t.name === 'platform')?.members, ['frank']);
    assert.ok((await berth.admin((s) => s.accounts.members('acme'))).some((m) => m.login === 'frank' && m.role === 'member'));
    assert.match(berth.serverLog(), /auth\.sso\.teamMap names organizations that do not exist/);
    // A password sign-in as frank is impossible: the account has none.
    assert.equal((await signInForm(berth, 'frank', 'any password the development page accepts')).status, 401);
  });

  it('a later sign-in finds the same user by its subject and follows the groups: a group left, a team left', async () => {
    provider.people.set('frank-sub', { preferred_username: 'frank-renamed', email: 'frank@example.com', groups: [] });
    await inSession(browser, berth.url, shots, null, async (ui) => {
      await signInThroughProvider(ui, 'frank-sub');
      await ui.page.waitForURL(`${berth.url}/settings/tokens`);
      assert.equal(await ui.page.locator('.nav-login').innerText(), 'frank', 'the same user, whatever the username claim says now');
      assert.deepEqual(berthProblems(ui), []);
    });
    const teams = await berth.admin((s) => s.accounts.teams('acme'));
    assert.deepEqual(teams.find((t) => t.name === 'platform')?.members, []);
    assert.equal(await berth.admin((s) => s.accounts.find('frank-renamed')), null);
  });

  it('a provider username naming an existing local account is refused, never taken over', async () => {
    await inSession(browser, berth.url, shots, null, async (ui) => {
      await signInThroughProvider(ui, 'tester-sub');
      await ui.page.waitForURL(`${berth.url}/login/sso/callback**`);
      assert.match(await ui.page.locator('main').innerText(), /a Berth account named tester already exists and is not linked/);
      assert.equal(await ui.page.locator('.nav-login').count(), 0, 'not signed in');
      berthProblems(ui);
    });
  });

  it('a username claim that is not a valid login is refused with what the administrator must fix', async () => {
    await inSession(browser, berth.url, shots, null, async (ui) => {
      await signInThroughProvider(ui, 'mail-sub');
      await ui.page.waitForURL(`${berth.url}/login/sso/callback**`);
      assert.match(await ui.page.locator('main').innerText(), /the preferred_username claim \("gina@example\.com"\) is not a valid Berth username.*auth\.sso\.usernameClaim/s);
      berthProblems(ui);
    });
    assert.deepEqual(await berth.query('select subject from sso_identities where subject = ?', 'mail-sub'), []);
  });

  it('over HTTP: a return with another state, or without the pending cookie, is refused; a code is redeemed once', async () => {
    provider.people.set('frank-sub', { preferred_username: 'frank', groups: ['platform'] });
    const seen: { pending?: string; callback?: string } = {};
    await inSession(browser, berth.url, shots, null, async (ui) => {
      await signInThroughProvider(ui, 'frank-sub', seen);
      await ui.page.waitForURL(`${berth.url}/settings/tokens`);
      assert.equal(await ui.page.locator('.nav-login').innerText(), 'frank', 'the browser redeemed the code');
      berthProblems(ui);
    });
    const pending = seen.pending!;
    assert.ok(seen.callback?.includes('code=') && pending, 'the return and the pending cookie were seen');
    const back = new URL(seen.callback!);
    const get = (url: URL | string, cookie: string | null) => fetch(url, { redirect: 'manual', headers: cookie ? { cookie: `berth_sso=${cookie}` } : {} });

    const forged = new URL(back);
    forged.searchParams.set('state', 'a-state-this-browser-was-never-sent');
    const mismatch = await get(forged, pending);
    assert.equal(mismatch.status, 400);
    assert.match(await mismatch.text(), /state mismatch/);
    const noCookie = await get(back, null);
    assert.equal(noCookie.status, 400);
    assert.match(await noCookie.text(), /state mismatch/);

    // The browser's return signed in; the same code again, even with the pending values, is refused by the provider.
    const replay = await get(back, pending);
    assert.equal(replay.status, 401);
    assert.match(await replay.text(), /did not accept the authorization code \(invalid_grant\)/);
    assert.ok(!replay.headers.getSetCookie().some((c) => /^berth_session=[^;]+/.test(c)), 'no session for a replay');
  });
});

describe('single sign-on with local passwords turned off', () => {
  let berth: RunningBerth;

  before(async () => {
    berth = await startBerth({
      env: {
        // Nobody signs in through this provider here: the sign-in page and the password form are what is tested.
        BERTH_AUTH_SSO_ISSUER: 'http://127.0.0.1:9/unused', BERTH_AUTH_SSO_CLIENT_ID: 'berth', BERTH_AUTH_SSO_LOCAL_PASSWORDS: 'false',
      },
    });
  });
  after(() => berth?.stop());

  it('the sign-in page offers single sign-on only; a password is refused; the CLI still manages accounts', async () => {
    const page = await (await berth.fetch('/login', { auth: null })).text();
    assert.match(page, /Sign in with single sign-on/);
    assert.doesNotMatch(page, /type="password"/);
    // The form's double-submit CSRF pair (any value in both places), as a script replaying an old form would send.
    const post = (password: string) => berth.fetch('/login', {
      method: 'POST', auth: null, redirect: 'manual',
      headers: { cookie: 'berth_login_csrf=pair', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: 'pair', login: 'tester', password }).toString(),
    });
    const refused = await post('tester-password');
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /Passwords are turned off on this site/);
    assert.ok(!refused.headers.getSetCookie().some((c) => c.startsWith('berth_session=')));
    await berth.admin((s) => s.accounts.setPassword('tester', 'tester-new-password'));
    assert.equal((await post('tester-new-password')).status, 403, 'still off, whatever the password');
  });
});
