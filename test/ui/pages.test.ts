// The web UI over HTTP (no browser): sign-in with the form's CSRF token and the session cookie, the security
// headers, every html_url of the REST API resolving to a page, visibility as the REST API applies it, personal
// access tokens generated through the form, package settings, and escaping of what came from a push.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { api, pushIndex, pushLabelledImage } from '../helpers/github.js';
import { MEDIA, pushImage, pushManifest, rawRequest, useAuthorization } from '../helpers/http.js';
import { csrfOf, Visitor, type Page } from '../helpers/visitor.js';

const CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const XSS_LABEL = '<script>alert(1)</script>';
const XSS_ANNOTATION = '"><img src=x onerror=alert(2)>';

function assertHtml(page: Page, status = 200): void {
  assert.equal(page.status, status, page.text.slice(0, 500));
  assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
  assert.equal(page.headers.get('content-security-policy'), CSP);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.ok(page.headers.get('referrer-policy'));
  assert.ok(page.text.startsWith('<!doctype html>\n<html lang="en">'), 'a whole document');
  // Every tag in the document (escaped text has no `<`): scripts only from files, no style or event attributes.
  const bad = [...page.text.matchAll(/<[a-zA-Z][^>]*>/g)].map((m) => m[0])
    .filter((tag) => /^<script(?![^>]*\ssrc=)/i.test(tag) || /\s(style|on[a-z]+)=/i.test(tag));
  assert.deepEqual(bad, [], 'no inline script, style or event handler');
}

let berth: RunningBerth;
let signedIn: Visitor;
/** The digest (hex) of acme/signed:1.0, which has artifact tags `sha256-<hex>.sig` and `sha256-<hex>`. */
let signedHex = '';
const anonymous = (): Visitor => new Visitor(berth);

before(async () => {
  berth = await startBerth();
  useAuthorization(berth.authorization);
  const amd = await pushLabelledImage(berth.url, 'acme/app', 'app-amd64', {
    labels: { 'org.opencontainers.image.description': 'The app', 'org.opencontainers.image.source': 'https://github.com/acme/app' },
  });
  const arm = await pushLabelledImage(berth.url, 'acme/app', 'app-arm64', { platform: { architecture: 'arm64', os: 'linux' } });
  const index = await pushIndex(berth.url, 'acme/app', 'latest', [amd.descriptor, arm.descriptor]);
  await pushImage(berth.url, 'acme/app', 'app-old', '1.0');
  // A cosign-style signature through the referrers API (subject = the index).
  await pushImage(berth.url, 'acme/app', 'app-signature', undefined, {
    artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json', subject: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: index, size: 1 },
  });
  await pushImage(berth.url, 'acme/team/api', 'nested', 'v1');
  await pushImage(berth.url, 'acme/secret', 'secret', 'v1');
  await pushLabelledImage(berth.url, 'acme/xss', 'xss', {
    reference: 'latest', labels: { 'org.opencontainers.image.description': XSS_LABEL, 'com.example.evil': XSS_ANNOTATION },
    annotations: { 'org.opencontainers.image.licenses': XSS_ANNOTATION },
  });
  // An image with artifact tags next to its own: cosign's `sha256-<hex>.sig` and the referrers fallback
  // `sha256-<hex>`, both moved after the image's tag (the newest tags of the package).
  const signedImage = await pushImage(berth.url, 'acme/signed', 'signed', '1.0');
  signedHex = signedImage.digest.slice('sha256:'.length);
  await pushImage(berth.url, 'acme/signed', 'signed-sig', `sha256-${signedHex}.sig`, {
    artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json', subject: signedImage.descriptor,
  });
  await pushImage(berth.url, 'acme/signed', 'signed-referrers', `sha256-${signedHex}`);
  await berth.query("update tags set updated_at = updated_at + 60000 where name like 'sha256-%'");
  await berth.admin(async (s) => {
    await s.packages.setVisibility('acme/app', 'public');
    await s.packages.setVisibility('acme/xss', 'public');
  });
  signedIn = new Visitor(berth);
  await signedIn.signIn();
});

after(async () => {
  await berth?.stop();
});

