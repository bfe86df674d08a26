// The webhook settings pages in Chromium with JavaScript off (plain forms, CSRF token, redirect after post), against
// a real HTTP receiver on loopback (webhooks.allowPrivateTargets, as tests must allow it explicitly): an owner adds
// a hook, reads its delivery log (request headers and body, response status and body, attempts), redelivers a
// delivery with its id, edits and deletes the hook; a member who is not an owner gets the 404 of a missing org.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { inSession, launchBrowser, type UiSession } from '../helpers/browser.js';
import { pushImage, useAuthorization } from '../helpers/http.js';
import { Receiver, signedWith, until } from '../helpers/webhook-receiver.js';

const SECRET = 'receiver-shared-secret';
const NOT_FOUND_LOG = /status of 404/;
let berth: RunningBerth;
let browser: Browser;
let rx: Receiver;
const shots = process.env.BERTH_TEST_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'berth-hook-shots-'));

before(async () => {
  rx = await new Receiver().start();
  berth = await startBerth({ env: { BERTH_WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true', BERTH_WEBHOOKS_POLL_INTERVAL: '200ms' } });
  useAuthorization(berth.authorization);
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'bob', password: 'bob-password' });
    await s.accounts.addMember('acme', 'bob', 'member');
    await s.accounts.createUser({ login: 'root', password: 'root-password', isAdmin: true });
  });
  browser = await launchBrowser();
});
after(async () => {
  useAuthorization(null);
  await browser?.close();
  await berth?.stop();
  await rx?.stop();
});

/** The delivery log's items as [status, event] pairs, after reloading the page. */
async function log(ui: UiSession): Promise<{ status: string | null; guid: string | null; text: string }[]> {
  await ui.page.reload();
  return ui.page.locator('#deliveries > li').evaluateAll((items) => items.map((li) => ({
    status: li.getAttribute('data-status'), guid: li.getAttribute('data-guid'), text: li.textContent ?? '',
  })));
}

