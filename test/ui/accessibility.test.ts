// Accessibility of the main pages in a real browser, light and dark (issue 6: "accessible (labels, keyboard,
// contrast), light and dark"): each page is audited in Chromium for the document language, one h1, a name for
// every form control, button and link, and WCAG AA contrast (4.5:1, 3:1 for large text) of every visible text
// against the background it is actually drawn on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { launchBrowser, openSession } from '../helpers/browser.js';
import { pushIndex, pushLabelledImage } from '../helpers/github.js';
import { pushImage, useAuthorization } from '../helpers/http.js';

/**
 * Runs in the page (a string: the tests compile without the DOM library). Returns what fails, one line each.
 * Contrast: the text colour against the first opaque background among its ancestors (translucent ones composited
 * over it), which is how a flat design like Berth's draws text; SVG and disabled controls are left out, as WCAG does.
 */
const AUDIT = `(() => {
  const problems = [];
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  // checkVisibility: also false inside a closed <details> (its content is not rendered, so innerText is empty).
  const visible = (el) => { const s = getComputedStyle(el); return s.visibility !== 'hidden' && s.display !== 'none' && el.getClientRects().length > 0 && el.checkVisibility(); };
  if (!document.documentElement.lang) problems.push('<html> has no lang');
  const h1s = [...document.querySelectorAll('h1')].filter(visible);
  if (h1s.length !== 1) problems.push('expected one visible h1, found ' + h1s.length);
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (['hidden', 'submit', 'button', 'reset'].includes(el.type) || !visible(el)) continue;
    const named = el.labels.length > 0 || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.title;
    if (!named) problems.push('form control without a label: ' + describe(el) + ' name=' + el.name);
  }
  for (const el of document.querySelectorAll('button, a[href], [role=button]')) {
    if (!visible(el)) continue;
    const name = (el.innerText || '').trim() || el.getAttribute('aria-label') || el.title || (el.querySelector('img[alt]') || {}).alt;
    if (!name) problems.push('button or link without a name: ' + describe(el));
  }
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null; const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const over = (top, bottom) => ({ r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a), b: top.b * top.a + bottom.b * (1 - top.a), a: 1 });
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let result = layers.length && layers[layers.length - 1].a >= 1 ? layers.pop() : { r: 255, g: 255, b: 255, a: 1 };
    while (layers.length) result = over(layers.pop(), result);
    return result;
  };
  const luminance = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || seen.has(el) || !node.textContent.trim() || el.closest('svg') || el.closest('[disabled]') || !visible(el)) continue;
    seen.add(el);
    const s = getComputedStyle(el);
    const bg = background(el);
    const fg = over(parse(s.color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push('contrast ' + ratio.toFixed(2) + ':1 for "' + node.textContent.trim().slice(0, 40) + '" in ' + describe(el) + ' (' + s.color + ' on ' + 'rgb(' + [bg.r, bg.g, bg.b].map(Math.round).join(',') + '))');
  }
  return problems;
})()`;

describe('accessibility of the main pages', () => {
  let berth: RunningBerth;
  let browser: Browser;
  let versionId = 0;

  before(async () => {
    // A mirror, so its pages are audited too; they render without asking the upstream (nothing is pulled here).
    berth = await startBerth({ env: { BERTH_MIRROR_UPSTREAMS_HUB_URL: 'http://127.0.0.1:9', BERTH_MIRROR_UPSTREAMS_HUB_EVICT_AFTER: '30d' } });
    useAuthorization(berth.authorization);
    const amd = await pushLabelledImage(berth.url, 'acme/web', 'web-amd64', {
      labels: { 'org.opencontainers.image.description': 'The web front end', 'org.opencontainers.image.source': 'https://github.com/acme/web' },
    });
    const arm = await pushLabelledImage(berth.url, 'acme/web', 'web-arm64', { platform: { architecture: 'arm64', os: 'linux' } });
    await pushIndex(berth.url, 'acme/web', 'latest', [amd.descriptor, arm.descriptor]);
    await pushImage(berth.url, 'acme/worker', 'worker', 'v1');
    await berth.admin(async (s) => {
      await s.accounts.createUser({ login: 'root', password: 'root-password', isAdmin: true });
      await s.packages.setVisibility('acme/web', 'public');
      // The organization settings page's Bots table is audited with a row in it.
      await s.bots.create((await s.accounts.find('acme'))!.id, {
        name: 'deployer', description: 'prod cluster', packages: ['web', 'worker-*'], actions: ['pull'], expiresAt: Date.now() + 86_400_000,
      }, null);
    });
    const res = await berth.fetch('/api/v3/orgs/acme/packages/container/web/versions');
    versionId = ((await res.json()) as { id: number }[])[0]!.id;
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await berth?.stop();
  });

  for (const colorScheme of ['light', 'dark'] as const) {
    it(`${colorScheme}: every main page passes the audit`, async () => {
      const pages = [
        '/orgs/acme/packages', '/orgs/acme/packages/container/package/web', `/orgs/acme/packages/container/web/${versionId}`,
        '/orgs/acme/packages/container/web/settings', '/settings/tokens', '/settings/tokens/new', '/orgs/acme/settings',
        '/orgs/acme/usage', '/admin', '/admin/users', '/settings/password', '/', '/mirrors', '/mirrors/hub', '/admin/mirrors',
      ];
      const failures: string[] = [];
      const anonymous = await openSession(browser, berth.url, { colorScheme });
      try {
        assert.equal(await anonymous.goto('/login'), 200);
        failures.push(...((await anonymous.page.evaluate(AUDIT)) as string[]).map((p) => `/login: ${p}`));
      } finally {
        await anonymous.close();
      }
      const ui = await openSession(browser, berth.url, { colorScheme });
      try {
        // `root` is an instance admin, so the admin page is audited too, and sees acme's settings and usage.
        await ui.signIn('root', 'root-password');
        for (const path of pages) {
          assert.equal(await ui.goto(path), 200, path);
          failures.push(...((await ui.page.evaluate(AUDIT)) as string[]).map((p) => `${path}: ${p}`));
        }
        ui.assertClean();
      } finally {
        await ui.close();
      }
      assert.deepEqual(failures, [], `${failures.length} accessibility problems:\n${failures.join('\n')}`);
    });
  }
});