describe('sign in and sessions', () => {
  it('serves the sign-in form with the security headers and a CSRF token', async () => {
    const page = await anonymous().get('/login');
    assertHtml(page);
    assert.match(page.text, /<form method="post" action="\/login"/);
    assert.ok(csrfOf(page.text));
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.match(page.headers.get('server-timing') ?? '', /^app;dur=\d+\.\d$/, 'the time spent in Berth (bench/ui-pages.ts reads it)');
  });

  it('refuses a sign-in without the CSRF token, or from another origin (403)', async () => {
    const visitor = anonymous();
    await visitor.get('/login');
    const missing = await visitor.post('/login', { login: 'tester', password: 'tester-password' });
    assertHtml(missing, 403);
    assert.equal(missing.setCookies.some((c) => c.startsWith('berth_session=')), false);
    const form = await visitor.get('/login');
    const foreign = await visitor.post('/login', { _csrf: csrfOf(form.text), login: 'tester', password: 'tester-password' }, { origin: 'https://evil.example' });
    assertHtml(foreign, 403);
  });

  it('refuses a wrong password with the form again (401), without a session', async () => {
    const visitor = anonymous();
    const form = await visitor.get('/login');
    const res = await visitor.post('/login', { _csrf: csrfOf(form.text), login: 'tester', password: 'wrong' });
    assertHtml(res, 401);
    assert.ok(res.text.includes('Incorrect username or password'));
    assert.equal(visitor.cookies.has('berth_session'), false);
  });

  it('signs in: an HttpOnly, SameSite=Lax session cookie (not Secure over plain HTTP), stored hashed in the database', async () => {
    const visitor = anonymous();
    const form = await visitor.get('/login?return_to=/settings/tokens');
    const res = await visitor.post('/login', { _csrf: csrfOf(form.text), login: 'tester', password: 'tester-password', return_to: '/settings/tokens' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/settings/tokens');
    const cookie = res.setCookies.find((c) => c.startsWith('berth_session='));
    assert.ok(cookie, res.setCookies.join('\n'));
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Lax/);
    assert.match(cookie, /; Path=\//);
    assert.doesNotMatch(cookie, /; Secure/);
    const id = visitor.cookies.get('berth_session')!;
    const rows = await berth.query<{ id_hash: string }>('select id_hash from sessions');
    assert.ok(rows.length > 0);
    assert.ok(rows.every((r) => r.id_hash !== id && /^[0-9a-f]{64}$/.test(r.id_hash)), 'only the hash of the id is stored');
    const tokens = await visitor.get('/settings/tokens');
    assertHtml(tokens);
    assert.match(tokens.text, /Personal access tokens/);
  });

  it('slides a session\'s expiry with use (cookie too), and ends it once expired', async () => {
    const visitor = anonymous();
    await visitor.signIn();
    const hash = createHash('sha256').update(visitor.cookies.get('berth_session')!).digest('hex');
    const day = 86_400_000;
    await berth.query('update sessions set last_seen_at = last_seen_at - ?, expires_at = expires_at - ? where id_hash = ?', 2 * day, 2 * day, hash);
    const renewed = await visitor.get('/');
    const cookie = renewed.setCookies.find((c) => c.startsWith('berth_session='));
    assert.ok(cookie, 'the cookie is sent again');
    assert.ok(Number(/Max-Age=(\d+)/.exec(cookie)![1]) > 13 * 86_400, cookie);
    const [row] = await berth.query<{ expires_at: number }>('select expires_at from sessions where id_hash = ?', hash);
    assert.ok(row!.expires_at > Date.now() + 13 * day);

    await berth.query('update sessions set expires_at = ? where id_hash = ?', Date.now() - 1000, hash);
    const expired = await visitor.get('/settings/tokens');
    assert.equal(expired.status, 303, 'signed out');
    assert.equal(visitor.cookies.has('berth_session'), false, 'the dead cookie is cleared');
  });

  it('never redirects off-site after sign-in', async () => {
    const visitor = anonymous();
    const form = await visitor.get('/login');
    const res = await visitor.post('/login', { _csrf: csrfOf(form.text), login: 'tester', password: 'tester-password', return_to: '//evil.example/x' });
    assert.equal(res.headers.get('location'), '/');
  });

  it('sends visitors of a signed-in page to the sign-in form', async () => {
    const res = await anonymous().get('/settings/tokens');
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/login?return_to=%2Fsettings%2Ftokens');
  });

  it('refuses a form POST without the session\'s CSRF token (403)', async () => {
    const res = await signedIn.post('/settings/tokens', { note: 'x', expiration: '7', scopes: 'read:packages' });
    assertHtml(res, 403);
    const forged = await signedIn.post('/settings/tokens', { _csrf: 'forged', note: 'x', expiration: '7', scopes: 'read:packages' });
    assertHtml(forged, 403);
  });

  it('signs out: the session is deleted and the cookie cleared', async () => {
    const visitor = anonymous();
    await visitor.signIn();
    const id = visitor.cookies.get('berth_session')!;
    const home = await visitor.get('/');
    const res = await visitor.post('/logout', { _csrf: csrfOf(home.text) });
    assert.equal(res.status, 303);
    assert.equal(visitor.cookies.has('berth_session'), false);
    visitor.cookies.set('berth_session', id);
    const after = await visitor.get('/settings/tokens');
    assert.equal(after.status, 303, 'the old cookie no longer signs in');
  });
});

describe('package pages', () => {
  it('resolves every html_url of the REST API (packages and versions) to a page', async () => {
    const list = await api<{ name: string; html_url: string }[]>(berth, '/v3/orgs/acme/packages?package_type=container&per_page=100');
    assert.equal(list.status, 200);
    assert.ok(list.body.some((p) => p.name === 'team/api'), 'a nested name is listed');
    for (const pkg of list.body) {
      const page = await signedIn.get(pkg.html_url);
      assertHtml(page);
      const versions = await api<{ html_url: string; package_html_url: string }[]>(berth, `/v3/orgs/acme/packages/container/${encodeURIComponent(pkg.name)}/versions?per_page=100`);
      assert.equal(versions.status, 200);
      for (const v of versions.body) {
        assertHtml(await signedIn.get(v.html_url));
        assert.equal(v.package_html_url, pkg.html_url);
      }
    }
    const owner = await api<{ html_url: string }>(berth, '/v3/orgs/acme');
    const ownerPage = await signedIn.get(owner.body.html_url);
    assert.equal(ownerPage.status, 302);
    assert.equal(ownerPage.headers.get('location'), '/orgs/acme/packages');
  });

  it('shows the pull command, description, source, platforms and signatures on the package page', async () => {
    const page = await signedIn.get('/orgs/acme/packages/container/package/app');
    assertHtml(page);
    assert.ok(page.text.includes(`docker pull ${berth.host}/acme/app:latest`));
    assert.match(page.text, /data-copy="docker pull /);
    assert.match(page.text, /href="https:\/\/github.com\/acme\/app"/);
    assert.match(page.text, /linux\/amd64/);
    assert.match(page.text, /linux\/arm64/);
    assert.match(page.text, /Signature/);
    assert.match(page.text, /<svg class="chart" viewBox="0 0 \d+ \d+" preserveAspectRatio="none"/, 'the chart stretches to its column');
    assert.doesNotMatch(page.text, /<text/, 'its labels are HTML, not stretched SVG text');
    assert.match(page.text, /Package settings/, 'the org owner administers it');
  });

  it('lists `latest` when a package has it, else the tag of its newest version (a tag moved onto an old one does not count), and says which', async () => {
    const old = await pushImage(berth.url, 'acme/order', 'order-old', '1.0.0');
    await pushImage(berth.url, 'acme/order', 'order-new', 'ci-1');
    await pushManifest(berth.url, 'acme/order', 'rc', old.bytes, MEDIA.ociManifest);
    const shown = async (): Promise<string> => {
      const list = await signedIn.get('/orgs/acme/packages?q=order');
      assertHtml(list);
      const m = /(Tag|Newest tag) <span class="tag" title="([^"]+)">/.exec(list.text);
      assert.ok(m, 'the list shows a tag');
      return `${m[1]} ${m[2]}`;
    };
    assert.equal(await shown(), 'Newest tag ci-1');
    await pushManifest(berth.url, 'acme/order', 'latest', old.bytes, MEDIA.ociManifest);
    assert.equal(await shown(), 'Tag latest');
  });

  it('keeps artifact tags (sha256-<hex>.sig, referrers fallback) out of the latest tag, recent tags and pull command', async () => {
    const sigTag = `sha256-${signedHex}.sig`;
    const list = await signedIn.get('/orgs/acme/packages?q=signed');
    assertHtml(list);
    assert.match(list.text, /Newest tag <span class="tag" title="1.0">1.0<\/span>/);
    assert.ok(!list.text.includes('sha256-'), 'no artifact tag in the list');

    const page = await signedIn.get('/orgs/acme/packages/container/package/signed');
    assertHtml(page);
    assert.ok(page.text.includes(`docker pull ${berth.host}/acme/signed:1.0`), 'the pull command names the image tag');
    const recent = page.text.slice(page.text.indexOf('id="tags"'), page.text.indexOf('id="downloads"'));
    assert.match(recent, /title="1.0"/);
    assert.ok(!recent.includes('sha256-'), 'recent tags leave artifact tags out');
    // In the versions table an artifact tag is a short chip with the full name in its tooltip.
    assert.ok(page.text.includes(`<span class="tag tag-artifact" title="${sigTag}">sha256-${signedHex.slice(0, 12)}….sig</span>`), 'short .sig chip');
    assert.ok(page.text.includes(`<span class="tag tag-artifact" title="sha256-${signedHex}">sha256-${signedHex.slice(0, 12)}…</span>`), 'short fallback chip');
    assert.match(page.text, /Signature/, 'the signature is listed under its image');
  });

  it('shows a version: digest, layers, manifest and config JSON', async () => {
    const versions = await api<{ id: number; name: string; metadata: { container: { tags: string[] } } }[]>(berth, '/v3/orgs/acme/packages/container/app/versions');
    const old = versions.body.find((v) => v.metadata.container.tags.includes('1.0'))!;
    const page = await signedIn.get(`/orgs/acme/packages/container/app/${old.id}`);
    assertHtml(page);
    assert.ok(page.text.includes(old.name));
    assert.match(page.text, /Layers/);
    assert.match(page.text, /&quot;schemaVersion&quot;: 2/);
    assert.match(page.text, /&quot;seed&quot;: &quot;app-old&quot;/, 'the image config is shown');
    assertHtml(await signedIn.get('/orgs/acme/packages/container/app/999999'), 404);
  });

  it('lists an owner\'s packages with filters and shows anonymous visitors public packages only', async () => {
    const all = await signedIn.get('/orgs/acme/packages');
    assertHtml(all);
    for (const name of ['app', 'team/api', 'secret', 'xss']) assert.ok(all.text.includes(`>${name}</a>`), name);
    const filtered = await signedIn.get('/orgs/acme/packages?q=ap');
    assert.ok(filtered.text.includes('>app</a>') && filtered.text.includes('>team/api</a>'));
    assert.ok(!filtered.text.includes('>secret</a>'));
    assert.match(all.text, /href="\/orgs\/acme\/settings">Organization settings<\/a>/, 'owners get a link to the org settings');
    const publicOnly = await signedIn.get('/orgs/acme/packages?visibility=public');
    assert.ok(publicOnly.text.includes('>app</a>') && !publicOnly.text.includes('>secret</a>'));

    const visitor = anonymous();
    const seen = await visitor.get('/orgs/acme/packages');
    assertHtml(seen);
    assert.ok(seen.text.includes('>app</a>'));
    assert.ok(!seen.text.includes('>secret</a>'), 'a private package is not listed');
    assert.ok(!seen.text.includes('/orgs/acme/settings'), 'no settings link for visitors');
    assertHtml(await visitor.get('/orgs/acme/packages/container/package/secret'), 404);
    assertHtml(await visitor.get('/orgs/acme/packages/container/package/app'));
    assertHtml(await visitor.get('/users/acme/packages'), 404, );
    assertHtml(await visitor.get('/orgs/nobody/packages'), 404);
  });

  it('escapes labels and annotations from a push: script-bearing values are text', async () => {
    const versions = await api<{ id: number }[]>(berth, '/v3/orgs/acme/packages/container/xss/versions');
    for (const path of ['/orgs/acme/packages/container/package/xss', `/orgs/acme/packages/container/xss/${versions.body[0]!.id}`]) {
      const page = await anonymous().get(path);
      assertHtml(page);
      assert.ok(page.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), `${path} shows the label as text`);
      assert.ok(!page.text.includes('<script>alert'), path);
      assert.ok(!page.text.includes('<img src=x'), path);
      assert.ok(page.text.includes('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;'), path);
    }
  });

  it('serves static assets with long caching', async () => {
    const res = await berth.fetch('/static/berth.css', { auth: null });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/css/);
    assert.match(res.headers.get('cache-control') ?? '', /immutable/);
    await res.text();
    assert.equal((await berth.fetch('/static/nope.css', { auth: null })).status, 404);
  });
});