test('an owner adds a webhook, reads its delivery log, redelivers, edits and deletes it, without JavaScript', async () => {
  await inSession(browser, berth.url, shots, 'tester', async (ui) => {
    assert.equal(await ui.goto('/orgs/acme/settings'), 200);
    await ui.page.getByRole('link', { name: 'Webhooks' }).click();
    assert.equal(new URL(ui.page.url()).pathname, '/orgs/acme/settings/hooks');
    assert.match(await ui.page.locator('#hooks-empty').innerText(), /No webhooks yet/);

    await ui.page.getByLabel('Payload URL').fill(rx.url);
    await ui.page.getByLabel('Secret').fill(SECRET);
    await ui.page.getByLabel('Every event').uncheck();
    await ui.page.getByLabel('package (published, updated)', { exact: true }).check();
    await ui.page.getByRole('button', { name: 'Add webhook' }).click();
    assert.match(new URL(ui.page.url()).pathname, /^\/orgs\/acme\/settings\/hooks\/\d+$/);
    assert.match(await ui.page.locator('main').innerText(), /Webhook created/);
    assert.match(await ui.page.locator('#hook-state').innerText(), /active/);

    // The ping GitHub sends a new hook, then a push's package event: both in the log, delivered, signed.
    const ping = await until('the ping', () => rx.of('ping')[0]);
    assert.ok(signedWith(ping, SECRET));
    await pushImage(berth.url, 'acme/hooked-ui', 'one', 'v1');
    const event = await until('the package event', () => rx.of('package')[0]);
    assert.ok(signedWith(event, SECRET), 'the signature verifies with the secret typed into the form');
    const items = await until('both delivered in the log', async () => {
      const l = await log(ui);
      return l.length === 2 && l.every((i) => i.status === 'delivered') ? l : undefined;
    });
    assert.match(items[0]!.text, /package\.published/);
    assert.equal(items[0]!.guid, event.headers['x-github-delivery']);
    assert.match(items[1]!.text, /ping/);

    // One delivery opened: request headers and body, response status and body, attempts.
    const item = ui.page.locator(`#deliveries > li[data-guid="${items[0]!.guid}"]`);
    await item.locator('summary').click();
    const headers = await item.locator('.request-headers').innerText();
    assert.match(headers, /x-github-event: package/);
    assert.match(headers, new RegExp(`x-github-delivery: ${items[0]!.guid}`));
    assert.match(headers, /x-hub-signature-256: sha256=…/);
    assert.ok(!headers.includes(SECRET));
    assert.equal((JSON.parse(await item.locator('.request-body').innerText()) as { package: { name: string } }).package.name, 'hooked-ui');
    assert.equal(await item.locator('.response-status').innerText(), '200');
    assert.equal(await item.locator('.response-body').innerText(), 'answer 200');
    assert.equal(await item.locator('.attempts').innerText(), '1');

    // Redeliver: the same X-GitHub-Delivery id and body, sent again, and a second entry in the log.
    await item.getByRole('button', { name: 'Redeliver' }).click();
    assert.match(await ui.page.locator('main').innerText(), /Redelivery queued/);
    const copies = await until('the redelivery', () => {
      const c = rx.received.filter((r) => r.headers['x-github-delivery'] === event.headers['x-github-delivery']);
      return c.length === 2 ? c : undefined;
    });
    assert.equal(copies[1]!.raw, copies[0]!.raw);
    const after = await until('the redelivery in the log', async () => {
      const l = await log(ui);
      return l.length === 3 && l[0]!.status === 'delivered' ? l : undefined;
    });
    assert.equal(after[0]!.guid, event.headers['x-github-delivery']);
    assert.match(after[0]!.text, /redelivery/);

    // Edit: turned off, the secret kept (the field left empty), one more event.
    await ui.page.getByLabel('berth_package (deleted').check();
    await ui.page.getByLabel('Active').uncheck();
    await ui.page.getByRole('button', { name: 'Save webhook' }).click();
    assert.match(await ui.page.locator('main').innerText(), /Webhook saved/);
    assert.match(await ui.page.locator('#hook-state').innerText(), /inactive/);
    assert.ok(await ui.page.getByLabel('berth_package (deleted').isChecked());
    assert.match(await ui.page.locator('#hook-secret-help').innerText(), /A secret is set/);

    // Bad input: the form's error page, with the reason and the right status.
    const hookPath = new URL(ui.page.url()).pathname;
    await ui.page.getByLabel('Payload URL').fill('ftp://example.com/hook');
    const [refused] = await Promise.all([ui.page.waitForResponse((r) => r.request().method() === 'POST'), ui.page.getByRole('button', { name: 'Save webhook' }).click()]);
    assert.equal(refused.status(), 422);
    assert.match(await ui.page.locator('main').innerText(), /http|https/i);
    ui.takeProblems();

    assert.equal(await ui.goto(hookPath), 200);
    await ui.page.locator('summary', { hasText: 'Delete webhook' }).click();
    await ui.page.getByRole('button', { name: 'Delete this webhook' }).click();
    assert.equal(new URL(ui.page.url()).pathname, '/orgs/acme/settings/hooks');
    assert.match(await ui.page.locator('main').innerText(), /Webhook deleted/);
    assert.match(await ui.page.locator('#hooks-empty').innerText(), /No webhooks yet/);
    assert.equal(await ui.goto(hookPath), 404);
    ui.assertClean([NOT_FOUND_LOG]);
  }, { javaScript: false });
});

test('a member who is not an owner gets 404 for the webhook pages; a form posted without the CSRF token is refused', async () => {
  await inSession(browser, berth.url, shots, 'bob', async (ui) => {
    assert.equal(await ui.goto('/orgs/acme/settings/hooks'), 404);
    ui.assertClean([NOT_FOUND_LOG]);
  }, { javaScript: false });
  await inSession(browser, berth.url, shots, 'tester', async (ui) => {
    const res = await ui.page.request.post('/orgs/acme/settings/hooks', { form: { url: rx.url, events: '*', active: '1' } });
    assert.equal(res.status(), 403);
    assert.equal((await ui.page.request.get('/orgs/acme/settings/hooks')).status(), 200);
  });
});

