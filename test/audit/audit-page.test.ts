// The organization's audit-log page in Chromium, with JavaScript off (it needs none) under the strict CSP: an owner
// sees the records and narrows them with the action and actor filters; a member gets the 404 of a missing org.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { launchBrowser, openSession } from '../helpers/browser.js';
import { pushImage, useAuthorization } from '../helpers/http.js';

let berth: RunningBerth;
let browser: Browser;

before(async () => {
  berth = await startBerth();
  useAuthorization(berth.authorization);
  await pushImage(berth.url, 'acme/site', 'one', 'v1');
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'bob', password: 'bob-password-1234' });
    await s.accounts.addMember('acme', 'bob', 'member');
  });
  browser = await launchBrowser();
});
after(async () => {
  useAuthorization(null);
  await browser?.close();
  await berth?.stop();
});

test('an owner reads the audit log and filters it by action and actor, without JavaScript', async () => {
  const ui = await openSession(browser, berth.url, { javaScript: false });
  try {
    await ui.signIn('tester', 'tester-password');
    assert.equal(await ui.goto('/orgs/acme/settings'), 200);
    await ui.page.getByRole('link', { name: 'Audit log' }).click();
    assert.equal(new URL(ui.page.url()).pathname, '/orgs/acme/audit-log');
    const rows = () => ui.page.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action')));
    assert.deepEqual(await rows(), ['org.add_member', 'package.push', 'org.create']);
    assert.match(await ui.page.locator('tr[data-action="package.push"]').innerText(), /tester/);

    await ui.page.getByLabel('Action').fill('org');
    await ui.page.getByRole('button', { name: 'Filter' }).click();
    assert.deepEqual(await rows(), ['org.add_member', 'org.create']);
    assert.match(await ui.page.locator('tr[data-action="org.add_member"]').innerText(), /bob/);

    await ui.page.getByLabel('Action').fill('');
    await ui.page.getByLabel('Actor').fill('tester');
    await ui.page.getByRole('button', { name: 'Filter' }).click();
    assert.deepEqual(await rows(), ['package.push']);

    await ui.page.getByLabel('Actor').fill('nobody');
    await ui.page.getByRole('button', { name: 'Filter' }).click();
    assert.match(await ui.page.locator('#audit-empty').innerText(), /No audit records match/);
    assert.equal(await ui.goto('/orgs/acme/audit-log?action=Not.Valid'), 422);
    ui.assertClean([/status of 422/]);
  } finally {
    await ui.close();
  }
});

test('a member who is not an owner gets 404', async () => {
  const ui = await openSession(browser, berth.url, { javaScript: false });
  try {
    await ui.signIn('bob', 'bob-password-1234');
    assert.equal(await ui.goto('/orgs/acme/audit-log'), 404);
  } finally {
    await ui.close();
  }
});