describe('personal access tokens', () => {
  it('generates a token through the form that works on /v2, lists it, and revokes it', async () => {
    const form = await signedIn.get('/settings/tokens/new');
    assertHtml(form);
    const created = await signedIn.post('/settings/tokens', {
      _csrf: csrfOf(form.text), note: 'ui test token', expiration: '30', scopes: ['read:packages'],
    });
    assertHtml(created);
    const token = /data-copy="(berth_pat_[^"]+)"/.exec(created.text)?.[1];
    assert.ok(token, 'the new token is shown once, with a copy button');
    assert.match(created.text, /won't be able to see it again/);
    const basic = `Basic ${Buffer.from(`tester:${token}`).toString('base64')}`;
    const pull = await berth.fetch('/v2/acme/secret/tags/list', { auth: basic });
    assert.equal(pull.status, 200, await pull.text());

    const list = await signedIn.get('/settings/tokens');
    assert.ok(list.text.includes('ui test token'));
    assert.ok(!list.text.includes(token), 'the list never shows a token again');
    assert.ok(list.text.includes(`<code>${token.slice(0, 14)}…</code>`), 'the token\'s start, with one ellipsis');
    assert.ok(!list.text.includes('……'), 'never two');
    const id = /action="\/settings\/tokens\/(\d+)\/revoke"[^]*?Revoke token ui test token/.exec(list.text)?.[1];
    assert.ok(id);
    const revoked = await signedIn.post(`/settings/tokens/${id}/revoke`, { _csrf: csrfOf(list.text) });
    assert.equal(revoked.status, 303);
    assert.ok(!(await signedIn.get('/settings/tokens')).text.includes('ui test token'));
    // Revocation takes effect on /v2 within the liveness cache (a few seconds).
    let status = 0;
    for (let i = 0; i < 40 && status !== 401; i++) {
      const res = await berth.fetch('/v2/acme/secret/tags/list', { auth: basic });
      status = res.status;
      await res.text();
      if (status !== 401) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(status, 401);
  });

  it('explains refused scope combinations and keeps the form (422)', async () => {
    const form = await signedIn.get('/settings/tokens/new');
    const res = await signedIn.post('/settings/tokens', { _csrf: csrfOf(form.text), note: 'bad', expiration: '7', scopes: ['delete:packages'] });
    assertHtml(res, 422);
    assert.ok(res.text.includes('delete:packages needs read:packages'), 'the reason is shown');
    assert.match(res.text, /value="bad"/);
  });
});

