// The pull-through caches in a real browser (issue 17): /mirrors and /mirrors/{namespace} show each upstream and
// its cached packages with upstream repository, size and last pull to whom mirror.access lets pull (signed-in users
// here; visitors are sent to sign in), and /admin/mirrors, linked from /admin, shows instance admins the numbers and
// the commands that manage the cache. CNCF registry on loopback as the upstream.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { inSession, launchBrowser, type UiSession } from '../helpers/browser.js';
import { skopeoCopy } from '../helpers/clients.js';
import { writeImageLayout, type BuiltImage } from '../helpers/oci-image.js';
import { startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.js';

/** A 404 page is a failed document load, which Chromium reports on the console: expected where a test asks for one. */
const NOT_FOUND_LOG = /Failed to load resource: the server responded with a status of 404/;

let upstream: UpstreamRegistry;
let berth: RunningBerth;
let browser: Browser;
let work: string;
let image: BuiltImage;
const shots = process.env.BERTH_TEST_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'berth-ui-shots-'));

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-mirror-ui-'));
  upstream = await startUpstreamRegistry();
  const passwordFile = join(work, 'upstream-password');
  writeFileSync(passwordFile, `${upstream.password}\n`);
  berth = await startBerth({
    env: {
      BERTH_MIRROR_UPSTREAMS_HUB_URL: upstream.url, BERTH_MIRROR_UPSTREAMS_HUB_USERNAME: upstream.username,
      BERTH_MIRROR_UPSTREAMS_HUB_PASSWORD_FILE: passwordFile, BERTH_MIRROR_UPSTREAMS_HUB_DEFAULT: 'true',
      BERTH_MIRROR_UPSTREAMS_HUB_EVICT_AFTER: '30d',
    },
  });
  browser = await launchBrowser();
  const layout = join(work, 'app');
  image = await writeImageLayout(layout, { layers: [4096, 50_000], tag: 'v1' });
  await skopeoCopy(`oci:${layout}:v1`, `docker://${upstream.host}/library/app:v1`, [], { creds: upstream.creds });
  await skopeoCopy(`docker://${berth.host}/hub/library/app:v1`, `oci:${join(work, 'pulled')}:v1`, [], { creds: `${berth.user}:${berth.token}` });
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'reader', password: 'reader-password', isAdmin: false });
    await s.accounts.createUser({ login: 'root', password: 'root-password', isAdmin: true });
  });
});

after(async () => {
  await browser?.close();
  await berth?.stop();
  await upstream?.stop();
  await rm(work, { recursive: true, force: true });
});

function withSession<T>(login: string | null, fn: (ui: UiSession) => Promise<T>): Promise<T> {
  return inSession(browser, berth.url, shots, login, fn);
}

test('visitors are sent to sign in when mirrors are for signed-in users', async () => {
  await withSession(null, async (ui) => {
    await ui.goto('/mirrors');
    assert.equal(new URL(ui.page.url()).pathname, '/login');
    ui.takeProblems();
  });
});

test('a signed-in user finds the mirror and its cached package with upstream repository, size and last pull', async () => {
  await withSession('reader', async (ui) => {
    assert.equal(await ui.goto('/mirrors'), 200);
    const row = ui.page.locator('tr[data-mirror="hub"]');
    assert.match(await row.innerText(), new RegExp(`hub\\s+default\\s+${upstream.url.replace(/[.]/g, '\\.')}\\s+1\\s+`));
    assert.equal(await ui.page.getByRole('link', { name: 'Manage mirrors' }).count(), 0);
    await Promise.all([ui.page.waitForNavigation(), row.getByRole('link', { name: 'hub' }).click()]);
    assert.equal(new URL(ui.page.url()).pathname, '/mirrors/hub');
    assert.match(await ui.page.locator('main').innerText(), /not pulled for 30d are evicted/);
    assert.equal(await ui.page.getByRole('heading', { name: '1 cached package' }).count(), 1);
    const cached = ui.page.locator('tr[data-cached="hub/library/app"]');
    const size = image.manifest.size + image.config.size + image.layers.reduce((n, l) => n + l.size, 0); // the storage figure: blobs and manifest
    assert.equal(await cached.locator('td[data-bytes]').getAttribute('data-bytes'), String(size));
    assert.match(await cached.innerText(), /library\/app\s+1\s+/);
    assert.match(await cached.locator('td[data-last-pull]').innerText(), /ago|now/);
    // The admin view is not advertised to others.
    assert.equal(await ui.goto('/admin/mirrors'), 404);
    ui.takeProblems().forEach((p) => assert.match(p, NOT_FOUND_LOG));
  });
});

