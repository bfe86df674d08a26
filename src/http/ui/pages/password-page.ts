import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { failureKeys } from '../../../auth/failure-limiter.js';
import { PASSWORD_MIN } from '../../../auth/password.js';
import { isBerthError } from '../../../util/errors.js';
import { html } from '../html.js';
import { csrfField, formOf, queryOf, redirect, requireAccount, sendPage, viewerOf, type UiDeps } from '../ui-context.js';
import { tooManyAttempts } from '../ui-errors.js';

/**
 * Settings → Password (GitHub's "Change password"): the current password, then the new one twice. The user's other
 * sessions end; this one stays. Users without a password (single sign-on) are told who can give them one.
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  app.get('/settings/password', (request, reply) => showForm(deps, request, reply));
  app.post('/settings/password', (request, reply) => changePassword(deps, request, reply));
}

async function showForm(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, error?: string) {
  const account = requireAccount(request);
  const changed = queryOf(request, 'changed') !== null;
  const hasPassword = await deps.accounts.hasPassword(account.login);
  const body = !deps.signIn.localPasswords
    ? html`<p>Passwords are turned off on this site: you sign in with single sign-on.</p>`
    : !hasPassword
      ? html`<p>Your account has no password: you sign in with single sign-on. An administrator can give it one (<code>berth user passwd ${account.login}</code>, or Admin → Users).</p>`
      : html`<form method="post" action="/settings/password" class="stack">
  ${csrfField(request)}
  <input type="text" name="username" autocomplete="username" value="${account.login}" hidden>
  <label for="current_password">Current password</label>
  <input id="current_password" name="current_password" type="password" autocomplete="current-password" required>
  <label for="new_password">New password</label>
  <p class="hint" id="new-password-hint">At least ${PASSWORD_MIN} characters.</p>
  <input id="new_password" name="new_password" type="password" autocomplete="new-password" required aria-describedby="new-password-hint">
  <label for="confirm_password">Confirm new password</label>
  <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required>
  <div><button type="submit" class="btn btn-primary">Update password</button></div>
</form>
<p class="hint">Your other signed-in browsers are signed out. Personal access tokens keep working: revoke them under <a href="/settings/tokens">Personal access tokens</a>.</p>`;
  return sendPage(request, reply, {
    title: 'Change password', nav: 'settings', status: error ? 422 : 200,
    flash: error ? { kind: 'error', message: error } : changed ? { kind: 'success', message: 'Your password was changed. Your other sessions were signed out.' } : null,
    body: html`<p class="breadcrumb">Settings / <a href="/settings/tokens">Personal access tokens</a> · Password</p>
<h1>Change password</h1>
${body}`,
  });
}

/** POST /settings/password — a wrong current password counts as a failed sign-in (same limiter, per address and login). */
async function changePassword(deps: UiDeps, request: FastifyRequest, reply: FastifyReply) {
  const account = requireAccount(request);
  const session = viewerOf(request).session!;
  if (!deps.signIn.localPasswords) return showForm(deps, request, reply, 'Passwords are turned off on this site.');
  const form = formOf(request);
  const next = form.get('new_password') ?? '';
  if (next !== (form.get('confirm_password') ?? '')) return showForm(deps, request, reply, 'The new password and its confirmation differ.');
  const now = deps.clock.now();
  const keys = failureKeys(request.ip, account.login);
  const wait = Math.max(...keys.map((k) => deps.limiter.retryAfter(k, now)));
  if (wait > 0) throw tooManyAttempts(wait);
  try {
    await deps.accounts.changePassword(account.login, form.get('current_password') ?? '', next, session.id);
  } catch (err) {
    if (!isBerthError(err) || err.status !== 422) throw err;
    if (/current password/.test(err.message)) for (const k of keys) deps.limiter.fail(k, now);
    return showForm(deps, request, reply, capitalised(err.message));
  }
  return redirect(reply, '/settings/password?changed=1');
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.');
}
