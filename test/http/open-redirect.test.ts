// The sign-in form's return_to never leads off-site (issue 12.1): known open-redirect bypasses (tabs, newlines,
// backslashes, encoded forms, scheme-relative and absolute URLs, javascript:) through GET /login of a signed-in
// visitor and through POST /login, checked on the Location header and, for the GET, in a real browser that would
// follow it to another origin (a second local server standing in for evil.example).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { launchBrowser, openSession } from '../helpers/browser.js';

describe('return_to after sign-in', () => {
  let berth: RunningBerth;
  let evil: Server;
  let evilHost: string;
  const evilHits: string[] = [];

  before(async () => {
    berth = await startBerth();
    evil = createServer((req, res) => {
      evilHits.push(req.url ?? '');
      res.end('evil');
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    evilHost = `127.0.0.1:${(evil.address() as AddressInfo).port}`;
  });
  after(async () => {
    await berth?.stop();
    evil?.close();
  });

  /** Each value as a browser or an attacker's link would put it in return_to (decoded: the server sees these). */
  const bypasses = (host: string): string[] => [
    `/\t/${host}/`, `/\n/${host}/`, `/\r\n/${host}/`, `/\t\t/${host}/`, `\t//${host}/`, `/ \t/${host}/`,
    `//${host}/`, `///${host}/`, `////${host}/`, `/\\${host}/`, `/\\/${host}/`, `\\\\${host}/`, `\\/${host}/`,
    `/.//${host}/`, `/./\\${host}/`, `/%2F/${host}/`, `/%5C${host}/`, `/%09/${host}/`, `%2F%2F${host}/`,
    `https://${host}/`, `http://${host}/`, `http:${host}`, `http:/${host}/`, `//${host}@site/`, `/\u0000/${host}/`,
    `/\u007f/${host}/`, `javascript:alert(1)`, `JaVaScRiPt:alert(1)`, `data:text/html,<b>x</b>`, ` /${host}/`,
  ];

  /** Where a browser at `berth.url` goes with this Location: must be Berth's own origin. */
  function assertLocal(location: string | null, sent: string): void {
    assert.ok(location, `no Location for ${JSON.stringify(sent)}`);
    const target = new URL(location, berth.url);
    assert.equal(target.origin, new URL(berth.url).origin, `return_to ${JSON.stringify(sent)} led to ${JSON.stringify(location)}`);
    assert.doesNotMatch(location, /^[/\\]{2}|[\u0000-\u001f\\]/, `Location ${JSON.stringify(location)} is a path without host, tab or backslash`);
  }

  /** A cookie jar signed in through the form: session and login CSRF cookies. */
  async function signIn(returnTo?: string): Promise<{ cookie: string; location: string | null }> {
    const form = await berth.fetch('/login', { auth: null });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const loginCookie = form.headers.getSetCookie().map((c) => c.split(';')[0]!).join('; ');
    const body = new URLSearchParams({ _csrf: csrf, login: berth.user, password: 'tester-password', ...(returnTo === undefined ? {} : { return_to: returnTo }) });
    const res = await berth.fetch('/login', {
      method: 'POST', auth: null, redirect: 'manual', body: body.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie },
    });
    assert.equal(res.status, 303, await res.text());
    const session = res.headers.getSetCookie().find((c) => c.startsWith('berth_session='))!.split(';')[0]!;
    return { cookie: session, location: res.headers.get('location') };
  }

  it('POST /login keeps every bypass on the site, and keeps a real path with its query', async () => {
    for (const value of bypasses('evil.example')) {
      const { location } = await signIn(value);
      assertLocal(location, value);
    }
    assert.equal((await signIn('/orgs/acme/packages?visibility=private')).location, '/orgs/acme/packages?visibility=private');
    assert.equal((await signIn('/orgs/acme/packages/container/package/team%2Fapi')).location, '/orgs/acme/packages/container/package/team%2Fapi');
  });

  it('GET /login of a signed-in visitor (redirected at once) keeps every bypass on the site; a newline is no 500', async () => {
    const { cookie } = await signIn();
    for (const value of bypasses('evil.example')) {
      const res = await berth.fetch(`/login?return_to=${encodeURIComponent(value)}`, { auth: null, redirect: 'manual', headers: { cookie } });
      assert.equal(res.status, 303, `return_to ${JSON.stringify(value)}: ${await res.text()}`);
      assertLocal(res.headers.get('location'), value);
    }
    const ok = await berth.fetch('/login?return_to=%2Fsettings%2Ftokens', { auth: null, redirect: 'manual', headers: { cookie } });
    assert.equal(ok.headers.get('location'), '/settings/tokens');
  });

  it('a signed-out visitor\'s sign-in form carries only a local return_to', async () => {
    const res = await berth.fetch(`/login?return_to=${encodeURIComponent(`/\t/evil.example`)}`, { auth: null });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /name="return_to" value="\/"/);
  });

  it('chromium, signed in, stays on Berth for every bypass', async () => {
    let browser: Browser | null = null;
    try {
      browser = await launchBrowser();
      const ui = await openSession(browser, berth.url);
      await ui.signIn(berth.user, 'tester-password');
      for (const value of bypasses(evilHost)) {
        await ui.page.goto(`/login?return_to=${encodeURIComponent(value)}`);
        assert.equal(new URL(ui.page.url()).origin, new URL(berth.url).origin, `return_to ${JSON.stringify(value)} took the browser to ${ui.page.url()}`);
      }
      assert.deepEqual(evilHits, [], 'the other origin was never visited');
      await ui.close();
    } finally {
      await browser?.close();
    }
  });
});
