import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { failureKeys } from '../../../auth/failure-limiter.js';
import { BOT_TOKEN_PREFIX } from '../../../auth/personal-token.js';
import { cookieOf, LOGIN_CSRF_COOKIE, SESSION_COOKIE, setCookie } from '../cookies.js';
import { html } from '../html.js';
import { formOf, localPath, queryOf, redirect, registryHost, sameOrigin, sendPage, viewerOf, type UiDeps } from '../ui-context.js';
import { csrfRejected, tooManyAttempts } from '../ui-errors.js';

/** Sign in with login and password (GitHub "Sign in"), sign out. */
export function register(app: FastifyInstance, deps: UiDeps): void {
  app.get('/login', (request, reply) => showLogin(deps, request, reply));
  app.post('/login', { config: { csrf: false } }, (request, reply) => signIn(deps, request, reply));
  app.post('/logout', (request, reply) => signOut(deps, request, reply));
}

/** GET /login — the sign-in form; a signed-in visitor goes straight on. */
async function showLogin(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, opts: { error?: string; login?: string; status?: number } = {}) {
  const returnTo = localPath(queryOf(request, 'return_to') ?? formOf(request).get('return_to'));
  if (viewerOf(request).account && !opts.error) return redirect(reply, returnTo);
  // No session yet: the form's CSRF token is a random value, also set as a cookie (double submit).
  const token = randomBytes(24).toString('base64url');
  setCookie(request, reply, LOGIN_CSRF_COOKIE, token, 3600);
  if (opts.status === 401) reply.header('WWW-Authenticate', 'FormBased realm="Berth"');
  return sendPage(request, reply, {
    title: 'Sign in', status: opts.status ?? 200,
    flash: opts.error ? { kind: 'error', message: opts.error } : null,
    body: html`<section class="auth-box">
  <h1>Sign in to Berth</h1>
  ${deps.signIn.sso ? html`<p><a class="btn btn-primary btn-block" href="/login/sso?return_to=${encodeURIComponent(returnTo)}">Sign in with single sign-on</a></p>` : null}
  ${deps.signIn.localPasswords ? html`${deps.signIn.sso ? html`<p class="muted">Or with your Berth password:</p>` : null}
  <form method="post" action="/login" class="stack">
    <input type="hidden" name="_csrf" value="${token}">
    <input type="hidden" name="return_to" value="${returnTo}">
    <label for="login">Username</label>
    <input id="login" name="login" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${opts.login ?? ''}" autofocus>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <button type="submit" class="btn ${deps.signIn.sso ? '' : 'btn-primary '}btn-block">Sign in</button>
  </form>
  <p class="muted">Registry clients (docker, podman, skopeo) sign in with a personal access token, not this password.</p>` : null}
</section>`,
  });
}

/** POST /login — checks the password; failures are rate limited per client address and per login, as /token does. */
async function signIn(deps: UiDeps, request: FastifyRequest, reply: FastifyReply) {
  const form = formOf(request);
  const cookie = cookieOf(request, LOGIN_CSRF_COOKIE) ?? '';
  const sent = form.get('_csrf') ?? '';
  if (!cookie || !equal(cookie, sent) || !sameOrigin(request, deps.publicUrl)) throw csrfRejected();
  const login = (form.get('login') ?? '').trim();
  const password = form.get('password') ?? '';
  if (!deps.signIn.localPasswords) {
    return showLogin(deps, request, reply, { error: 'Passwords are turned off on this site: sign in with single sign-on.', login, status: 403 });
  }
  const now = deps.clock.now();
  const keys = failureKeys(request.ip, login);
  const wait = Math.max(...keys.map((k) => deps.limiter.retryAfter(k, now)));
  if (wait > 0) throw tooManyAttempts(wait);
  if (login.includes('+') || password.startsWith(BOT_TOKEN_PREFIX)) {
    // A bot (`org+name`, a berth_bot_ secret) is not a person: no session, whatever the secret (nothing is checked,
    // so nothing is learnt about the bot; the same words whether it exists or not).
    const who = login.includes('+') ? login : 'a bot account';
    return showLogin(deps, request, reply, {
      error: `${who} is a bot account: bots are not people and cannot sign in to the web UI. A bot logs in with its token from `
        + `registry clients (docker login ${registryHost(request, deps.publicUrl)} -u ORG+NAME --password-stdin) and the API; `
        + 'an owner of its organization manages it on the organization\'s settings page.',
      login, status: 403,
    });
  }
  const account = login && password ? await deps.accounts.checkPassword(login, password) : null;
  if (!account) {
    for (const k of keys) deps.limiter.fail(k, now);
    return showLogin(deps, request, reply, { error: 'Incorrect username or password.', login, status: 401 });
  }
  const session = await deps.sessions.create(account.id);
  setCookie(request, reply, SESSION_COOKIE, session.id, (session.expiresAt - now) / 1000);
  setCookie(request, reply, LOGIN_CSRF_COOKIE, '', 0);
  return redirect(reply, localPath(form.get('return_to')));
}

/** POST /logout — ends the session everywhere (it is a database row) and clears the cookie. */
async function signOut(deps: UiDeps, request: FastifyRequest, reply: FastifyReply) {
  const { session } = viewerOf(request);
  if (session) await deps.sessions.delete(session.id);
  setCookie(request, reply, SESSION_COOKIE, '', 0);
  return redirect(reply, '/');
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