describe('package settings', () => {
  it('changes visibility through the form, as the REST API then reports', async () => {
    const settings = await signedIn.get('/orgs/acme/packages/container/team%2Fapi/settings');
    assertHtml(settings);
    const res = await signedIn.post('/orgs/acme/packages/container/team%2Fapi/settings/visibility', { _csrf: csrfOf(settings.text), visibility: 'internal' });
    assert.equal(res.status, 303);
    const pkg = await api<{ visibility: string }>(berth, '/v3/orgs/acme/packages/container/team%2Fapi');
    assert.equal(pkg.body.visibility, 'internal');
  });

  it('grants and removes access for a user', async () => {
    await berth.admin((s) => s.accounts.createUser({ login: 'reader', password: 'reader-password' }));
    const settings = await signedIn.get('/orgs/acme/packages/container/secret/settings');
    const granted = await signedIn.post('/orgs/acme/packages/container/secret/settings/access', {
      _csrf: csrfOf(settings.text), principal_type: 'user', principal: 'reader', role: 'read',
    });
    assert.equal(granted.status, 303);
    const reader = anonymous();
    await reader.signIn('reader', 'reader-password');
    assertHtml(await reader.get('/orgs/acme/packages/container/package/secret'));
    assertHtml(await reader.get('/orgs/acme/packages/container/secret/settings'), 403);
    const page = await signedIn.get('/orgs/acme/packages/container/secret/settings');
    const id = /name="principal_id" value="(\d+)"/.exec(page.text)?.[1];
    assert.ok(id);
    const removed = await signedIn.post('/orgs/acme/packages/container/secret/settings/access/remove', { _csrf: csrfOf(page.text), principal_type: 'user', principal_id: id });
    assert.equal(removed.status, 303);
    assertHtml(await reader.get('/orgs/acme/packages/container/package/secret'), 404);
  });

  it("keeps a package admin who is not an org owner within the organization's allowed visibilities", async () => {
    await pushImage(berth.url, 'acme/policed', 'policed', 'v1');
    await berth.admin(async (s) => {
      const member = await s.accounts.createUser({ login: 'pkgadmin', password: 'pkgadmin-password' });
      await s.accounts.addMember('acme', 'pkgadmin', 'member');
      await s.packages.grant('acme/policed', { type: 'user', id: member.id }, 'admin');
      await s.accounts.setOrgPolicy('acme', { allowedVisibilities: ['private', 'internal'], defaultVisibility: 'private' });
    });
    try {
      const admin = anonymous();
      await admin.signIn('pkgadmin', 'pkgadmin-password');
      const settings = await admin.get('/orgs/acme/packages/container/policed/settings');
      assertHtml(settings);
      const refused = await admin.post('/orgs/acme/packages/container/policed/settings/visibility', { _csrf: csrfOf(settings.text), visibility: 'public' });
      assertHtml(refused, 422);
      assert.match(refused.text, /allows only private, internal packages/);
      assert.equal((await api<{ visibility: string }>(berth, '/v3/orgs/acme/packages/container/policed')).body.visibility, 'private');
      const allowed = await admin.post('/orgs/acme/packages/container/policed/settings/visibility', { _csrf: csrfOf(settings.text), visibility: 'internal' });
      assert.equal(allowed.status, 303);
      assert.equal((await api<{ visibility: string }>(berth, '/v3/orgs/acme/packages/container/policed')).body.visibility, 'internal');
      // An owner of the organization is not bound by its policy.
      const owned = await signedIn.get('/orgs/acme/packages/container/policed/settings');
      const byOwner = await signedIn.post('/orgs/acme/packages/container/policed/settings/visibility', { _csrf: csrfOf(owned.text), visibility: 'public' });
      assert.equal(byOwner.status, 303);
      assert.equal((await api<{ visibility: string }>(berth, '/v3/orgs/acme/packages/container/policed')).body.visibility, 'public');
    } finally {
      await berth.admin((s) => s.accounts.setOrgPolicy('acme', { allowedVisibilities: ['private', 'internal', 'public'] }));
    }
  });

  it('deletes only with the typed name, and restores', async () => {
    await pushImage(berth.url, 'acme/doomed', 'doomed', 'v1');
    const settings = await signedIn.get('/orgs/acme/packages/container/doomed/settings');
    const wrong = await signedIn.post('/orgs/acme/packages/container/doomed/settings/delete', { _csrf: csrfOf(settings.text), confirm: 'doome' });
    assertHtml(wrong, 422);
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/doomed')).status, 200);
    const deleted = await signedIn.post('/orgs/acme/packages/container/doomed/settings/delete', { _csrf: csrfOf(settings.text), confirm: 'doomed' });
    assert.equal(deleted.status, 303);
    assert.equal(deleted.headers.get('location'), '/orgs/acme/packages?deleted=doomed');
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/doomed')).status, 404);
    const restorePage = await signedIn.get('/orgs/acme/packages/container/doomed/settings');
    assertHtml(restorePage);
    assert.match(restorePage.text, /Restore doomed/);
    const restored = await signedIn.post('/orgs/acme/packages/container/doomed/settings/restore', { _csrf: csrfOf(restorePage.text), confirm: 'doomed' });
    assert.equal(restored.status, 303);
    assert.equal((await api(berth, '/v3/orgs/acme/packages/container/doomed')).status, 200);
  });
});

