import assert from 'node:assert/strict';
import type { RunningBerth } from './berth.js';

/** What a sign-in through the web UI's form answered, and how long the POST took. */
export interface SignInResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The session cookie's value when the sign-in succeeded. */
  readonly session: string | null;
  readonly ms: number;
}

/**
 * Signs in through the web UI's form as a browser does: GET /login for the form's CSRF token (and its cookie), then
 * POST the form. `headers` go with both requests (e.g. X-Forwarded-For through a trusted proxy).
 */
export async function signInForm(berth: Pick<RunningBerth, 'fetch'>, login: string, password: string, headers: Record<string, string> = {}): Promise<SignInResult> {
  const form = await berth.fetch('/login', { auth: null, headers });
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('berth_login_csrf='));
  assert.ok(token && cookie, 'the sign-in form carries a CSRF token and its cookie');
  const started = performance.now();
  const res = await berth.fetch('/login', {
    method: 'POST', auth: null, redirect: 'manual',
    headers: { ...headers, cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: token, login, password }).toString(),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  const session = res.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('berth_session='))?.slice('berth_session='.length);
  return { status: res.status, headers: res.headers, text, session: session || null, ms };
}
