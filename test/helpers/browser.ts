/**
 * A real browser for the web UI tests and the screenshot script: Debian's chromium driven by playwright-core
 * (no browser download; scripts/install-test-deps.sh installs the `chromium` package when missing). One browser
 * per test file; each test opens its own context (cookies, permissions) through `openSession`.
 *
 * A session records every console error, uncaught page error and Content-Security-Policy violation; tests call
 * `assertClean()` (or `takeProblems()` after a deliberate 404) so a page that breaks its own CSP fails the test.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.BERTH_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Headless, no sandbox (containers run as root), and none of Chrome's background traffic. */
const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update',
  '--no-first-run', '--disable-sync', '--metrics-recording-only', '--disable-default-apps',
];

export function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/install-test-deps.sh (Debian package chromium)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

export interface SessionOptions {
  readonly colorScheme?: 'light' | 'dark';
  readonly viewport?: { readonly width: number; readonly height: number };
  /** Lets the page read and write the clipboard (copy buttons). */
  readonly clipboard?: boolean;
  /** false: a browser with JavaScript off (every form must still work). */
  readonly javaScript?: boolean;
}

export interface UiSession {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly baseUrl: string;
  /** Navigates to a path of the server and returns the response status. */
  goto(path: string): Promise<number>;
  /** Signs in through the form at /login, as a person would. */
  signIn(login: string, password: string): Promise<void>;
  /** Console errors, page errors and CSP violations seen so far, then forgets them. */
  takeProblems(): string[];
  /** Fails if any console error, page error or CSP violation happened (`allowed` ones excepted). */
  assertClean(allowed?: readonly RegExp[]): void;
  /** Full-page PNG into `dir` (created if needed); returns the path. */
  screenshot(dir: string, name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Runs `fn` in a fresh browser context signed in as `login` (password `<login>-password`; null: a visitor), then
 * checks it for page problems and closes it; on a failure a screenshot lands in `shots`.
 */
export async function inSession<T>(
  browser: Browser, baseUrl: string, shots: string, login: string | null, fn: (ui: UiSession) => Promise<T>, opts: SessionOptions = {},
): Promise<T> {
  const ui = await openSession(browser, baseUrl, opts);
  try {
    if (login) await ui.signIn(login, `${login}-password`);
    const result = await fn(ui);
    ui.assertClean();
    return result;
  } catch (err) {
    await ui.screenshot(shots, `failed-${Date.now()}`).catch(() => undefined);
    throw err;
  } finally {
    await ui.close();
  }
}

export async function openSession(browser: Browser, baseUrl: string, opts: SessionOptions = {}): Promise<UiSession> {
  const context = await browser.newContext({
    baseURL: baseUrl,
    colorScheme: opts.colorScheme ?? 'light',
    viewport: opts.viewport ? { ...opts.viewport } : { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    javaScriptEnabled: opts.javaScript ?? true,
  });
  if (opts.clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(baseUrl).origin });
  const problems: string[] = [];
  // Chromium reports CSP violations on the console too; the event catches those a page reports silently.
  await context.exposeBinding('__berthCspViolation', (_source, text: string) => { problems.push(`CSP violation: ${text}`); });
  // A string, not a function: the test code is compiled without the DOM library.
  await context.addInitScript(`document.addEventListener('securitypolicyviolation', (e) =>
    window.__berthCspViolation(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));`);
  const page = await context.newPage();
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));

  return {
    context,
    page,
    baseUrl,
    async goto(path) {
      const response = await page.goto(path);
      return response?.status() ?? 0;
    },
    async signIn(login, password) {
      await page.goto('/login');
      await page.getByLabel(/user ?name|login/i).fill(login);
      await page.getByLabel(/password/i).fill(password);
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /sign in/i }).click()]);
      if (new URL(page.url()).pathname === '/login') throw new Error(`signing in as ${login} failed: ${await page.locator('main').innerText()}`);
    },
    takeProblems() {
      return problems.splice(0);
    },
    assertClean(allowed = []) {
      const left = problems.splice(0).filter((p) => !allowed.some((re) => re.test(p)));
      if (left.length > 0) throw new Error(`the page reported problems:\n${left.join('\n')}`);
    },
    async screenshot(dir, name) {
      mkdirSync(dir, { recursive: true });
      const path = join(dir, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close: () => context.close(),
  };
}
