// The instance-wide audit page (/admin/audit) in Chromium with JavaScript off: an instance admin sees every
// organization's records and Berth's own, among them one `gc.run` per `berth gc --delete` with its counts and the
// actor "system", and filters them like the organization's page; anyone else gets the ordinary 404.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { inSession, launchBrowser, type UiSession } from '../helpers/browser.js';
import { builtCli } from '../helpers/built-cli.js';
import { pushBlob, pushImage, useAuthorization } from '../helpers/http.js';

const NOT_FOUND_LOG = /status of 404/;
let berth: RunningBerth;
let browser: Browser;
const shots = process.env.BERTH_TEST_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'berth-admin-audit-shots-'));

before(async () => {
  berth = await startBerth();
  useAuthorization(berth.authorization);
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'root', password: 'root-password', isAdmin: true });
    await s.accounts.createUser({ login: 'bob', password: 'bob-password' });
  });
  await pushImage(berth.url, 'acme/site', 'one', 'v1');
  // A blob no manifest references: what GC deletes.
  await pushBlob(berth.url, 'acme/site', Buffer.from('garbage for the collector'));
  const r = spawnSync(process.execPath, [builtCli(), 'gc', '--delete', '--grace', '0s', '--data', berth.dataDir], {
    encoding: 'utf8', env: { ...process.env, ...berth.metadataEnv, BERTH_LOG_LEVEL: 'warn' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /blobs no repository uses: deleted 1 /);
  browser = await launchBrowser();
});
after(async () => {
  useAuthorization(null);
  await browser?.close();
  await berth?.stop();
});

const rows = (ui: UiSession) => ui.page.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action')));

test('an instance admin reads the whole instance\'s audit log, GC runs included, and filters it', async () => {
  await inSession(browser, berth.url, shots, 'root', async (ui) => {
    assert.equal(await ui.goto('/admin'), 200);
    await ui.page.getByRole('link', { name: 'Audit log' }).click();
    assert.equal(new URL(ui.page.url()).pathname, '/admin/audit');
    const all = await rows(ui);
    // Newest first: root's sign-in, the GC run, then the organization's records.
    assert.deepEqual(all.slice(0, 2), ['user.login', 'gc.run']);
    assert.ok(all.includes('package.push') && all.includes('org.create'), all.join(', '));
    assert.match(await ui.page.locator('tr[data-action="package.push"]').innerText(), /acme/);

    await ui.page.getByLabel('Action').fill('gc');
    await ui.page.getByRole('button', { name: 'Filter' }).click();
    assert.deepEqual(await rows(ui), ['gc.run']);
    const gc = await ui.page.locator('tr[data-action="gc.run"]').innerText();
    assert.match(gc, /system/);
    assert.match(gc, /"blobs":1/);
    assert.match(gc, /"bytes":25/);

    await ui.page.getByLabel('Action').fill('');
    await ui.page.getByLabel('Actor').fill('system');
    await ui.page.getByRole('button', { name: 'Filter' }).click();
    assert.deepEqual(await rows(ui), ['gc.run']);
  }, { javaScript: false });
});

test('anyone but an instance admin gets 404', async () => {
  await inSession(browser, berth.url, shots, 'bob', async (ui) => {
    assert.equal(await ui.goto('/admin/audit'), 404);
    ui.assertClean([NOT_FOUND_LOG]);
  }, { javaScript: false });
  const visitor = await berth.fetch('/admin/audit', { redirect: 'manual' });
  assert.equal(visitor.status, 303, 'a visitor is asked to sign in');
});
