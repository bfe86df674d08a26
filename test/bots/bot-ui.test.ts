// The organization settings page's Bots section in Chromium: create (the token shown once), list without secrets,
// rotate (old token refused), revoke; and the sign-in form refusing a bot.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { launchBrowser, openSession, type UiSession } from '../helpers/browser.js';

let berth: RunningBerth;
let browser: Browser;

before(async () => {
  berth = await startBerth();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await berth?.stop();
});

async function withSession<T>(login: string | null, fn: (ui: UiSession) => Promise<T>, allowed: RegExp[] = []): Promise<T> {
  const ui = await openSession(browser, berth.url);
  try {
    if (login) await ui.signIn(login, `${login}-password`);
    const result = await fn(ui);
    ui.assertClean(allowed);
    return result;
  } finally {
    await ui.close();
  }
}

/** Whether a bot token gets a registry token for acme/api (200) or is refused (401). */
async function tokenStatus(token: string): Promise<number> {
  const res = await berth.fetch(`/token?service=${encodeURIComponent(berth.host)}&scope=repository:acme/api:pull`, {
    auth: `Basic ${Buffer.from(`acme+deployer:${token}`).toString('base64')}`,
  });
  return res.status;
}

describe('Bots on the organization settings page', () => {
  it('an owner creates a bot and sees its token once, rotates it, revokes it', async () => {
    await withSession('tester', async (ui) => {
      assert.equal(await ui.goto('/orgs/acme/settings'), 200);
      const bots = ui.page.locator('section[aria-labelledby="bots"]');
      assert.match(await bots.innerText(), /acme has no bots/);
      await bots.getByLabel('Bot name').fill('deployer');
      await bots.getByLabel('Bot packages').fill('api, web-*');
      await bots.getByLabel('push').check();
      await bots.getByLabel('Description (optional)').fill('prod cluster');
      await Promise.all([ui.page.waitForNavigation(), bots.getByRole('button', { name: 'Create bot' }).click()]);
      assert.match(await ui.page.locator('h1').innerText(), /Bot acme\+deployer created/);
      const first = (await ui.page.getByLabel('Token of acme+deployer').innerText()).trim();
      assert.match(first, /^berth_bot_[0-9A-Za-z]{36}$/);
      assert.match(await ui.page.locator('main').innerText(), /may pull, push api, web-\* in acme · never expires/);
      assert.equal(await tokenStatus(first), 200);

      // The listing: what it may do and the token's hint, never the token.
      await ui.goto('/orgs/acme/settings#bots');
      const row = ui.page.locator('tr[data-bot="deployer"]');
      const text = await row.innerText();
      assert.match(text, /acme\+deployer/);
      assert.match(text, /prod cluster/);
      assert.match(text, /pull, push/);
      assert.ok(!(await ui.page.content()).includes(first.slice(14)), 'no token on the settings page');

      await row.getByLabel('Expiry of the new token of acme+deployer').selectOption('90');
      await Promise.all([ui.page.waitForNavigation(), row.getByRole('button', { name: 'Rotate the token of acme+deployer' }).click()]);
      assert.match(await ui.page.locator('h1').innerText(), /Bot acme\+deployer has a new token/);
      assert.match(await ui.page.locator('main').innerText(), /expires \d/);
      const second = (await ui.page.getByLabel('Token of acme+deployer').innerText()).trim();
      assert.notEqual(second, first);
      assert.equal(await tokenStatus(first), 401);
      assert.equal(await tokenStatus(second), 200);

      await ui.goto('/orgs/acme/settings');
      await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Revoke acme+deployer' }).click()]);
      assert.match(await ui.page.locator('.flash').innerText(), /Bot revoked/);
      assert.equal(await ui.page.locator('tr[data-bot="deployer"]').count(), 0);
      assert.equal(await tokenStatus(second), 401);
    });
  });

  it('says what is wrong with the form', async () => {
    await withSession('tester', async (ui) => {
      await ui.goto('/orgs/acme/settings');
      const bots = ui.page.locator('section[aria-labelledby="bots"]');
      await bots.getByLabel('Bot name').fill('builder');
      await bots.getByLabel('Bot packages').fill('API');
      await Promise.all([ui.page.waitForNavigation(), bots.getByRole('button', { name: 'Create bot' }).click()]);
      assert.match(await ui.page.locator('main').innerText(), /packages: "API" is not a package name or glob/);
    }, [/status of 422/]);
    assert.deepEqual(await berth.admin(async (s) => s.bots.list((await s.accounts.find('acme'))!.id)), []);
  });

  it('a bot cannot sign in to the web UI: the form says so', async () => {
    const token = await berth.admin(async (s) => {
      const org = (await s.accounts.find('acme'))!;
      return (await s.bots.create(org.id, { name: 'signer', description: '', packages: ['api'], actions: ['pull'], expiresAt: null }, null)).token;
    });
    await withSession(null, async (ui) => {
      await ui.goto('/login');
      await ui.page.getByLabel('Username').fill('acme+signer');
      await ui.page.getByLabel('Password').fill(token);
      await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Sign in' }).click()]);
      assert.match(await ui.page.locator('.flash').innerText(), /acme\+signer is a bot account: bots are not people and cannot sign in to the web UI/);
      assert.equal((await ui.context.cookies()).some((c) => c.name === 'berth_session'), false);
    }, [/status of 403/]);
  });
});
