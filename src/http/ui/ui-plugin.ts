import { noteCaller } from '../request-facts.js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isCaller } from '../../auth/credentials.js';
import { BerthError, isBerthError, isStorageFull, storageFull } from '../../util/errors.js';
import { cookieOf, SESSION_COOKIE, setCookie } from './cookies.js';
import { html } from './html.js';
import { page } from './layout.js';
import * as loginPage from './pages/login-page.js';
import * as homePage from './pages/home-page.js';
import * as packageList from './pages/package-list.js';
import * as packagePage from './pages/package-page.js';
import * as versionPage from './pages/version-page.js';
import * as versionsPage from './pages/versions-page.js';
import * as packageSettingsPage from './pages/package-settings-page.js';
import * as tokensPage from './pages/tokens-page.js';
import * as usagePage from './pages/usage-page.js';
import * as adminPage from './pages/admin-page.js';
import * as mirrorsPage from './pages/mirrors-page.js';
import * as orgSettingsPage from './pages/org-settings-page.js';
import * as orgAuditPage from './pages/org-audit-page.js';
import * as userHooksPage from './pages/user-hooks-page.js';
import * as adminHooksPage from './pages/admin-hooks-page.js';
import * as passwordPage from './pages/password-page.js';
import * as adminUsersPage from './pages/admin-users-page.js';
import * as ssoPage from './pages/sso-page.js';
import { answerMisplacedApiCall } from './api-path-hint.js';
import { STATIC_ASSETS } from './static-assets.js';
import {
  ANONYMOUS_VIEWER, formOf, localPath, sameOrigin, sendPage, setViewer, viewerOf, type UiDeps, type UiPage,
} from './ui-context.js';
import { csrfRejected, pageNotFound, SIGN_IN_REQUIRED } from './ui-errors.js';

/**
 * Every page group of the web UI. A page file exports `register(app, deps)`; add yours here with one import.
 */
const PAGES: readonly UiPage[] = [
  loginPage, homePage, packageList, packagePage, versionPage, versionsPage, packageSettingsPage, tokensPage,
  usagePage, adminPage, orgSettingsPage, orgAuditPage, mirrorsPage, userHooksPage, adminHooksPage, passwordPage, adminUsersPage, ssoPage,
];

/** The UI's Content-Security-Policy: no inline script or style anywhere, nothing from other sites, forms post here only. */
const CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const FORM_BODY_LIMIT = 64 * 1024;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `false`: the route checks its own CSRF token (sign-in, which has no session yet). Every other POST of the
     * UI needs the session's token and, when the browser sends one, an Origin of this site.
     */
    csrf?: boolean;
  }
}

/**
 * The server-rendered web UI at the root of the site (`/`, `/login`, `/orgs/…/packages`, `/settings/tokens`,
 * `/static/…`) as one encapsulated Fastify plugin, like the /v2 and /api surfaces: its own form parser, session
 * and security-header hooks, and error and not-found handlers that answer with HTML pages.
 */
export function uiPlugin(deps: UiDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // Fastify has no form parser built in; forms are small, so a string with a limit and URLSearchParams will do.
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_request, body, done) => {
      done(null, new URLSearchParams(body as string));
    });

    app.addHook('onRequest', async (request, reply) => {
      if (answerMisplacedApiCall(request, reply, deps.publicUrl)) return reply;
      reply.header('Content-Security-Policy', CSP)
        .header('X-Content-Type-Options', 'nosniff')
        .header('Referrer-Policy', 'same-origin')
        .header('X-Frame-Options', 'DENY');
      if (!request.url.startsWith('/static/')) reply.header('Cache-Control', 'no-store');
      setViewer(request, await resolveViewer(deps, request, reply));
    });

    // Time spent in Berth for the page (route, session, queries, rendering): what bench/ui-pages.ts measures, and
    // what a browser's developer tools show next to the network time.
    app.addHook('onSend', async (_request, reply, payload) => {
      reply.header('Server-Timing', `app;dur=${reply.elapsedTime.toFixed(1)}`);
      return payload;
    });

    // Every state-changing request: the session's CSRF token in the form, and (when sent) an Origin of this site.
    app.addHook('preHandler', async (request) => {
      if (request.method !== 'POST' || request.routeOptions.config.csrf === false) return;
      if (!sameOrigin(request, deps.publicUrl)) throw csrfRejected();
      const { session } = viewerOf(request);
      const token = formOf(request).get('_csrf') ?? '';
      if (session && !deps.sessions.checkCsrf(session, token)) throw csrfRejected();
      // Signed out (the session expired meanwhile): the handler asks for a sign-in.
    });

    app.get('/static/:file', async (request, reply) => {
      const asset = STATIC_ASSETS.get((request.params as { file: string }).file);
      if (!asset) throw pageNotFound();
      reply.header('Cache-Control', 'public, max-age=31536000, immutable').header('ETag', asset.etag).type(asset.type);
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      return reply.send(asset.body);
    });
    app.get('/favicon.ico', async (_request, reply) => reply.redirect('/static/favicon.svg', 301));

    for (const pageModule of PAGES) pageModule.register(app, deps);

    app.setNotFoundHandler((request, reply) => {
      void sendError(request, reply, pageNotFound());
    });
    app.setErrorHandler((error: FastifyError | Error, request, reply) => {
      const known = toBerthError(error);
      if (!known) {
        request.log.error({ err: error }, 'unexpected error in a UI page');
        return sendPage(request, reply, {
          status: 500, title: 'Server error',
          body: html`<section class="error-page"><h1>Something went wrong</h1><p>The error was logged with request id <code>${request.id}</code>. Try again, or tell your administrator.</p></section>`,
        });
      }
      // A condition the operator must fix: logged with the original error (ENOSPC, SQLITE_FULL). An outage's 503s
      // are logged, throttled, where they are detected.
      if (isStorageFull(error)) request.log.error({ err: error }, known.message);
      return sendError(request, reply, known);
    });
  };
}

