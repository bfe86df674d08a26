import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TokenInfo } from '../../../accounts/token-service.js';
import { SCOPES } from '../../../auth/permissions.js';
import { isBerthError } from '../../../util/errors.js';
import { copyBox } from '../components.js';
import { formatDate, timeAgo } from '../format.js';
import { html, type Html } from '../html.js';
import { csrfField, formOf, paramOf, queryOf, redirect, registryHost, requireAccount, sendPage, type UiDeps } from '../ui-context.js';
import { formInvalid, pageNotFound } from '../ui-errors.js';

const DAY_MS = 86_400_000;
const EXPIRY_CHOICES = [
  { value: '7', label: '7 days' }, { value: '30', label: '30 days' }, { value: '60', label: '60 days' }, { value: '90', label: '90 days' },
  { value: 'custom', label: 'Custom…' }, { value: 'none', label: 'No expiration' },
] as const;
const SCOPE_HELP: Record<string, string> = {
  'read:packages': 'Download packages and read their metadata.',
  'write:packages': 'Upload (push) packages. Includes read:packages.',
  'delete:packages': 'Delete and restore packages you administer. Needs read:packages (or write:packages) as well.',
};

/**
 * Settings → Developer settings → Personal access tokens (GitHub's "classic" tokens, at GitHub's path): generate
 * one (note, expiry, scopes), see it once, list tokens with last use and expiry, revoke.
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  app.get('/settings', async (_request, reply) => redirect(reply, '/settings/tokens'));
  app.get('/settings/tokens', (request, reply) => listTokens(deps, request, reply));
  app.get('/settings/tokens/new', (request, reply) => newTokenForm(deps, request, reply));
  app.post('/settings/tokens', (request, reply) => generateToken(deps, request, reply));
  app.post('/settings/tokens/:id/revoke', (request, reply) => revokeToken(deps, request, reply));
}

async function listTokens(deps: UiDeps, request: FastifyRequest, reply: FastifyReply) {
  const account = requireAccount(request);
  const tokens = await deps.tokens.list(account.id);
  const now = deps.clock.now();
  const revoked = queryOf(request, 'revoked');
  return sendPage(request, reply, {
    title: 'Personal access tokens', nav: 'settings',
    flash: revoked !== null ? { kind: 'success', message: 'The token was revoked: it no longer works anywhere.' } : null,
    body: html`${settingsHead()}
<div class="page-head"><div><h1>Personal access tokens</h1>
<p class="muted">Tokens you can use to sign in registry clients (<code>docker login</code>, podman, skopeo) and call the REST API, with the password being the token.</p></div>
<a class="btn btn-primary" href="/settings/tokens/new">Generate new token</a></div>
${tokens.length === 0 ? html`<div class="card"><p>You have no tokens.</p></div>` : html`<div class="table-wrap"><table class="table">
<thead><tr><th scope="col">Note</th><th scope="col">Scopes</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${tokens.map((t) => tokenRow(request, t, now))}</tbody></table></div>`}`,
  });
}

function tokenRow(request: FastifyRequest, t: TokenInfo, now: number): Html {
  const expired = t.expiresAt !== null && t.expiresAt <= now;
  return html`<tr>
  <td><strong>${t.note || 'no note'}</strong><div class="muted"><code>${t.hint}</code>${t.kind === 'ci' ? html` <span class="badge">CI · ${t.repositoryLimit}</span>` : null}</div></td>
  <td>${t.scopes.map((s) => html`<span class="tag">${s}</span>`)}</td>
  <td>${timeAgo(t.lastUsedAt, now)}</td>
  <td>${t.expiresAt === null ? html`<span class="muted">never</span>` : expired ? html`<strong>expired</strong> ${formatDate(t.expiresAt)}` : html`${formatDate(t.expiresAt)}`}</td>
  <td><form method="post" action="/settings/tokens/${t.id}/revoke" class="inline-form">${csrfField(request)}
    <button type="submit" class="btn btn-small btn-danger" aria-label="Revoke token ${t.note}">Revoke</button></form></td>
</tr>`;
}

async function newTokenForm(_deps: UiDeps, request: FastifyRequest, reply: FastifyReply, error?: string, status = 200) {
  requireAccount(request);
  const form = formOf(request);
  const note = form.get('note') ?? '';
  const expiry = form.get('expiration') ?? '30';
  const chosen = new Set(form.getAll('scopes'));
  return sendPage(request, reply, {
    title: 'New personal access token', nav: 'settings', status,
    flash: error ? { kind: 'error', message: error } : null,
    body: html`${settingsHead()}
<h1>New personal access token</h1>
<form method="post" action="/settings/tokens" class="stack">
  ${csrfField(request)}
  <label for="note">Note</label>
  <p class="hint" id="note-hint">What is this token for? (e.g. "CI pushes for acme/app")</p>
  <input id="note" name="note" type="text" maxlength="100" required value="${note}" aria-describedby="note-hint">
  <label for="expiration">Expiration</label>
  <div class="form-row expiry-row">
    <select id="expiration" name="expiration">${EXPIRY_CHOICES.map((c) => html`<option value="${c.value}"${c.value === expiry ? html` selected` : null}>${c.label}</option>`)}</select>
    <label for="expires_on" class="visually-hidden">Custom expiry date</label>
    <input id="expires_on" name="expires_on" type="date" value="${form.get('expires_on') ?? ''}" aria-describedby="expiry-hint">
  </div>
  <p class="hint" id="expiry-hint">For "Custom…", pick the date (UTC) the token stops working. Tokens without an expiry live until revoked.</p>
  <fieldset><legend>Scopes</legend>
    <p class="hint">Scopes limit what the token may do; your roles on each package still apply.</p>
    <ul class="scope-list">${SCOPES.map((s) => html`<li><label class="check"><input type="checkbox" name="scopes" value="${s}"${chosen.has(s) ? html` checked` : null}>
      <span><code>${s}</code><br><span class="hint">${SCOPE_HELP[s]}</span></span></label></li>`)}</ul>
  </fieldset>
  <div><button type="submit" class="btn btn-primary">Generate token</button> <a href="/settings/tokens">Cancel</a></div>
</form>`,
  });
}

/** POST /settings/tokens — creates the token and shows it once (rendered directly: it is never stored to show later). */
async function generateToken(deps: UiDeps, request: FastifyRequest, reply: FastifyReply) {
  const account = requireAccount(request);
  const form = formOf(request);
  const note = (form.get('note') ?? '').trim().slice(0, 100);
  let created;
  try {
    if (note === '') throw formInvalid('Give the token a note, so you know later what it is for.');
    const expiresAt = expiryOf(form.get('expiration') ?? '', form.get('expires_on') ?? '', deps.clock.now());
    created = await deps.tokens.create({ userId: account.id, note, scopes: form.getAll('scopes'), expiresAt });
  } catch (err) {
    if (isBerthError(err) && err.status === 422) return newTokenForm(deps, request, reply, sentence(err.message), 422);
    throw err;
  }
  return sendPage(request, reply, {
    title: 'Personal access tokens', nav: 'settings',
    body: html`${settingsHead()}
<h1>Your new token</h1>
<div class="warning" role="alert"><strong>Copy your personal access token now.</strong> You won't be able to see it again.</div>
${copyBox(created.token, 'New personal access token')}
<p>Note: <strong>${created.info.note}</strong> · scopes ${created.info.scopes.map((s) => html`<span class="tag">${s}</span>`)} ·
${created.info.expiresAt === null ? 'never expires' : html`expires ${formatDate(created.info.expiresAt)}`}</p>
<p>Use it as the password: <code>echo TOKEN | docker login ${registryHost(request, deps.publicUrl)} -u ${account.login} --password-stdin</code></p>
<p><a href="/settings/tokens">Back to your tokens</a></p>`,
  });
}

