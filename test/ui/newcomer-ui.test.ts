// Web UI frictions a newcomer met (issue 18), in Chromium: the empty state names the real registry host and
// namespace, the header stays one tidy block on a 390 px phone, the token form shows the custom date only for
// "Custom…" (with and without JavaScript), and deleting a version takes a second, confirming click.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { inSession, launchBrowser, type UiSession } from '../helpers/browser.js';
import { api } from '../helpers/github.js';
import { pushImage, useAuthorization } from '../helpers/http.js';

let berth: RunningBerth;
let browser: Browser;
const shots = process.env.BERTH_TEST_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'berth-newcomer-shots-'));

before(async () => {
  berth = await startBerth();
  useAuthorization(berth.authorization);
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'newbie', password: 'newbie-password' });
    await s.accounts.createUser({ login: 'root', password: 'root-password', isAdmin: true });
    await s.accounts.addMember('acme', 'root', 'owner');
  });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await berth?.stop();
});

async function withSession<T>(login: string, fn: (ui: UiSession) => Promise<T>, opts: { javaScript?: boolean; viewport?: { width: number; height: number } } = {}): Promise<T> {
  return inSession(browser, berth.url, shots, login, fn, opts);
}

test('the empty package list shows the push command with the real host and namespace', async () => {
  await withSession('newbie', async (ui) => {
    assert.equal(await ui.goto('/users/newbie/packages'), 200);
    const text = await ui.page.locator('main').innerText();
    assert.ok(text.includes(`docker push ${berth.host}/newbie/IMAGE:TAG`), text);
    assert.doesNotMatch(text, /HOST\//);
  });
});

test('at 390 px the header keeps brand, account and every nav link on two rows, nothing overlapping or off screen', async () => {
  await withSession('root', async (ui) => {
    for (const path of ['/orgs/acme/packages', '/settings/tokens/new']) {
      await ui.goto(path);
      const boxes = await ui.page.evaluate(`(() => {
        const r = (el) => { const b = el.getBoundingClientRect(); return { left: b.left, right: b.right, top: b.top, bottom: b.bottom }; };
        return {
          header: r(document.querySelector('.site-header')),
          brand: r(document.querySelector('.brand')),
          account: r(document.querySelector('.nav-account')),
          links: [...document.querySelectorAll('.nav-links a')].map(r),
          scrollWidth: document.documentElement.scrollWidth,
        };
      })()`) as { header: Box; brand: Box; account: Box; links: Box[]; scrollWidth: number };
      assert.equal(boxes.links.length, 4, 'Packages, Usage, Settings, Admin');
      assert.ok(boxes.scrollWidth <= 390, `the page scrolls sideways: ${boxes.scrollWidth}px`);
      const tops = new Set(boxes.links.map((l) => Math.round(l.top)));
      assert.equal(tops.size, 1, `the nav links are on one row, not stacked: ${JSON.stringify(boxes.links)}`);
      const all = [boxes.brand, boxes.account, ...boxes.links];
      for (const [i, a] of all.entries()) {
        assert.ok(a.left >= 0 && a.right <= 390, `inside the viewport: ${JSON.stringify(a)}`);
        assert.ok(a.top >= boxes.header.top && a.bottom <= boxes.header.bottom, `inside the header: ${JSON.stringify(a)}`);
        for (const b of all.slice(i + 1)) assert.ok(!overlaps(a, b), `${JSON.stringify(a)} overlaps ${JSON.stringify(b)}`);
      }
      assert.ok(boxes.header.bottom - boxes.header.top <= 110, `a compact header: ${boxes.header.bottom - boxes.header.top}px`);
    }
    await ui.screenshot(shots, 'header-390');
  }, { viewport: { width: 390, height: 844 } });
});

type Box = { left: number; right: number; top: number; bottom: number };
const overlaps = (a: Box, b: Box): boolean => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;

for (const javaScript of [true, false]) {
  test(`the custom expiry date shows only with "Custom…" and makes a token with that date (JavaScript ${javaScript ? 'on' : 'off'})`, async () => {
    await withSession('newbie', async (ui) => {
      await ui.goto('/settings/tokens/new');
      const date = ui.page.locator('#expires_on');
      assert.equal(await date.isVisible(), false, 'hidden with the default expiration');
      await ui.page.selectOption('#expiration', 'custom');
      assert.equal(await date.isVisible(), true, 'shown with Custom…');
      await ui.page.selectOption('#expiration', '7');
      assert.equal(await date.isVisible(), false, 'hidden again');
      await ui.page.selectOption('#expiration', 'custom');
      await date.fill('2030-01-31');
      await ui.page.fill('#note', `custom expiry ${javaScript}`);
      await ui.page.check('input[name="scopes"][value="read:packages"]');
      await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: /generate token/i }).click()]);
      assert.match(await ui.page.locator('main').innerText(), /expires 2030-0[12]-\d\d/);
    }, { javaScript });
  });

  test(`deleting a version asks for a second click (JavaScript ${javaScript ? 'on' : 'off'})`, async () => {
    const name = `acme/confirm-${javaScript ? 'js' : 'nojs'}`;
    await pushImage(berth.url, name, `${name}-a`, 'keep');
    await pushImage(berth.url, name, `${name}-b`, 'doomed');
    const versions = await api<{ id: number; metadata: { container: { tags: string[] } } }[]>(berth, `/v3/orgs/acme/packages/container/${name.split('/')[1]}/versions`);
    const doomed = versions.body.find((v) => v.metadata.container.tags.includes('doomed'))!;
    await withSession('root', async (ui) => {
      await ui.goto(`/orgs/acme/packages/container/${name.split('/')[1]}/${doomed.id}`);
      const confirm = ui.page.getByRole('button', { name: 'Yes, delete this version' });
      assert.equal(await confirm.isVisible(), false, 'no one-click delete');
      await ui.page.locator('summary', { hasText: 'Delete version…' }).click();
      assert.equal(await confirm.isVisible(), true);
      assert.match(await ui.page.locator('.confirm-step').innerText(), /and its tag doomed\?/);
      await Promise.all([ui.page.waitForNavigation(), confirm.click()]);
      assert.match(new URL(ui.page.url()).search, /state=deleted/);
    }, { javaScript });
    assert.equal((await api(berth, `/v3/orgs/acme/packages/container/${name.split('/')[1]}/versions/${doomed.id}`)).status, 404);
  });
}