test('an instance admin reaches /admin/mirrors from /admin and sees the numbers and the commands', async () => {
  await withSession('root', async (ui) => {
    assert.equal(await ui.goto('/admin'), 200);
    await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('link', { name: 'Pull-through mirrors' }).click()]);
    assert.equal(new URL(ui.page.url()).pathname, '/admin/mirrors');
    const row = ui.page.locator('tr[data-admin-mirror="hub"]');
    assert.match(await row.innerText(), new RegExp(`${upstream.username}\\s+after 30d unpulled\\s+1\\s+1\\s+`));
    // skopeo's pull was a miss for the manifest and each blob; nothing was served from the cache yet.
    assert.ok(Number(await row.locator('td[data-misses]').innerText()) >= 3);
    assert.match(await ui.page.locator('main').innerText(), /berth mirror remove NAMESPACE\/IMAGE/);
    assert.doesNotMatch(await ui.page.content(), new RegExp(upstream.password));
  });
});

test('an instance admin adds a mirror on /admin/mirrors, is told why a taken namespace is refused, and deletes it', async () => {
  await withSession('root', async (ui) => {
    assert.equal(await ui.goto('/admin/mirrors'), 200);
    // The configuration's mirror is changed there: no delete button for it.
    assert.match(await ui.page.locator('tr[data-admin-mirror="hub"]').innerText(), /configuration/);
    assert.equal(await ui.page.locator('tr[data-admin-mirror="hub"] button').count(), 0);

    const add = async (namespace: string): Promise<void> => {
      await ui.page.getByLabel('Namespace').fill(namespace);
      await ui.page.getByLabel('Upstream registry URL').fill(upstream.url);
      await ui.page.getByLabel(/User name upstream/).fill(upstream.username);
      await ui.page.getByLabel(/Password or token upstream/).fill(upstream.password);
      await ui.page.getByLabel(/Evict cached images/).fill('14d');
      await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Add the mirror' }).click()]);
    };
    await add('hub');
    assert.match(await ui.page.locator('main').innerText(), /hub is a mirror of the configuration \(mirror\.upstreams\.hub\): change it there/);
    // What was typed comes back, but never the password.
    assert.equal(await ui.page.getByLabel('Upstream registry URL').inputValue(), upstream.url);
    assert.equal(await ui.page.getByLabel(/Password or token upstream/).inputValue(), '');
    ui.takeProblems();

    await add('extra');
    assert.match(await ui.page.locator('main').innerText(), /Added the mirror extra/);
    const row = ui.page.locator('tr[data-admin-mirror="extra"]');
    assert.match(await row.innerText(), new RegExp(`${upstream.username}\\s+after 14d unpulled`));
    assert.doesNotMatch(await ui.page.content(), new RegExp(upstream.password));
    // It serves at once: a pull through it fetches from the upstream.
    await skopeoCopy(`docker://${berth.host}/extra/library/app:v1`, `oci:${join(work, 'pulled-extra')}:v1`, [], { creds: `${berth.user}:${berth.token}` });

    // Not while it caches the image; then, once the cache is emptied, it goes.
    await Promise.all([ui.page.waitForNavigation(), row.getByRole('button', { name: 'Delete the mirror extra' }).click()]);
    assert.match(await ui.page.locator('main').innerText(), /extra still caches images: remove them first \(berth mirror remove extra\)/);
    ui.takeProblems();
    await berth.admin((s) => s.mirror.eviction.remove('extra', false));
    assert.equal(await ui.goto('/admin/mirrors'), 200);
    await Promise.all([ui.page.waitForNavigation(), ui.page.locator('tr[data-admin-mirror="extra"]').getByRole('button', { name: 'Delete the mirror extra' }).click()]);
    assert.match(await ui.page.locator('main').innerText(), /Deleted the mirror extra/);
    assert.equal(await ui.page.locator('tr[data-admin-mirror="extra"]').count(), 0);
  });
});
