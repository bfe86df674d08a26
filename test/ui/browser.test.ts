// The web UI in a real browser (Debian's chromium through playwright-core) against a real server: what a person
// does (sign in, make a token, push with skopeo, find the package, copy the pull command, change visibility,
// revoke, delete and restore), that pushed text never runs as script, and the usage, admin and organization
// settings pages. Every page visited must load without console errors or CSP violations.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { inSession, launchBrowser, type UiSession } from '../helpers/browser.js';
import { ClientError, skopeoCopy } from '../helpers/clients.js';
import { MEDIA, pushBlob, pushImage, pushManifest, useAuthorization } from '../helpers/http.js';
import { writeImageLayout } from '../helpers/oci-image.js';

/** A 404 page is a failed document load, which Chromium reports on the console: expected where a test asks for one. */
const NOT_FOUND_LOG = /Failed to load resource: the server responded with a status of 404/;

describe('web UI in a browser', () => {
  let berth: RunningBerth;
  let browser: Browser;
  const shots = process.env.BERTH_TEST_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'berth-ui-shots-'));

  before(async () => {
    berth = await startBerth();
    useAuthorization(berth.authorization);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await berth?.stop();
  });

  /** A fresh browser context signed in as `login`; closed and checked for page problems at the end. */
  async function withSession<T>(login: string | null, fn: (ui: UiSession) => Promise<T>, opts: { clipboard?: boolean; javaScript?: boolean } = {}): Promise<T> {
    return inSession(browser, berth.url, shots, login, fn, opts);
  }

  async function createUser(login: string, opts: { admin?: boolean } = {}): Promise<void> {
    await berth.admin((s) => s.accounts.createUser({ login, password: `${login}-password`, isAdmin: opts.admin ?? false }));
  }

  describe('sign in', () => {
    it('works with the keyboard alone: Tab to the fields, Enter submits', async () => {
      await withSession(null, async (ui) => {
        await ui.goto('/login');
        // From the top of the page, Tab until the username field has focus (skip link and header links come first).
        for (let i = 0; i < 15 && (await ui.page.evaluate('document.activeElement && document.activeElement.id')) !== 'login'; i++) {
          await ui.page.keyboard.press('Tab');
        }
        assert.equal(await ui.page.evaluate('document.activeElement.id'), 'login');
        await ui.page.keyboard.type('tester');
        await ui.page.keyboard.press('Tab');
        assert.equal(await ui.page.evaluate('document.activeElement.id'), 'password');
        await ui.page.keyboard.type('tester-password');
        await Promise.all([ui.page.waitForNavigation(), ui.page.keyboard.press('Enter')]);
        assert.notEqual(new URL(ui.page.url()).pathname, '/login');
        assert.equal(await ui.page.locator('.nav-login').innerText(), 'tester');
      });
    });
  });

  describe('from token to push to delete and restore', () => {
    it('generates a token, pushes with it, finds and copies, makes public, revokes, deletes and restores', async () => {
      const layout = mkdtempSync(join(tmpdir(), 'berth-ui-image-'));
      await writeImageLayout(layout, { layers: [2048], tag: '1.0', labels: { 'org.opencontainers.image.description': 'The flow test image.' } });
      const ref = `docker://${berth.host}/acme/flow:1.0`;
      await withSession('tester', async (ui) => {
        // Settings → Developer settings → Personal access tokens → Generate new token.
        assert.equal(await ui.goto('/settings/tokens'), 200);
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('link', { name: 'Generate new token' }).click()]);
        await ui.page.getByLabel('Note').fill('browser test push');
        await ui.page.locator('input[name="scopes"][value="write:packages"]').check();
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Generate token' }).click()]);
        const token = (await ui.page.locator('.copy-box code').innerText()).trim();
        assert.match(token, /^berth_pat_[0-9A-Za-z]{36}$/);
        await ui.screenshot(shots, 'token-created');

        await skopeoCopy(`oci:${layout}:1.0`, ref, [], { creds: `tester:${token}` });

        // The package is listed on the organization's page; open it.
        assert.equal(await ui.goto('/orgs/acme/packages'), 200);
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('link', { name: 'flow', exact: true }).click()]);
        assert.equal(new URL(ui.page.url()).pathname, '/orgs/acme/packages/container/package/flow');
        assert.match(await ui.page.locator('main').innerText(), /The flow test image\./);

        // The copy button puts the pull command on the clipboard.
        await ui.page.locator('.copy-box button[data-copy]').first().click();
        assert.equal(await ui.page.evaluate('navigator.clipboard.readText()'), `docker pull ${berth.host}/acme/flow:1.0`);

        // Private: no anonymous pull. Public after the settings change: anonymous pull works.
        const pulled = mkdtempSync(join(tmpdir(), 'berth-ui-pull-'));
        await assert.rejects(skopeoCopy(ref, `oci:${pulled}:1.0`, ['--src-no-creds']));
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('link', { name: 'Package settings' }).click()]);
        await ui.page.locator('input[name="visibility"][value="public"]').check();
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Change visibility' }).click()]);
        assert.match(await ui.page.locator('.flash').innerText(), /Visibility changed/);
        await skopeoCopy(ref, `oci:${pulled}:1.0`, ['--src-no-creds']);

        // Revoked in the UI: the same token can no longer push (within the 5 s liveness window).
        await ui.goto('/settings/tokens');
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Revoke token browser test push' }).click()]);
        assert.match(await ui.page.locator('.flash').innerText(), /revoked/);
        const deadline = Date.now() + 10_000;
        let refused: unknown = null;
        while (!refused && Date.now() < deadline) {
          try {
            await skopeoCopy(`oci:${layout}:1.0`, `docker://${berth.host}/acme/flow:after-revoke`, [], { creds: `tester:${token}` });
            await new Promise((r) => setTimeout(r, 500));
          } catch (err) {
            refused = err;
          }
        }
        assert.ok(refused instanceof ClientError, 'the push with the revoked token failed');
        assert.match(refused.stderr, /unauthorized|authentication required|401/i);

        // Delete with the typed confirmation: gone from the list; restore it from its settings URL: back.
        await ui.goto('/orgs/acme/packages/container/flow/settings');
        await ui.page.getByLabel('Type flow to confirm').fill('flow');
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Delete this package' }).click()]);
        assert.equal(new URL(ui.page.url()).pathname, '/orgs/acme/packages');
        assert.equal(await ui.page.getByRole('link', { name: 'flow', exact: true }).count(), 0);
        await Promise.all([ui.page.waitForNavigation(), ui.page.locator('.flash').getByRole('link', { name: 'its settings page' }).click()]);
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Restore this package' }).click()]);
        assert.equal(new URL(ui.page.url()).pathname, '/orgs/acme/packages/container/package/flow');
        await ui.goto('/orgs/acme/packages');
        assert.equal(await ui.page.getByRole('link', { name: 'flow', exact: true }).count(), 1);
      }, { clipboard: true });
    });
  });

  describe('pushed text is shown, never run', () => {
    it('a label with <script> and an onerror handler appears literally and runs nothing', async () => {
      const evil = '<script>alert("label")</script><img src=x onerror=alert("img")>';
      const config = Buffer.from(JSON.stringify({
        architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] },
        config: { Labels: { 'org.opencontainers.image.description': evil, 'org.opencontainers.image.licenses': '<b onmouseover=alert(1)>MIT</b>' } },
      }));
      const layer = Buffer.from('xss layer');
      await pushManifest(berth.url, 'acme/xss', 'v1', {
        schemaVersion: 2, mediaType: MEDIA.ociManifest,
        config: { mediaType: MEDIA.ociConfig, digest: await pushBlob(berth.url, 'acme/xss', config), size: config.length },
        layers: [{ mediaType: MEDIA.ociLayer, digest: await pushBlob(berth.url, 'acme/xss', layer), size: layer.length }],
        annotations: { 'org.opencontainers.image.title': '"><svg onload=alert("annotation")>' },
      }, MEDIA.ociManifest);
      await withSession('tester', async (ui) => {
        const dialogs: string[] = [];
        ui.page.on('dialog', (d) => {
          dialogs.push(d.message());
          void d.dismiss();
        });
        assert.equal(await ui.goto('/orgs/acme/packages/container/package/xss'), 200);
        assert.ok((await ui.page.locator('main').innerText()).includes(evil), 'the label is shown as text');
        assert.equal(await ui.page.locator('main script').count(), 0);
        assert.equal(await ui.page.locator('main img[src="x"]').count(), 0);
        assert.equal(await ui.page.locator('[onerror], [onload], [onmouseover]').count(), 0);
        // Give any handler that slipped through a moment to fire.
        await ui.page.waitForTimeout(300);
        assert.deepEqual(dialogs, []);
      });
    });
  });

  describe('usage', () => {
    it('shows per-package storage and downloads equal to what was pushed and pulled, a shared blob counted once', async () => {
      await berth.admin((s) => s.accounts.createOrg('usage-org', 'tester'));
      const a = await pushImage(berth.url, 'usage-org/alpha', 'alpha', 'v1');
      const b = await pushImage(berth.url, 'usage-org/beta', 'beta', 'v1');
      // The same image again under another name: its blobs are already counted in the org's total.
      const copy = await pushImage(berth.url, 'usage-org/alpha-copy', 'alpha', 'v1');
      for (let i = 0; i < 3; i++) {
        const res = await berth.fetch('/v2/usage-org/beta/manifests/v1', { headers: { accept: MEDIA.ociManifest } });
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
      const size = (img: typeof a): number => img.config.size + img.layers.reduce((sum, l) => sum + l.size, 0) + img.bytes.length;

      await withSession('tester', async (ui) => {
        assert.equal(await ui.goto('/orgs/usage-org/usage'), 200);
        const bytesOf = async (name: string): Promise<number> => Number(await ui.page.locator(`tr[data-package="${name}"] td[data-bytes]`).getAttribute('data-bytes'));
        assert.equal(await bytesOf('alpha'), size(a));
        assert.equal(await bytesOf('beta'), size(b));
        assert.equal(await bytesOf('alpha-copy'), size(copy));
        assert.equal(Number(await ui.page.locator('[data-usage="total-bytes"]').getAttribute('data-bytes')), size(a) + size(b) + copy.bytes.length);
        assert.equal((await ui.page.locator('tr[data-package="beta"] td').last().innerText()).trim(), '3');
        assert.match(await ui.page.locator('.usage-top').innerText(), /beta\s+3 downloads/);
        // The chart is drawn on the server, one bar per package.
        assert.equal(await ui.page.locator('svg.usage-chart-svg rect.usage-bar').count(), 3);
        await ui.screenshot(shots, 'usage');

        // The namespaces overview links to it.
        assert.equal(await ui.goto('/usage'), 200);
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('link', { name: 'usage-org' }).click()]);
        assert.equal(new URL(ui.page.url()).pathname, '/orgs/usage-org/usage');
      });
    });

    it('is not shown to members who are not owners, nor to other users', async () => {
      await createUser('usage-member');
      await berth.admin((s) => s.accounts.addMember('usage-org', 'usage-member', 'member'));
      await withSession('usage-member', async (ui) => {
        assert.equal(await ui.goto('/orgs/usage-org/usage'), 404);
        assert.equal(await ui.goto('/users/tester/usage'), 404);
        assert.equal(await ui.goto('/users/usage-member/usage'), 200);
        ui.assertClean([NOT_FOUND_LOG]);
      });
    });
  });

  describe('admin page', () => {
    it('answers 404 to anonymous visitors and to users who are not instance admins', async () => {
      await withSession(null, async (ui) => {
        assert.equal(await ui.goto('/admin'), 404);
        ui.assertClean([NOT_FOUND_LOG]);
      });
      await withSession('tester', async (ui) => {
        assert.equal(await ui.goto('/admin'), 404);
        assert.equal(await ui.page.getByRole('link', { name: 'Admin', exact: true }).count(), 0, 'no Admin link in the header');
        ui.assertClean([NOT_FOUND_LOG]);
      });
    });

    it('shows an instance admin the accounts, storage and recent pushes', async () => {
      await createUser('site-admin', { admin: true });
      const pushed = await pushImage(berth.url, 'acme/admin-view', 'admin-view', 'fresh');
      const [counts] = await berth.query<{ users: number; orgs: number }>(
        "select sum(case when type = 'user' then 1 else 0 end) as users, sum(case when type = 'org' then 1 else 0 end) as orgs from accounts",
      );
      const [blobs] = await berth.query<{ n: number; bytes: number }>('select count(*) as n, sum(size) as bytes from blobs');
      await withSession('site-admin', async (ui) => {
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('link', { name: 'Admin', exact: true }).click()]);
        assert.equal(new URL(ui.page.url()).pathname, '/admin');
        assert.equal(Number(await ui.page.locator('[data-admin="users"]').innerText()), Number(counts!.users));
        assert.equal(Number(await ui.page.locator('[data-admin="orgs"]').innerText()), Number(counts!.orgs));
        // The kept blob figures (migration 0029) are what a sum over the blobs would say.
        const store = ui.page.locator('[data-admin="blob-bytes"]');
        assert.ok(Number(blobs!.n) >= 2);
        assert.equal(Number(await store.getAttribute('data-bytes')), Number(blobs!.bytes));
        assert.match(await store.locator('xpath=following-sibling::dd[1]').innerText(), new RegExp(`^${Number(blobs!.n)} blobs$`));
        const recent = ui.page.locator('table[aria-labelledby="recent-pushes"] tbody tr').first();
        assert.match(await recent.innerText(), /acme\/admin-view\s+fresh/);
        assert.ok((await recent.locator('code').getAttribute('title')) === pushed.digest);
        assert.equal(await recent.locator('td').last().innerText(), 'tester', 'the pusher of that version');
        assert.equal(await ui.page.locator('tr[data-user="site-admin"]').count(), 1);
        await ui.screenshot(shots, 'admin');
      });
    });
  });

  describe('organization settings', () => {
    it('lets an owner add a member, change their role, put them in a team and remove them', async () => {
      await createUser('carol');
      const members = async (): Promise<Record<string, string>> => Object.fromEntries(
        (await berth.admin((s) => s.accounts.members('acme'))).map((m) => [m.login, m.role]),
      );
      await withSession('tester', async (ui) => {
        assert.equal(await ui.goto('/orgs/acme/settings'), 200);
        await ui.page.getByLabel('Username').fill('carol');
        await ui.page.getByLabel('Role', { exact: true }).selectOption('member');
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Add member' }).click()]);
        assert.match(await ui.page.locator('.flash').innerText(), /Member saved/);
        assert.equal((await members()).carol, 'member');

        await ui.page.getByLabel('Role of carol').selectOption('owner');
        await Promise.all([ui.page.waitForNavigation(), ui.page.locator('tr[data-member="carol"]').getByRole('button', { name: 'Change role' }).click()]);
        assert.equal((await members()).carol, 'owner');

        await ui.page.getByLabel('Team name').fill('platform');
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Create team' }).click()]);
        const team = ui.page.locator('.team[data-team="platform"]');
        await team.getByLabel('Add to platform:').selectOption('carol');
        await Promise.all([ui.page.waitForNavigation(), team.getByRole('button', { name: 'Add', exact: true }).click()]);
        assert.deepEqual((await berth.admin((s) => s.accounts.teams('acme'))).find((t) => t.name === 'platform')?.members, ['carol']);

        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Remove carol from acme' }).click()]);
        assert.equal((await members()).carol, undefined);
        assert.deepEqual((await berth.admin((s) => s.accounts.teams('acme'))).find((t) => t.name === 'platform')?.members, [], 'gone from its teams too');
      });
    });

    it('keeps the last owner and validates what is typed', async () => {
      await withSession('tester', async (ui) => {
        await ui.goto('/orgs/acme/settings');
        await ui.page.getByLabel('Role of tester').selectOption('member');
        await Promise.all([ui.page.waitForNavigation(), ui.page.locator('tr[data-member="tester"]').getByRole('button', { name: 'Change role' }).click()]);
        assert.match(await ui.page.locator('main').innerText(), /only owner of acme/);
        await ui.goto('/orgs/acme/settings');
        await ui.page.getByLabel('Username').fill('nobody-here');
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Add member' }).click()]);
        assert.match(await ui.page.locator('main').innerText(), /no user named "nobody-here"/);
        ui.assertClean([/status of 422/]);
      });
      assert.equal((await berth.admin((s) => s.accounts.members('acme'))).find((m) => m.login === 'tester')?.role, 'owner');
    });

    it('saves the package-creation policy', async () => {
      await withSession('tester', async (ui) => {
        await ui.goto('/orgs/acme/settings');
        await ui.page.getByLabel('Members may create packages by pushing').uncheck();
        await ui.page.locator('input[name="allowed"][value="public"]').uncheck();
        await ui.page.getByLabel('Visibility of a newly pushed package').selectOption('internal');
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Save policy' }).click()]);
        assert.match(await ui.page.locator('.flash').innerText(), /policy saved/);
        assert.equal(await ui.page.getByLabel('Members may create packages by pushing').isChecked(), false);
      });
      assert.deepEqual(await berth.admin((s) => s.accounts.orgPolicy('acme')), {
        membersCanCreate: false, allowedVisibilities: ['private', 'internal'], defaultVisibility: 'internal',
      });
      await berth.admin((s) => s.accounts.setOrgPolicy('acme', { membersCanCreate: true, allowedVisibilities: ['private', 'internal', 'public'], defaultVisibility: 'private' }));
    });

    it('adds a trust policy for tokenless CI, says what is wrong in one, and removes it', async () => {
      const listed = async (): Promise<{ id: number; conditions: Record<string, string>; packages: string[]; actions: string[]; token_lifetime_seconds: number }[]> =>
        (await berth.fetch('/api/v3/berth/orgs/acme/trust-policies')).json() as never;
      await withSession('tester', async (ui) => {
        await ui.goto('/orgs/acme/settings#trust');
        assert.match(await ui.page.locator('#trust-empty').innerText(), /No trust policies/);
        await ui.page.getByLabel('Audience').fill('registry.example.com');
        await ui.page.getByLabel('Claim conditions').fill('repository=acme/app\nnot a condition');
        await ui.page.getByLabel('Packages', { exact: true }).fill('app, app-*');
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Add trust policy' }).click()]);
        assert.match(await ui.page.locator('main').innerText(), /"not a condition" is not a condition: write claim=value/);
        ui.assertClean([/status of 422/]);

        await ui.goto('/orgs/acme/settings#trust');
        await ui.page.getByLabel('Audience').fill('registry.example.com');
        await ui.page.getByLabel('Claim conditions').fill('repository=acme/app\nref=refs/heads/main');
        await ui.page.getByLabel('Packages', { exact: true }).fill('app, app-*');
        await ui.page.getByRole('region', { name: 'Trusted publishing' }).locator('input[name="actions"][value="delete"]').check();
        await ui.page.getByLabel('Token lifetime (seconds)').fill('600');
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Add trust policy' }).click()]);
        assert.match(await ui.page.locator('.flash').innerText(), /Trust policies saved/);
        const [policy] = await listed();
        assert.deepEqual(policy && { conditions: policy.conditions, packages: policy.packages, actions: policy.actions, lifetime: policy.token_lifetime_seconds }, {
          conditions: { repository: 'acme/app', ref: 'refs/heads/main' }, packages: ['app', 'app-*'], actions: ['pull', 'push', 'delete'], lifetime: 600,
        });
        assert.match(await ui.page.locator('#trust-policies').innerText(), /repository=acme\/app/);
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: `Remove trust policy ${policy!.id}` }).click()]);
        assert.deepEqual(await listed(), []);
      });
      // Both changes are in the organization's audit log, by the owner who made them.
      const audit = await berth.fetch('/api/v3/orgs/acme/audit-log?phrase=action:trust_policy');
      assert.equal(audit.status, 200);
      const records = (await audit.json()) as { action: string; actor: string }[];
      assert.deepEqual(records.map((r) => [r.action, r.actor]), [['trust_policy.destroy', 'tester'], ['trust_policy.create', 'tester']]);
    });

    it('works with JavaScript turned off', async () => {
      await createUser('erin');
      await withSession('tester', async (ui) => {
        await ui.goto('/orgs/acme/settings');
        await ui.page.getByLabel('Username').fill('erin');
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Add member' }).click()]);
        assert.match(await ui.page.locator('.flash').innerText(), /Member saved/);
      }, { javaScript: false });
      assert.equal((await berth.admin((s) => s.accounts.members('acme'))).find((m) => m.login === 'erin')?.role, 'member');
    });

    it('is a 404 for members who are not owners', async () => {
      await createUser('dave');
      await berth.admin((s) => s.accounts.addMember('acme', 'dave', 'member'));
      await withSession('dave', async (ui) => {
        assert.equal(await ui.goto('/orgs/acme/settings'), 404);
        ui.assertClean([NOT_FOUND_LOG]);
      });
      const res = await fetch(`${berth.url}/orgs/acme/settings/members`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'login=dave&role=owner' });
      assert.equal(res.status, 303, 'an anonymous POST is sent to sign in');
      assert.match(res.headers.get('location') ?? '', /^\/login/);
      assert.equal((await berth.admin((s) => s.accounts.members('acme'))).find((m) => m.login === 'dave')?.role, 'member');
    });
  });
});
