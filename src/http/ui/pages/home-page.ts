import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { timeAgo } from '../format.js';
import { html } from '../html.js';
import { paramOf, sendPage, viewerOf, type UiDeps } from '../ui-context.js';
import { pageNotFound } from '../ui-errors.js';
import { ownerPackagesUrl, packageUrl } from '../urls.js';

/** `/`: a signed-in user's namespaces (their own and their organizations'); for visitors, public packages. */
export function register(app: FastifyInstance, deps: UiDeps): void {
  app.get('/', (request, reply) => showHome(deps, request, reply));
  // `/{login}`: the `html_url` of the REST API's user and organization objects. Only login-shaped paths, and not
  // the API prefixes, whose bare paths belong to their own not-found handlers.
  app.get('/:login(^(?!(?:api|v2)$)[A-Za-z0-9][A-Za-z0-9-]{0,38}$)', async (request, reply) => {
    const account = await deps.accounts.find(paramOf(request, 'login'));
    if (!account) throw pageNotFound();
    return reply.redirect(ownerPackagesUrl(account), 302);
  });
}

async function showHome(deps: UiDeps, request: FastifyRequest, reply: FastifyReply) {
  const { account } = viewerOf(request);
  const recent = await deps.directory.recentPublic(20);
  const now = deps.clock.now();
  const publicList = recent.length === 0
    ? html`<p class="muted">No public packages yet.</p>`
    : html`<ul class="link-list">${recent.map((p) => html`<li><a href="${packageUrl(p.owner, p.name)}">${p.owner.login}/${p.name}</a> <span class="muted">updated ${timeAgo(p.updatedAt, now)}</span></li>`)}</ul>`;
  if (!account) {
    return sendPage(request, reply, {
      title: 'Welcome', nav: 'packages',
      body: html`<section class="hero">
  <h1>Berth container registry</h1>
  <p>Browse packages, copy pull commands, manage who can see them, and create access tokens.</p>
  <p><a class="btn btn-primary" href="/login">Sign in</a></p>
</section>
<section><h2>Public packages</h2>${publicList}</section>`,
    });
  }
  const namespaces = await deps.directory.namespacesOf(account.id);
  return sendPage(request, reply, {
    title: 'Dashboard', nav: 'packages',
    body: html`<h1>Welcome, ${account.login}</h1>
<div class="grid-2">
  <section class="card"><h2>Your namespaces</h2>
    <ul class="link-list">${namespaces.map((n) => html`<li><a href="${ownerPackagesUrl(n)}">${n.login}</a> <span class="badge">${n.role === 'self' ? 'you' : `organization ${n.role}`}</span></li>`)}</ul>
    <p><a href="/settings/tokens">Personal access tokens</a></p>
  </section>
  <section class="card"><h2>Recently updated public packages</h2>${publicList}</section>
</div>`,
  });
}
