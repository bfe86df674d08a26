// Quotas and the storage figure in a real browser: the instance admin's view on /admin lists every owner with its
// storage, quota and packages and sets quotas with a plain form; the usage page shows the same figure as the package
// page, the REST stats and the CLI, warns near the quota, and says where the downloads of deleted packages are.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { inSession, launchBrowser, type UiSession } from '../helpers/browser.js';
import { MEDIA, pushImage, registryFetch, useAuthorization } from '../helpers/http.js';

let berth: RunningBerth;
let browser: Browser;
const shots = process.env.BERTH_TEST_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'berth-quota-shots-'));

before(async () => {
  berth = await startBerth({ env: { BERTH_QUOTA_WARNING: '50' } });
  useAuthorization(berth.authorization);
  browser = await launchBrowser();
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'site-admin', password: 'site-admin-password', isAdmin: true });
    await s.accounts.createOrg('shop', berth.user);
  });
  await pushImage(berth.url, 'shop/a', 'a', '1');
  await pushImage(berth.url, 'shop/b', 'b', '1');
  await pushImage(berth.url, 'shop/gone', 'gone', '1');
  // One download of the package deleted next: in the all-time total, not in any listed row.
  await (await registryFetch(`${berth.url}/v2/shop/gone/manifests/1`, { headers: { Accept: MEDIA.ociManifest } })).arrayBuffer();
  assert.equal((await berth.fetch('/api/v3/orgs/shop/packages/container/gone', { method: 'DELETE' })).status, 204);
});

after(async () => {
  await browser?.close();
  await berth?.stop();
});

const withSession = <T>(login: string, fn: (ui: UiSession) => Promise<T>): Promise<T> => inSession(browser, berth.url, shots, login, fn);
const figure = (): Promise<number> => berth.admin(async (s) => (await s.quotas.forOwner('shop')).bytes);

test('the admin\'s instance view lists every owner with storage, quota and packages, and sets a quota with its form', async () => {
  const bytes = await figure();
  assert.ok(bytes > 0);
  await withSession('site-admin', async (ui) => {
    assert.equal(await ui.goto('/usage'), 200);
    await Promise.all([ui.page.waitForNavigation(), ui.page.locator('[data-usage="instance-view"] a').click()]);
    assert.equal(new URL(ui.page.url()).pathname, '/admin');
    const row = ui.page.locator('tr[data-owner="shop"]');
    assert.equal(Number(await row.locator('td[data-bytes]').getAttribute('data-bytes')), bytes);
    assert.equal((await row.locator('td').first().innerText()).trim(), '2', 'live packages');
    assert.match(await row.innerText(), /none/);
    assert.equal(await ui.page.locator('tr[data-owner="acme"]').count(), 0, 'an owner with nothing stored and no quota is not listed');
    const total = Number(await ui.page.locator('[data-admin="storage-bytes"]').getAttribute('data-bytes'));
    assert.equal(total, bytes, 'the instance total adds up the owners\' figures');

    const quota = Math.ceil(bytes * 1.5);
    await ui.page.getByLabel('Owner or package').fill('shop');
    await ui.page.getByLabel('Quota', { exact: true }).fill(String(quota));
    await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Set quota' }).click()]);
    assert.match(await ui.page.locator('.flash-success').innerText(), /Quota saved/);
    assert.equal(Number(await ui.page.locator('tr[data-owner="shop"] td[data-quota]').getAttribute('data-quota')), quota);
    assert.match(await ui.page.locator('tr[data-owner="shop"]').innerText(), /66%/);
    await ui.screenshot(shots, 'admin-quotas');

    await ui.page.getByLabel('Owner or package').fill('shop');
    await ui.page.getByLabel('Quota', { exact: true }).fill('lots');
    const [response] = await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Set quota' }).click()]);
    assert.equal(response?.status(), 422);
    assert.match(await ui.page.locator('main').innerText(), /lots is not a size/);
    ui.takeProblems();
  });
  assert.equal(await berth.admin(async (s) => (await s.quotas.forOwner('shop')).quotaBytes), Math.ceil(bytes * 1.5));
});

test('the usage page shows the same storage figure as the package page and the CLI, warns near the quota, and counts deleted packages', async () => {
  const bytes = await figure();
  const statsOf = async (name: string): Promise<number> => ((await (await berth.fetch(`/api/v3/berth/orgs/shop/packages/container/${name}/stats`)).json()) as { size_in_bytes: number }).size_in_bytes;
  await withSession('tester', async (ui) => {
    assert.equal(await ui.goto('/orgs/shop/usage'), 200);
    assert.equal(Number(await ui.page.locator('[data-usage="total-bytes"]').getAttribute('data-bytes')), bytes);
    assert.match(await ui.page.locator('[data-usage="quota-warning"]').innerText(), /shop has used 66% of its .* storage quota/);
    const deleted = ui.page.locator('tr[data-usage="deleted-packages"]');
    assert.match(await deleted.innerText(), /1 deleted package/);
    const rows = await ui.page.locator('table[aria-labelledby="storage"] tbody tr').evaluateAll((trs) => trs.map((tr) => Number((tr as unknown as { cells: { textContent: string }[] }).cells[4]!.textContent.replace(/,/g, ''))));
    const all = Number((await ui.page.locator('.usage-stats div', { hasText: 'Downloads, all time' }).locator('dd').innerText()).replace(/,/g, ''));
    assert.equal(rows.reduce((a, b) => a + b, 0), all, 'the rows, deleted packages included, add up to the total');
    assert.equal(all, 1);
    let sum = 0;
    for (const name of ['a', 'b']) {
      const onUsage = Number(await ui.page.locator(`tr[data-package="${name}"] td[data-bytes]`).getAttribute('data-bytes'));
      assert.equal(onUsage, await statsOf(name));
      assert.equal(await ui.goto(`/orgs/shop/packages/container/package/${name}`), 200);
      assert.equal(Number(await ui.page.locator('[data-package="storage"]').getAttribute('data-bytes')), onUsage, `${name}: package page and usage page`);
      assert.equal(await ui.page.locator('dt', { hasText: /^Storage$/ }).count(), 1);
      sum += onUsage;
      await ui.goto('/orgs/shop/usage');
    }
    assert.equal(sum, bytes, 'two packages sharing nothing: the owner\'s figure is their sum');
    await ui.screenshot(shots, 'usage-quota-warning');
  });
});