describe('organization teams', () => {
  it('deletes a team with its name typed; its members lose the package roles it had', async () => {
    await pushImage(berth.url, 'acme/teamed', 'teamed', 'v1');
    await berth.admin(async (s) => {
      await s.accounts.createUser({ login: 'opsuser', password: 'opsuser-password' });
      await s.accounts.addMember('acme', 'opsuser', 'member');
      await s.accounts.createTeam('acme', 'ops');
      await s.accounts.addTeamMember('acme', 'ops', 'opsuser');
      await s.packages.grant('acme/teamed', { type: 'team', id: await s.accounts.teamId('acme', 'ops') }, 'read');
    });
    const ops = anonymous();
    await ops.signIn('opsuser', 'opsuser-password');
    assertHtml(await ops.get('/orgs/acme/packages/container/package/teamed'));

    const settings = await signedIn.get('/orgs/acme/settings');
    assertHtml(settings);
    const wrong = await signedIn.post('/orgs/acme/settings/teams/delete', { _csrf: csrfOf(settings.text), team: 'ops', confirm: 'op' });
    assertHtml(wrong, 422);
    assert.deepEqual((await berth.admin((s) => s.accounts.teams('acme'))).map((t) => t.name).filter((n) => n === 'ops'), ['ops']);
    const deleted = await signedIn.post('/orgs/acme/settings/teams/delete', { _csrf: csrfOf(settings.text), team: 'ops', confirm: 'ops' });
    assert.equal(deleted.status, 303);

    assert.ok(!(await berth.admin((s) => s.accounts.teams('acme'))).some((t) => t.name === 'ops'));
    assert.deepEqual(await berth.query("select * from package_permissions where principal_type = 'team'"), []);
    assertHtml(await ops.get('/orgs/acme/packages/container/package/teamed'), 404);
    // Still a member of the organization.
    assert.ok((await berth.admin((s) => s.accounts.members('acme'))).some((m) => m.login === 'opsuser'));
  });
});