/**
 * An HTML error page for requests Fastify refused before routing (a malformed percent-encoding, an over-long
 * parameter) outside /v2 and /api: no session is known then, so the page is rendered for a visitor.
 */
export function sendBareErrorPage(reply: FastifyReply, status: number): FastifyReply {
  const title = status === 404 ? 'Page not found' : 'Bad request';
  const doc = page({
    title, actor: null, csrf: null,
    body: html`<section class="error-page"><h1>${title}</h1><p>The address could not be understood.</p><p><a href="/">Back to the start page</a></p></section>`,
  });
  return reply.code(status).header('Content-Security-Policy', CSP).header('X-Content-Type-Options', 'nosniff')
    .type('text/html; charset=utf-8').send(doc.toString());
}

/** The viewer behind the session cookie, from the credential resolver; a dead cookie is cleared. */
async function resolveViewer(deps: UiDeps, request: FastifyRequest, reply: FastifyReply) {
  const id = cookieOf(request, SESSION_COOKIE);
  if (!id) return ANONYMOUS_VIEWER;
  const caller = await deps.credentials.resolve({ sessionId: id, address: request.ip }, {});
  noteCaller(request, caller);
  if (!isCaller(caller) || caller.via !== 'session') {
    setCookie(request, reply, SESSION_COOKIE, '', 0);
    return ANONYMOUS_VIEWER;
  }
  const { session } = caller;
  // The expiry slides with use (at most hourly): so does the cookie's.
  if (session.renewed) setCookie(request, reply, SESSION_COOKIE, session.id, (session.expiresAt - deps.clock.now()) / 1000);
  return { account: caller.user, session, csrf: deps.sessions.csrfToken(session), subject: caller.subject };
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: BerthError): FastifyReply {
  if (error.code === SIGN_IN_REQUIRED) {
    const back = request.method === 'GET' ? request.url : (request.headers.referer ? new URL(request.headers.referer, 'http://x').pathname : '/');
    return reply.code(303).header('Location', `/login?return_to=${encodeURIComponent(localPath(back))}`).send();
  }
  const titles: Record<number, string> = { 400: 'Bad request', 401: 'Not signed in', 502: 'Sign-in provider unavailable', 403: 'Not allowed', 404: 'Page not found', 409: 'Conflict', 413: 'Too large', 422: 'Cannot do that', 429: 'Slow down', 503: 'Temporarily unavailable', 507: 'Storage full' };
  const title = titles[error.status] ?? 'Error';
  return sendPage(request, reply.headers(error.headers), {
    status: error.status, title,
    body: html`<section class="error-page"><h1>${title}</h1><p>${error.message}</p><p><a href="/">Back to the start page</a></p></section>`,
  });
}

/** Berth's own errors as they are; Fastify's client errors (body too large, bad Content-Type) with their status. */
function toBerthError(error: unknown): BerthError | null {
  if (isBerthError(error)) return error;
  if (isStorageFull(error)) return storageFull(error);
  const e = error as FastifyError;
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const message = e.statusCode === 413 ? 'The form is too large.' : e.statusCode === 404 ? 'This page does not exist.' : 'The request could not be understood.';
    return new BerthError({ status: e.statusCode, code: e.code ?? 'CLIENT_ERROR', message });
  }
  return null;
}