async function revokeToken(deps: UiDeps, request: FastifyRequest, reply: FastifyReply) {
  const account = requireAccount(request);
  const id = paramOf(request, 'id');
  if (!/^\d{1,15}$/.test(id)) throw pageNotFound();
  try {
    await deps.tokens.revoke(account.id, Number(id));
  } catch (err) {
    if (isBerthError(err) && err.status === 404) throw pageNotFound();
    throw err;
  }
  return redirect(reply, '/settings/tokens?revoked=1');
}

/** The expiry chosen in the form, as a timestamp (null: never). */
function expiryOf(choice: string, date: string, now: number): number | null {
  if (choice === 'none') return null;
  if (choice === 'custom') {
    if (!/^\d{4}-\d\d-\d\d$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) throw formInvalid('Pick a custom expiry date, or another expiration.');
    // The token works through the chosen day (UTC).
    return Date.parse(`${date}T00:00:00Z`) + DAY_MS;
  }
  const days = Number(choice);
  if (![7, 30, 60, 90].includes(days)) throw formInvalid('Choose an expiration.');
  return now + days * DAY_MS;
}

/** A service message as a sentence (they start lowercase and may name a scope first, so no capital). */
function sentence(text: string): string {
  return text + (/[.!?]$/.test(text) ? '' : '.');
}

function settingsHead(): Html {
  return html`<p class="breadcrumb">Settings / Developer settings · <a href="/settings/hooks">Webhooks</a> · <a href="/settings/password">Password</a></p>`;
}
