import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PendingSignIn } from '../../../auth/oidc-sign-in.js';
import { cookieOf, LOGIN_CSRF_COOKIE, SESSION_COOKIE, setCookie } from '../cookies.js';
import { localPath, queryOf, redirect, siteUrl, type UiDeps } from '../ui-context.js';
import { pageNotFound } from '../ui-errors.js';

/** Holds the pending sign-in between the redirect to the provider and its return (10 minutes to sign in there). */
const SSO_COOKIE = 'berth_sso';
const PENDING_SECONDS = 600;

/**
 * Single sign-on through the configured OpenID Connect provider (config auth.sso): `/login/sso` sends the browser
 * to the provider, `/login/sso/callback` is where it comes back (the redirect URI registered there). The pending
 * state, nonce and PKCE verifier ride in an HttpOnly cookie, so any replica can finish what another started.
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  app.get('/login/sso', (request, reply) => startSignIn(deps, request, reply));
  app.get('/login/sso/callback', (request, reply) => finishSignIn(deps, request, reply));
}

function callbackUrl(deps: UiDeps, request: FastifyRequest): string {
  return `${siteUrl(request, deps.publicUrl)}/login/sso/callback`;
}

/** GET /login/sso — to the provider's authorization endpoint (303), remembering where to return afterwards. */
async function startSignIn(deps: UiDeps, request: FastifyRequest, reply: FastifyReply) {
  const sso = deps.signIn.sso;
  if (!sso) throw pageNotFound();
  const { url, pending } = await sso.client.start(callbackUrl(deps, request), localPath(queryOf(request, 'return_to')));
  setCookie(request, reply, SSO_COOKIE, Buffer.from(JSON.stringify(pending)).toString('base64url'), PENDING_SECONDS);
  return reply.code(303).header('Location', url).send();
}

/** GET /login/sso/callback — the provider's return: verified, the user found or made, a session started. */
async function finishSignIn(deps: UiDeps, request: FastifyRequest, reply: FastifyReply) {
  const sso = deps.signIn.sso;
  if (!sso) throw pageNotFound();
  const pending = pendingOf(cookieOf(request, SSO_COOKIE));
  // One return per start: whatever happens next, the pending values are spent.
  setCookie(request, reply, SSO_COOKIE, '', 0);
  const identity = await sso.client.finish(new URL(request.url, 'http://x').searchParams, pending, callbackUrl(deps, request));
  const { account, teams } = await sso.accounts.signIn(identity, sso.usernameClaim, sso.teamMap);
  if (teams.skipped.length > 0) {
    request.log.warn({ teams: teams.skipped }, 'auth.sso.teamMap names organizations that do not exist: those mappings were skipped');
  }
  const session = await deps.sessions.create(account.id);
  setCookie(request, reply, SESSION_COOKIE, session.id, (session.expiresAt - deps.clock.now()) / 1000);
  setCookie(request, reply, LOGIN_CSRF_COOKIE, '', 0);
  return redirect(reply, pending!.returnTo);
}

function pendingOf(cookie: string | null): PendingSignIn | null {
  if (!cookie) return null;
  try {
    const value = JSON.parse(Buffer.from(cookie, 'base64url').toString('utf8')) as Partial<PendingSignIn>;
    const fields = [value.state, value.nonce, value.verifier, value.returnTo];
    return fields.every((f) => typeof f === 'string') ? value as PendingSignIn : null;
  } catch {
    return null;
  }
}
