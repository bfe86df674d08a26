// The package pages of issue 18 in a real browser and over HTTP: the "Deleted" tab of an owner's packages with a
// Restore button that works without JavaScript, the source link and Markdown README an admin sets in the package
// settings (rendered with no raw HTML, the CSP unchanged), the README taken from the image's description, the
// versions page with its tagged/untagged filter, and the Dockerfile `FROM` line beside the pull command.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { inSession, launchBrowser, type SessionOptions, type UiSession } from '../helpers/browser.js';
import { pushLabelledImage } from '../helpers/github.js';
import { ClientError, skopeoCopy } from '../helpers/clients.js';
import { pushImage, useAuthorization } from '../helpers/http.js';
import { writeImageLayout } from '../helpers/oci-image.js';
import { csrfOf, Visitor } from '../helpers/visitor.js';

const CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

describe('package pages (issue 18)', () => {
  let berth: RunningBerth;
  let browser: Browser;
  const shots = process.env.BERTH_TEST_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'berth-ui-shots-'));

  before(async () => {
    berth = await startBerth();
    useAuthorization(berth.authorization);
    browser = await launchBrowser();
    await berth.admin(async (s) => {
      await s.accounts.createUser({ login: 'member', password: 'member-password', isAdmin: false });
      await s.accounts.addMember('acme', 'member', 'member');
    });
  });
  after(async () => {
    await browser?.close();
    await berth?.stop();
  });

  function withSession<T>(login: string | null, fn: (ui: UiSession) => Promise<T>, opts: SessionOptions = {}): Promise<T> {
    return inSession(browser, berth.url, shots, login, fn, opts);
  }

  async function signedIn(login = 'tester'): Promise<Visitor> {
    const v = new Visitor(berth);
    await v.signIn(login, `${login}-password`);
    return v;
  }

  describe('deleted packages', () => {
    it('lists a package deleted through the REST API under "Deleted"; Restore (no JavaScript) brings it back and it pulls again', async () => {
      const layout = mkdtempSync(join(tmpdir(), 'berth-ui-restore-'));
      await writeImageLayout(layout, { layers: [1024], tag: '1.0' });
      const ref = `docker://${berth.host}/acme/phoenix:1.0`;
      const creds = { creds: `${berth.user}:${berth.token}` };
      await skopeoCopy(`oci:${layout}:1.0`, ref, [], creds);
      assert.equal((await berth.fetch('/api/v3/orgs/acme/packages/container/phoenix', { method: 'DELETE' })).status, 204);
      await assert.rejects(skopeoCopy(ref, `oci:${mkdtempSync(join(tmpdir(), 'berth-ui-gone-'))}:1.0`, [], creds), ClientError);

      await withSession('tester', async (ui) => {
        assert.equal(await ui.goto('/orgs/acme/packages'), 200);
        assert.equal(await ui.page.getByRole('link', { name: 'phoenix', exact: true }).count(), 0);
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('navigation', { name: 'Package lists' }).getByRole('link', { name: /Deleted/ }).click()]);
        const row = ui.page.locator('tr[data-package="phoenix"]');
        assert.equal(await row.count(), 1);
        assert.match(await row.innerText(), /phoenix\s+Private\s+1 version\s+(just now|\d+ minutes? ago)\s+restorable until \d{4}-\d\d-\d\d/);
        await ui.screenshot(shots, 'deleted-packages');
        await Promise.all([ui.page.waitForNavigation(), row.getByRole('button', { name: 'Restore phoenix' }).click()]);
        assert.equal(new URL(ui.page.url()).pathname, '/orgs/acme/packages/container/package/phoenix');
        assert.equal(await ui.goto('/orgs/acme/packages?tab=deleted'), 200);
        assert.equal(await ui.page.locator('tr[data-package="phoenix"]').count(), 0);
      }, { javaScript: false });
      await skopeoCopy(ref, `oci:${mkdtempSync(join(tmpdir(), 'berth-ui-back-'))}:1.0`, [], creds);
    });

    it('is shown only to those who may restore: not to members without an admin role, nor to visitors', async () => {
      await pushImage(berth.url, 'acme/quiet', 'quiet', 'v1');
      assert.equal((await berth.fetch('/api/v3/orgs/acme/packages/container/quiet', { method: 'DELETE' })).status, 204);
      const owner = await (await signedIn()).get('/orgs/acme/packages?tab=deleted');
      assert.equal(owner.status, 200);
      assert.match(owner.text, /data-package="quiet"/);
      assert.match(owner.text, /action="\/orgs\/acme\/packages\/container\/quiet\/settings\/restore"/);

      const member = await signedIn('member');
      const memberList = await member.get('/orgs/acme/packages');
      assert.doesNotMatch(memberList.text, /tab=deleted/, 'no Deleted tab');
      const memberDeleted = await member.get('/orgs/acme/packages?tab=deleted');
      assert.doesNotMatch(memberDeleted.text, /quiet/);
      // Nor can the member restore it by posting the form.
      const refused = await member.post('/orgs/acme/packages/container/quiet/settings/restore', { _csrf: csrfOf(memberDeleted.text) });
      assert.ok(refused.status === 403 || refused.status === 404, `refused: ${refused.status}`);

      // An admin grant on one package (here through a team) is enough to see and restore that one.
      await pushImage(berth.url, 'acme/granted', 'granted', 'v1');
      await berth.admin(async (s) => {
        await s.accounts.createTeam('acme', 'keepers');
        await s.accounts.addTeamMember('acme', 'keepers', 'member');
        await s.packages.grant('acme/granted', { type: 'team', id: await s.accounts.teamId('acme', 'keepers') }, 'admin');
      });
      assert.equal((await berth.fetch('/api/v3/orgs/acme/packages/container/granted', { method: 'DELETE' })).status, 204);
      const granted = await member.get('/orgs/acme/packages?tab=deleted');
      assert.match(granted.text, /data-package="granted"/);
      assert.doesNotMatch(granted.text, /quiet/);
      assert.equal((await member.post('/orgs/acme/packages/container/granted/settings/restore', { _csrf: csrfOf(granted.text) })).status, 303);
      assert.equal((await berth.fetch('/v2/acme/granted/manifests/v1', { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).status, 200);

      const visitor = await new Visitor(berth).get('/orgs/acme/packages?tab=deleted');
      assert.equal(visitor.status, 200);
      assert.doesNotMatch(visitor.text, /quiet|tab=deleted/);
    });
  });

  describe('package settings: source link and README', () => {
    it('an admin connects a repository and writes a Markdown README; the package page shows both', async () => {
      await pushImage(berth.url, 'acme/docs', 'docs', 'latest');
      await withSession('tester', async (ui) => {
        assert.equal(await ui.goto('/orgs/acme/packages/container/docs/settings'), 200);
        await ui.page.getByLabel('Source repository URL').fill('https://github.com/acme/docs');
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Save source link' }).click()]);
        assert.match(await ui.page.locator('.flash').innerText(), /Source link saved/);
        await ui.page.getByLabel('README (Markdown)').fill([
          '# Docs image', '', 'Run it with `docker run`, see **the guide** at [the site](https://docs.example.com/guide).', '',
          '- small', '- fast', '', '```', 'docker run --rm acme/docs', '```',
        ].join('\n'));
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: 'Save README' }).click()]);
        assert.match(await ui.page.locator('.flash').innerText(), /README saved/);
        await ui.screenshot(shots, 'package-settings-readme');

        assert.equal(await ui.goto('/orgs/acme/packages/container/package/docs'), 200);
        const readme = ui.page.locator('.markdown');
        assert.equal(await readme.locator('h2').innerText(), 'Docs image');
        assert.equal(await readme.locator('strong').innerText(), 'the guide');
        assert.equal(await readme.locator('a').getAttribute('href'), 'https://docs.example.com/guide');
        assert.equal(await readme.locator('li').count(), 2);
        assert.equal(await readme.locator('pre code').innerText(), 'docker run --rm acme/docs');
        assert.equal(await ui.page.locator('.sidebar a[href="https://github.com/acme/docs"]').count(), 1);
        assert.equal(await ui.page.getByLabel('Dockerfile FROM line').innerText(), `FROM ${berth.host}/acme/docs:latest`);
        await ui.screenshot(shots, 'package-readme');
      });
    });

    it('refuses a source link that is not http(s), and only admins may change either', async () => {
      await pushImage(berth.url, 'acme/linked', 'linked', 'v1');
      const owner = await signedIn();
      const settings = await owner.get('/orgs/acme/packages/container/linked/settings');
      for (const bad of ['javascript:alert(1)', 'ftp://example.com/x', 'not a url', `https://example.com/${'x'.repeat(2100)}`]) {
        const res = await owner.post('/orgs/acme/packages/container/linked/settings/source', { _csrf: csrfOf(settings.text), source_url: bad });
        assert.equal(res.status, 422, bad);
        assert.match(res.text, /http:\/\/ or https:\/\/ URL|is not a URL|at most 2048/);
      }
      const tooLong = await owner.post('/orgs/acme/packages/container/linked/settings/readme', { _csrf: csrfOf(settings.text), readme: 'x'.repeat(20_001) });
      assert.equal(tooLong.status, 422);
      const rows = await berth.query<{ source_url: string | null; readme: string | null }>("select source_url, readme from repositories where name = 'acme/linked'");
      assert.deepEqual(rows, [{ source_url: null, readme: null }]);

      const member = await signedIn('member');
      const memberPage = await member.get('/orgs/acme/packages');
      const refused = await member.post('/orgs/acme/packages/container/linked/settings/readme', { _csrf: csrfOf(memberPage.text), readme: '# mine' });
      assert.ok(refused.status === 403 || refused.status === 404, `refused: ${refused.status}`);
      const audit = await berth.query<{ action: string }>("select action from audit_log where repository = 'acme/linked' and action like 'package.update_%'");
      assert.deepEqual(audit, []);
    });

    it('renders script, javascript: links and <img onerror> in a README as inert text, with the CSP unchanged', async () => {
      await pushImage(berth.url, 'acme/evil', 'evil', 'v1');
      const owner = await signedIn();
      const settings = await owner.get('/orgs/acme/packages/container/evil/settings');
      const readme = [
        '<script>alert("readme")</script>', '', '[click me](javascript:alert(1))', '', '[spaced](<java\tscript:alert(2)>)', '',
        '<img src=x onerror=alert(3)>', '', '[ok](https://example.com/"onmouseover="alert`4`)',
      ].join('\n');
      const saved = await owner.post('/orgs/acme/packages/container/evil/settings/readme', { _csrf: csrfOf(settings.text), readme });
      assert.equal(saved.status, 303);
      const page = await owner.get('/orgs/acme/packages/container/package/evil');
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('content-security-policy'), CSP);
      const section = page.text.slice(page.text.indexOf('<div class="markdown">'), page.text.indexOf('</section>', page.text.indexOf('<div class="markdown">')));
      assert.ok(section.includes('&lt;script&gt;alert(&quot;readme&quot;)&lt;/script&gt;'), section);
      assert.ok(section.includes('&lt;img src=x onerror=alert(3)&gt;'), section);
      // Every tag the README produced: only the renderer's own, no script, image or event attribute, no script link.
      const tags = [...section.matchAll(/<[a-zA-Z][^>]*>/g)].map((m) => m[0]);
      assert.deepEqual(tags.filter((t) => !/^<(div class="markdown"|p|a href="https:\/\/[^"]*" rel="nofollow noopener noreferrer")>$/.test(t)), [], section);
      assert.ok(tags.includes('<a href="https://example.com/&quot;onmouseover=&quot;alert&#96;4&#96;" rel="nofollow noopener noreferrer">'), 'quotes stay inside the attribute');
      // The settings form shows the text back escaped inside the textarea.
      const back = await owner.get('/orgs/acme/packages/container/evil/settings');
      assert.ok(back.text.includes('&lt;script&gt;alert(&quot;readme&quot;)&lt;/script&gt;</') || back.text.includes('&lt;script&gt;alert(&quot;readme&quot;)&lt;/script&gt;\n'));

      await withSession('tester', async (ui) => {
        const dialogs: string[] = [];
        ui.page.on('dialog', (d) => {
          dialogs.push(d.message());
          void d.dismiss();
        });
        assert.equal(await ui.goto('/orgs/acme/packages/container/package/evil'), 200);
        assert.match(await ui.page.locator('.markdown').innerText(), /<script>alert\("readme"\)<\/script>/);
        assert.equal(await ui.page.locator('.markdown script, .markdown img, .markdown [onerror], .markdown [onmouseover]').count(), 0);
        assert.equal(await ui.page.locator('.markdown a[href^="javascript"]').count(), 0);
        await ui.page.locator('.markdown').getByText('click me').click();
        await ui.page.waitForTimeout(300);
        assert.deepEqual(dialogs, []);
      });
    });

    it('without a README, shows the image description annotation as Markdown', async () => {
      await pushLabelledImage(berth.url, 'acme/described', 'described', {
        reference: 'v1', annotations: { 'org.opencontainers.image.description': 'A **described** image, see <https://example.com/d>.' },
      });
      const page = await (await signedIn()).get('/orgs/acme/packages/container/package/described');
      assert.match(page.text, /<div class="markdown"><p>A <strong>described<\/strong> image, see <a href="https:\/\/example.com\/d" rel="nofollow noopener noreferrer">https:\/\/example.com\/d<\/a>.<\/p><\/div>/);
    });
  });

  describe('versions page', () => {
    it('filters tagged and untagged versions, pages them, and links from the package page', async () => {
      await pushImage(berth.url, 'acme/many', 'many-tagged', 'v1');
      for (let i = 0; i < 31; i++) await pushImage(berth.url, 'acme/many', `many-untagged-${i}`);
      await withSession('tester', async (ui) => {
        assert.equal(await ui.goto('/orgs/acme/packages/container/package/many'), 200);
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('link', { name: 'View all tagged versions' }).click()]);
        assert.equal(new URL(ui.page.url()).pathname, '/orgs/acme/packages/container/many/versions');
        assert.match(await ui.page.locator('main').innerText(), /1 tagged version/);
        assert.equal(await ui.page.locator('tbody tr').count(), 1);
        assert.match(await ui.page.locator('tbody tr').innerText(), /v1/);
        await ui.screenshot(shots, 'versions-tagged');

        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('navigation', { name: 'Filter versions' }).getByRole('link', { name: 'Untagged' }).click()]);
        assert.match(await ui.page.locator('main').innerText(), /31 untagged versions/);
        assert.equal(await ui.page.locator('tbody tr').count(), 30);
        assert.equal(await ui.page.locator('tbody').getByText('untagged').count(), 30);
        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('link', { name: 'Next ›' }).click()]);
        assert.equal(new URL(ui.page.url()).search, '?filter=untagged&page=2');
        assert.equal(await ui.page.locator('tbody tr').count(), 1);

        await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('navigation', { name: 'Filter versions' }).getByRole('link', { name: 'All' }).click()]);
        assert.match(await ui.page.locator('main').innerText(), /32 versions/);
      });
      // Private to others, like the package page.
      assert.equal((await new Visitor(berth).get('/orgs/acme/packages/container/many/versions')).status, 404);
    });
  });
});