describe('version deletion', () => {
  it('deletes a version from its page, lists it among the deleted ones, and restores it with its tag', async () => {
    const versions = await api<{ id: number; metadata: { container: { tags: string[] } } }[]>(berth, '/v3/orgs/acme/packages/container/app/versions');
    const old = versions.body.find((v) => v.metadata.container.tags.includes('1.0'))!;
    const page = await signedIn.get(`/orgs/acme/packages/container/app/${old.id}`);
    assert.match(page.text, /Delete version/);
    const deleted = await signedIn.post(`/orgs/acme/packages/container/app/${old.id}/delete`, { _csrf: csrfOf(page.text) });
    assert.equal(deleted.status, 303);
    assert.equal(deleted.headers.get('location'), '/orgs/acme/packages/container/package/app?state=deleted&done=deleted');
    assert.equal((await api(berth, `/v3/orgs/acme/packages/container/app/versions/${old.id}`)).status, 404);
    const list = await signedIn.get('/orgs/acme/packages/container/package/app?state=deleted');
    assertHtml(list);
    assert.ok(list.text.includes(`action="/orgs/acme/packages/container/app/${old.id}/restore"`));
    const visitorView = await anonymous().get('/orgs/acme/packages/container/package/app?state=deleted');
    assert.ok(!visitorView.text.includes('/restore"'), 'visitors do not see deleted versions');
    const restored = await signedIn.post(`/orgs/acme/packages/container/app/${old.id}/restore`, { _csrf: csrfOf(list.text) });
    assert.equal(restored.status, 303);
    const back = await api<{ metadata: { container: { tags: string[] } } }>(berth, `/v3/orgs/acme/packages/container/app/versions/${old.id}`);
    assert.deepEqual(back.body.metadata.container.tags, ['1.0']);
  });

  it('refuses to delete a package\'s last version, saying why (400)', async () => {
    const versions = await api<{ id: number }[]>(berth, '/v3/orgs/acme/packages/container/secret/versions');
    const page = await signedIn.get(`/orgs/acme/packages/container/secret/${versions.body[0]!.id}`);
    const res = await signedIn.post(`/orgs/acme/packages/container/secret/${versions.body[0]!.id}/delete`, { _csrf: csrfOf(page.text) });
    assertHtml(res, 400);
    assert.ok(res.text.includes('You cannot delete the last version of a package.'));
  });
});

