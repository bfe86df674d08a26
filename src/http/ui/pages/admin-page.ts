import type { FastifyInstance } from 'fastify';
import { tagChip } from '../components.js';
import { html } from '../html.js';
import { assetUrl } from '../static-assets.js';
import { sendPage, viewerOf, type UiDeps } from '../ui-context.js';
import { pageNotFound } from '../ui-errors.js';
import { formatBytes, formatDate, shortDigest, timeAgo } from '../format.js';
import { packageUrl } from '../urls.js';
import { usagePath } from './usage-page.js';

const RECENT_PUSHES = 20;
const TOP_OWNERS = 10;
/** Accounts listed on the page; the CLI (`berth user list`) lists them all. */
const LISTED_ACCOUNTS = 200;

/**
 * `/admin`: the instance admin's overview (accounts, storage, recent pushes). Anyone else, signed in or not, gets
 * the ordinary 404 page: the page's existence is not advertised.
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  app.get('/admin', async (request, reply) => {
    const actor = viewerOf(request).account;
    if (!actor?.isAdmin) throw pageNotFound();
    const [overview, users, orgs] = await Promise.all([
      deps.usage.overview({ recentPushes: RECENT_PUSHES, owners: TOP_OWNERS }),
      deps.accounts.list('user'),
      deps.accounts.list('org'),
    ]);
    const now = deps.clock.now();
    const typeOf = new Map([...users, ...orgs].map((a) => [a.login.toLowerCase(), a.type]));
    return sendPage(request, reply, {
      title: 'Site administration', nav: 'admin',
      body: html`<link rel="stylesheet" href="${assetUrl('usage.css')}">
<section class="admin usage">
  <h1>Site administration</h1>
  <p><a href="/admin/mirrors">Pull-through mirrors</a></p>
  <p><a href="/admin/audit">Audit log</a></p>
  <p><a href="/admin/hooks">Webhooks</a> (instance-wide: every namespace's events)</p>
  <p><a href="/admin/users">Create users and organizations, set passwords</a></p>
  <dl class="usage-stats">
    <div><dt>Users</dt><dd data-admin="users">${overview.users}</dd>${overview.disabledUsers > 0 ? html`<dd class="hint">${overview.disabledUsers} disabled</dd>` : null}</div>
    <div><dt>Organizations</dt><dd data-admin="orgs">${overview.orgs}</dd></div>
    <div><dt>Packages</dt><dd data-admin="packages">${overview.packages}</dd>${overview.deletedPackages > 0 ? html`<dd class="hint">${overview.deletedPackages} deleted, restorable</dd>` : null}</div>
    <div><dt>Versions</dt><dd>${overview.versions}</dd></div>
    <div><dt>Blob storage</dt><dd data-admin="blob-bytes" data-bytes="${overview.blobBytes}">${formatBytes(overview.blobBytes)}</dd><dd class="hint">${overview.blobCount} blobs</dd></div>
    <div><dt>Manifests</dt><dd>${formatBytes(overview.manifestBytes)}</dd></div>
  </dl>
  <p class="hint">Blob storage is everything the blob store holds, including blobs no manifest references any more; <code>berth gc</code> frees those.</p>

  <h2 id="recent-pushes">Recent pushes</h2>
  ${overview.recentPushes.length === 0 ? html`<p class="muted">Nothing pushed yet.</p>` : html`<table class="table" aria-labelledby="recent-pushes">
    <thead><tr><th scope="col">Package</th><th scope="col">Tags</th><th scope="col">Digest</th><th scope="col">Pushed</th><th scope="col">Pushed by</th></tr></thead>
    <tbody>${overview.recentPushes.map((p) => html`<tr>
      <th scope="row"><a href="${packageUrl({ login: p.owner, type: typeOf.get(p.owner) ?? 'user' }, p.repository.slice(p.owner.length + 1))}">${p.repository}</a></th>
      <td>${p.tags.length === 0 ? html`<span class="muted">untagged</span>` : p.tags.map((t) => html`${tagChip(t)} `)}</td>
      <td class="nowrap"><code title="${p.digest}">${shortDigest(p.digest)}</code></td>
      <td class="nowrap">${timeAgo(p.pushedAt, now)}</td>
      <td>${p.pushedBy ?? html`<span class="muted">unknown</span>`}</td>
    </tr>`)}</tbody>
  </table>
`}

  <h2 id="storage-by-owner">Storage by owner</h2>
  ${overview.owners.length === 0 ? html`<p class="muted">No packages yet.</p>` : html`<table class="table usage-table" aria-labelledby="storage-by-owner">
    <thead><tr><th scope="col">Owner</th><th scope="col" class="num">Packages</th><th scope="col" class="num">Storage</th></tr></thead>
    <tbody>${overview.owners.map((o) => {
      const type = typeOf.get(o.owner);
      return html`<tr><th scope="row">${type ? html`<a href="${usagePath({ login: o.owner, type })}">${o.owner}</a>` : o.owner}</th>
      <td class="num">${o.packages}</td><td class="num">${formatBytes(o.sizeBytes)}</td></tr>`;
    })}</tbody>
  </table>`}

  <h2 id="users">Users</h2>
  <table class="table" aria-labelledby="users">
    <thead><tr><th scope="col">Login</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead>
    <tbody>${users.slice(0, LISTED_ACCOUNTS).map((u) => html`<tr data-user="${u.login}">
      <th scope="row"><a href="/users/${u.login}/packages">${u.login}</a></th>
      <td>${u.displayName ?? ''}</td>
      <td>${u.isAdmin ? html`<span class="badge">admin</span>` : 'user'}</td>
      <td>${u.disabled ? html`<span class="badge badge-private">disabled</span>` : 'active'}</td>
      <td>${formatDate(u.createdAt)}</td>
    </tr>`)}</tbody>
  </table>
  ${users.length > LISTED_ACCOUNTS ? html`<p class="hint">The first ${LISTED_ACCOUNTS} of ${users.length} users; <code>berth user list</code> shows them all.</p>` : null}

  <h2 id="orgs">Organizations</h2>
  ${orgs.length === 0 ? html`<p class="muted">No organizations yet (<code>berth org create NAME --owner USER</code>).</p>` : html`<table class="table" aria-labelledby="orgs">
    <thead><tr><th scope="col">Login</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Links</span></th></tr></thead>
    <tbody>${orgs.slice(0, LISTED_ACCOUNTS).map((o) => html`<tr data-org="${o.login}">
      <th scope="row"><a href="/orgs/${o.login}/packages">${o.login}</a></th>
      <td>${formatDate(o.createdAt)}</td>
      <td><a href="/orgs/${o.login}/settings">Settings</a> · <a href="${usagePath(o)}">Usage</a></td>
    </tr>`)}</tbody>
  </table>`}
</section>`,
    });
  });
}

