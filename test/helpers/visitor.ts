// A browser without a browser, for tests of the web UI's pages and forms over HTTP.
import assert from 'node:assert/strict';
import type { RunningBerth } from './berth.js';

/** A browser without a browser: a cookie jar, no redirects followed, forms posted url-encoded. */
export class Visitor {
  readonly cookies = new Map<string, string>();

  constructor(readonly berth: RunningBerth) {}

  async get(path: string): Promise<Page> {
    return this.#send(path, { method: 'GET' });
  }

  async post(path: string, form: Record<string, string | string[]>, headers: Record<string, string> = {}): Promise<Page> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const x of [v].flat()) body.append(k, x);
    return this.#send(path, { method: 'POST', body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
  }

  /** Signs in through the form; returns the redirect response. */
  async signIn(login = 'tester', password = 'tester-password'): Promise<Page> {
    const form = await this.get('/login');
    const res = await this.post('/login', { _csrf: csrfOf(form.text), login, password });
    assert.equal(res.status, 303, res.text);
    return res;
  }

  async #send(path: string, init: { method: string; body?: string; headers?: Record<string, string> }): Promise<Page> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await this.berth.fetch(path, { ...init, auth: null, redirect: 'manual', headers: { ...init.headers, ...(cookie ? { cookie } : {}) } });
    const setCookies = res.headers.getSetCookie();
    for (const c of setCookies) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/Max-Age=0/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: res.status, headers: res.headers, text: await res.text(), setCookies };
  }
}

export interface Page {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly setCookies: string[];
}

export function csrfOf(text: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(text);
  assert.ok(m, 'the page has a form with a CSRF token');
  return m[1]!;
}