describe('start page', () => {
  it('shows visitors public packages and a sign-in link; signed-in users their namespaces', async () => {
    const visitor = await anonymous().get('/');
    assertHtml(visitor);
    assert.match(visitor.text, /href="\/login"/);
    assert.match(visitor.text, /acme\/app/);
    assert.ok(!visitor.text.includes('acme/secret'));
    const dashboard = await signedIn.get('/');
    assertHtml(dashboard);
    assert.match(dashboard.text, /href="\/orgs\/acme\/packages"/);
    assert.match(dashboard.text, /href="\/users\/tester\/packages"/);
  });

  it('answers unknown paths with an HTML 404 page, and malformed ones with an HTML 400 page', async () => {
    assertHtml(await anonymous().get('/no/such/page'), 404);
    const bad = await rawRequest(berth.url, { method: 'GET', path: '/orgs/%E0%A4%A/packages', headers: { authorization: '' } });
    assert.equal(bad.status, 400);
    assert.match(String(bad.headers['content-type']), /^text\/html/);
    assert.equal(bad.headers['content-security-policy'], CSP);
  });
});

describe('behind an HTTPS reverse proxy', () => {
  it('marks the session cookie Secure when the trusted proxy says the request came over HTTPS', async () => {
    const proxied = await startBerth({ env: { BERTH_SERVER_TRUSTED_PROXIES: '127.0.0.1' } });
    try {
      const https = { 'x-forwarded-proto': 'https', 'x-forwarded-host': proxied.host };
      const visitor = new Visitor(proxied);
      const form = await visitor.get('/login');
      const res = await visitor.post('/login', { _csrf: csrfOf(form.text), login: 'tester', password: 'tester-password' }, https);
      assert.equal(res.status, 303, res.text);
      const cookie = res.setCookies.find((c) => c.startsWith('berth_session='));
      assert.match(cookie ?? '', /; Secure/);
      const foreign = await visitor.post('/logout', { _csrf: 'x' }, { ...https, origin: `http://${proxied.host}` });
      assert.equal(foreign.status, 403, 'an http:// origin is not the https:// site');
    } finally {
      await proxied.stop();
    }
  });
});

