import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../../../accounts/account-service.js';
import { PASSWORD_MIN } from '../../../auth/password.js';
import { isBerthError } from '../../../util/errors.js';
import { html } from '../html.js';
import { csrfField, formOf, queryOf, redirect, sendPage, viewerOf, type UiDeps } from '../ui-context.js';
import { pageNotFound } from '../ui-errors.js';

/**
 * Users suggested as the browser completes a login (a `<datalist>`, first by login): a list of every user made the
 * page 884 KB at 10,000 users; any login can be typed.
 */
const SUGGESTED_USERS = 500;

/** What a done form says, by the `done` query parameter (redirect-after-post). */
const DONE: Record<string, (name: string) => string> = {
  user: (name) => `Created the user ${name}.`,
  org: (name) => `Created the organization ${name}.`,
  password: (name) => `Set the password of ${name}; their sessions were signed out.`,
};

/**
 * `/admin/users`: the instance admin creates users and organizations and sets a user's password (a reset, or a
 * first one for a user created without). What `berth user create`, `berth org create` and `berth user passwd` do,
 * through the same services. Anyone else gets the ordinary 404 page, as on /admin.
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  app.get('/admin/users', (request, reply) => showPage(deps, request, reply));
  app.post('/admin/users', (request, reply) => act(deps, request, reply, 'user', async (form) => {
    const login = (form.get('login') ?? '').trim();
    const password = form.get('password') ?? '';
    const email = (form.get('email') ?? '').trim();
    await deps.accounts.createUser({
      login, isAdmin: form.get('admin') === 'on', ...(password ? { password } : {}), ...(email ? { email } : {}),
    });
    return login;
  }));
  app.post('/admin/orgs', (request, reply) => act(deps, request, reply, 'org', async (form) => {
    const login = (form.get('org') ?? '').trim();
    await deps.accounts.createOrg(login, (form.get('owner') ?? '').trim());
    return login;
  }));
  app.post('/admin/users/password', (request, reply) => act(deps, request, reply, 'password', async (form) => {
    const login = (form.get('user') ?? '').trim();
    await deps.accounts.setPassword(login, form.get('new_password') ?? '');
    return login;
  }));
}

function requireAdmin(request: FastifyRequest): Account {
  const actor = viewerOf(request).account;
  if (!actor?.isAdmin) throw pageNotFound();
  return actor;
}

/** Runs one form's action; refusals the admin can fix (a taken name, a short password) come back on the page. */
async function act(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: string, run: (form: URLSearchParams) => Promise<string>) {
  requireAdmin(request);
  if (kind === 'password' && !deps.signIn.localPasswords) return showPage(deps, request, reply, { kind, message: 'Passwords are turned off on this site (auth.sso.localPasswords).' });
  let name: string;
  try {
    name = await run(formOf(request));
  } catch (err) {
    if (isBerthError(err) && [404, 409, 422].includes(err.status)) return showPage(deps, request, reply, { kind, message: sentence(err.message) });
    throw err;
  }
  return redirect(reply, `/admin/users?done=${kind}&name=${encodeURIComponent(name)}`);
}

async function showPage(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, error?: { kind: string; message: string }) {
  requireAdmin(request);
  const users = await deps.accounts.list('user', SUGGESTED_USERS);
  const done = DONE[queryOf(request, 'done') ?? ''];
  const form = error ? formOf(request) : new URLSearchParams();
  const value = (kind: string, key: string) => (error?.kind === kind ? form.get(key) ?? '' : '');
  return sendPage(request, reply, {
    title: 'Users and organizations', nav: 'admin', status: error ? 422 : 200,
    flash: error ? { kind: 'error', message: error.message } : done ? { kind: 'success', message: done(queryOf(request, 'name') ?? '') } : null,
    body: html`<p class="breadcrumb"><a href="/admin">Site administration</a> / Users and organizations</p>
<h1>Users and organizations</h1>
<section class="card" aria-labelledby="create-user">
  <h2 id="create-user">Create a user</h2>
  <form method="post" action="/admin/users" class="stack">
    ${csrfField(request)}
    <label for="new-login">Username</label>
    <input id="new-login" name="login" type="text" autocomplete="off" autocapitalize="none" spellcheck="false" required value="${value('user', 'login')}">
    <label for="new-email">E-mail (optional)</label>
    <input id="new-email" name="email" type="email" autocomplete="off" value="${value('user', 'email')}">
    ${deps.signIn.localPasswords ? html`<label for="new-user-password">Password (optional)</label>
    <p class="hint" id="new-user-password-hint">At least ${PASSWORD_MIN} characters. Leave empty for a user who signs in with single sign-on, or gets a password later.</p>
    <input id="new-user-password" name="password" type="password" autocomplete="new-password" aria-describedby="new-user-password-hint">` : null}
    <label class="check"><input type="checkbox" name="admin"> <span>Instance administrator</span></label>
    <div><button type="submit" class="btn btn-primary">Create user</button></div>
  </form>
</section>
${deps.signIn.localPasswords ? html`<section class="card" aria-labelledby="set-password">
  <h2 id="set-password">Set a user's password</h2>
  <p class="hint">A reset, or a first password for a user created without one. The user's sessions are signed out.</p>
  <form method="post" action="/admin/users/password" class="stack">
    ${csrfField(request)}
    <label for="password-user">User</label>
    <input id="password-user" name="user" type="text" list="known-users" autocomplete="off" autocapitalize="none" spellcheck="false" required value="${value('password', 'user')}">
    <label for="reset-password">New password</label>
    <input id="reset-password" name="new_password" type="password" autocomplete="new-password" required>
    <div><button type="submit" class="btn btn-primary">Set password</button></div>
  </form>
</section>` : null}
<section class="card" aria-labelledby="create-org">
  <h2 id="create-org">Create an organization</h2>
  <form method="post" action="/admin/orgs" class="stack">
    ${csrfField(request)}
    <label for="new-org">Organization name</label>
    <input id="new-org" name="org" type="text" autocomplete="off" autocapitalize="none" spellcheck="false" required value="${value('org', 'org')}">
    <label for="org-owner">Owner</label>
    <input id="org-owner" name="owner" type="text" list="known-users" autocomplete="off" autocapitalize="none" spellcheck="false" required value="${value('org', 'owner')}">
    <div><button type="submit" class="btn btn-primary">Create organization</button></div>
  </form>
</section>
<datalist id="known-users">${users.map((u) => html`<option value="${u.login}"></option>`)}</datalist>`,
  });
}

/** A service message as a sentence. */
function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.');
}