test('a package\'s webhooks get its events only; a user\'s those of their namespace (the same pages)', async () => {
  const own = await new Receiver().start();
  const pkgRx = await new Receiver().start();
  try {
    await pushImage(berth.url, 'acme/scoped-ui', 's1', 'v1');
    await inSession(browser, berth.url, shots, 'tester', async (ui) => {
      assert.equal(await ui.goto('/orgs/acme/packages/container/scoped-ui/settings'), 200);
      await ui.page.getByRole('link', { name: 'manage webhooks' }).click();
      assert.equal(new URL(ui.page.url()).pathname, '/orgs/acme/packages/container/scoped-ui/settings/hooks');
      await ui.page.getByLabel('Payload URL').fill(pkgRx.url);
      await ui.page.getByRole('button', { name: 'Add webhook' }).click();
      assert.match(await ui.page.locator('main').innerText(), /Webhook created/);

      assert.equal(await ui.goto('/settings/tokens'), 200);
      await ui.page.getByRole('link', { name: 'Webhooks' }).click();
      assert.equal(new URL(ui.page.url()).pathname, '/settings/hooks');
      await ui.page.getByLabel('Payload URL').fill(own.url);
      await ui.page.getByRole('button', { name: 'Add webhook' }).click();
      assert.match(await ui.page.locator('main').innerText(), /Webhook created/);

      await pushImage(berth.url, 'acme/scoped-ui', 's2', 'v2');
      await pushImage(berth.url, 'acme/elsewhere-ui', 'e1', 'v1');
      await pushImage(berth.url, `${berth.user}/mine-ui`, 'm1', 'v1');
      const mine = await until('the user hook\'s event', () => own.of('package')[0]);
      assert.equal((mine.body.package as { name: string }).name, 'mine-ui');
      const scoped = await until('the package hook\'s event', () => pkgRx.of('package')[0]);
      assert.equal((scoped.body.package as { name: string }).name, 'scoped-ui');
      // Both shown in their hook's log.
      const items = await until('the user hook\'s log', async () => {
        const l = await log(ui);
        return l.some((i) => i.status === 'delivered' && /package\.published/.test(i.text)) ? l : undefined;
      });
      assert.ok(items.some((i) => i.guid === mine.headers['x-github-delivery']));
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(pkgRx.of('package').map((r) => (r.body.package as { name: string }).name), ['scoped-ui']);
      assert.deepEqual(own.of('package').map((r) => (r.body.package as { name: string }).name), ['mine-ui']);
    }, { javaScript: false });
    // bob cannot see the package's webhooks (nor the package), nor anyone's but his own.
    await inSession(browser, berth.url, shots, 'bob', async (ui) => {
      assert.equal(await ui.goto('/orgs/acme/packages/container/scoped-ui/settings/hooks'), 404);
      assert.equal(await ui.goto('/settings/hooks'), 200);
      assert.match(await ui.page.locator('#hooks-empty').innerText(), /No webhooks yet/);
      ui.assertClean([NOT_FOUND_LOG]);
    }, { javaScript: false });
  } finally {
    await own.stop();
    await pkgRx.stop();
  }
});

test('an instance admin\'s webhook at /admin/hooks gets every namespace\'s events; anyone else gets 404', async () => {
  const instanceRx = await new Receiver().start();
  try {
    await inSession(browser, berth.url, shots, 'root', async (ui) => {
      assert.equal(await ui.goto('/admin'), 200);
      await ui.page.getByRole('link', { name: 'Webhooks' }).click();
      assert.equal(new URL(ui.page.url()).pathname, '/admin/hooks');
      await ui.page.getByLabel('Payload URL').fill(instanceRx.url);
      await ui.page.getByLabel('Secret').fill(SECRET);
      await ui.page.getByRole('button', { name: 'Add webhook' }).click();
      assert.match(new URL(ui.page.url()).pathname, /^\/admin\/hooks\/\d+$/);
      assert.match(await ui.page.locator('main').innerText(), /Webhook created/);

      await pushImage(berth.url, 'acme/instance-ui', 'i1', 'v1');
      await pushImage(berth.url, `${berth.user}/instance-mine-ui`, 'i2', 'v1');
      const names = await until('both namespaces\' events', () => {
        const got = instanceRx.of('package').map((r) => (r.body.package as { name: string }).name).sort();
        return got.length >= 2 ? got : undefined;
      });
      assert.deepEqual(names, ['instance-mine-ui', 'instance-ui']);
      assert.ok(instanceRx.of('package').every((r) => signedWith(r, SECRET)));
      const items = await until('the delivery log', async () => {
        const l = await log(ui);
        return l.filter((i) => i.status === 'delivered' && /package\.published/.test(i.text)).length >= 2 ? l : undefined;
      });
      assert.ok(items.some((i) => /ping/.test(i.text)));
    }, { javaScript: false });
    for (const login of ['tester', 'bob']) {
      await inSession(browser, berth.url, shots, login, async (ui) => {
        assert.equal(await ui.goto('/admin/hooks'), 404);
        ui.assertClean([NOT_FOUND_LOG]);
      }, { javaScript: false });
    }
  } finally {
    await instanceRx.stop();
  }
});