// On a server of its own: the limiter counts failures per client address too, and every test here comes from
// 127.0.0.1, so tripping it on the shared server would refuse the other tests' sign-ins (whatever their order).
describe('sign-in rate limit', () => {
  it('rate limits failed sign-ins per login (429 with Retry-After), even with the right password then', async () => {
    // A window far longer than the test: on a loaded machine twelve sign-ins (each a scrypt) can take over a
    // minute, and the default 1m window would let early failures slide out before the limit is reached.
    const limited = await startBerth({ env: { BERTH_AUTH_FAILED_LOGIN_WINDOW: '1h' } });
    try {
      await limited.admin((s) => s.accounts.createUser({ login: 'victim', password: 'victim-password' }));
      const visitor = new Visitor(limited);
      let last: Page | null = null;
      let failures = 0;
      for (let i = 0; i < 12; i++) {
        const form = await visitor.get('/login');
        last = await visitor.post('/login', { _csrf: csrfOf(form.text), login: 'victim', password: `guess-${i}` });
        if (last.status === 429) break;
        assertHtml(last, 401);
        failures++;
      }
      assert.equal(last!.status, 429);
      assertHtml(last!, 429);
      assert.equal(failures, 10, 'auth.failedLoginLimit (10) failures are answered before the 429');
      assert.ok(Number(last!.headers.get('retry-after')) > 0);
      const form = await visitor.get('/login');
      const right = await visitor.post('/login', { _csrf: csrfOf(form.text), login: 'victim', password: 'victim-password' });
      assertHtml(right, 429);
      assert.equal(visitor.cookies.has('berth_session'), false, 'no session while the limit holds');
    } finally {
      await limited.stop();
    }
  });
});
