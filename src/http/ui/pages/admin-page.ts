import type { FastifyInstance } from 'fastify';
import { tagChip } from '../components.js';
import { html, type Html } from '../html.js';
import { assetUrl } from '../static-assets.js';
import { csrfField, formOf, queryOf, redirect, sendPage, viewerOf, type UiDeps } from '../ui-context.js';
import { asFormError, formInvalid, pageNotFound } from '../ui-errors.js';
import { parseQuotaTarget, type OwnerStorage } from '../../../packages/storage-quotas.js';
import { isBerthError } from '../../../util/errors.js';
import { parseByteSize } from '../../../util/byte-size.js';
import type { FastifyRequest } from 'fastify';
import { formatBytes, formatDate, shortDigest, timeAgo } from '../format.js';
import { packageUrl } from '../urls.js';
import { usagePath } from './usage-page.js';

const RECENT_PUSHES = 20;
/** Owners listed in the instance view; `berth quota show` lists them all. */
const LISTED_OWNERS = 200;
/** Accounts listed on the page; the CLI (`berth user list`) lists them all. */
const LISTED_ACCOUNTS = 200;

/**
 * `/admin`: the instance admin's view of the whole instance (accounts, every owner's storage against its quota,
 * recent pushes) and the quota form. Anyone else, signed in or not, gets the ordinary 404 page: the page's
 * existence is not advertised.
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  const requireAdmin = (request: FastifyRequest): void => {
    if (!viewerOf(request).account?.isAdmin) throw pageNotFound();
  };

  app.get('/admin', async (request, reply) => {
    requireAdmin(request);
    const [overview, users, orgs, owners] = await Promise.all([
      deps.usage.overview({ recentPushes: RECENT_PUSHES }),
      deps.accounts.list('user', LISTED_ACCOUNTS),
      deps.accounts.list('org', LISTED_ACCOUNTS),
      deps.quotas.list(),
    ]);
    const now = deps.clock.now();
    return sendPage(request, reply, {
      title: 'Site administration', nav: 'admin',
      flash: queryOf(request, 'done') === 'quota' ? { kind: 'success', message: 'Quota saved.' } : null,
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
    <div><dt>Storage</dt><dd data-admin="storage-bytes" data-bytes="${overview.storageBytes}">${formatBytes(overview.storageBytes)}</dd><dd class="hint">all owners</dd></div>
    <div><dt>Blob store</dt><dd data-admin="blob-bytes" data-bytes="${overview.blobBytes}">${formatBytes(overview.blobBytes)}</dd><dd class="hint">${overview.blobCount} blobs</dd></div>
  </dl>
  <p class="hint">Storage is the owners' figures added up, as their usage pages show them and quotas count them: each owner's distinct blobs plus manifests (a blob two owners use counts for both). The blob store holds every blob once (manifests live in the database), including blobs of deleted versions and blobs no manifest references any more; <code>berth gc</code> frees those.</p>

  <h2 id="recent-pushes">Recent pushes</h2>
  ${overview.recentPushes.length === 0 ? html`<p class="muted">Nothing pushed yet.</p>` : html`<table class="table" aria-labelledby="recent-pushes">
    <thead><tr><th scope="col">Package</th><th scope="col">Tags</th><th scope="col">Digest</th><th scope="col">Pushed</th><th scope="col">Pushed by</th></tr></thead>
    <tbody>${overview.recentPushes.map((p) => html`<tr>
      <th scope="row"><a href="${packageUrl({ login: p.owner, type: p.ownerType }, p.repository.slice(p.owner.length + 1))}">${p.repository}</a></th>
      <td>${p.tags.length === 0 ? html`<span class="muted">untagged</span>` : p.tags.map((t) => html`${tagChip(t)} `)}</td>
      <td class="nowrap"><code title="${p.digest}">${shortDigest(p.digest)}</code></td>
      <td class="nowrap">${timeAgo(p.pushedAt, now)}</td>
      <td>${p.pushedBy ?? html`<span class="muted">unknown</span>`}</td>
    </tr>`)}</tbody>
  </table>
`}

  ${ownersSection(request, owners, deps.quotas.defaultQuota)}

  <h2 id="users">Users</h2>
  <table class="table" aria-labelledby="users">
    <thead><tr><th scope="col">Login</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead>
    <tbody>${users.map((u) => html`<tr data-user="${u.login}">
      <th scope="row"><a href="/users/${u.login}/packages">${u.login}</a></th>
      <td>${u.displayName ?? ''}</td>
      <td>${u.isAdmin ? html`<span class="badge">admin</span>` : 'user'}</td>
      <td>${u.disabled ? html`<span class="badge badge-private">disabled</span>` : 'active'}</td>
      <td>${formatDate(u.createdAt)}</td>
    </tr>`)}</tbody>
  </table>
  ${overview.users > users.length ? html`<p class="hint">The first ${users.length} of ${overview.users} users; <code>berth user list</code> shows them all.</p>` : null}

  <h2 id="orgs">Organizations</h2>
  ${orgs.length === 0 ? html`<p class="muted">No organizations yet (<code>berth org create NAME --owner USER</code>).</p>` : html`<table class="table" aria-labelledby="orgs">
    <thead><tr><th scope="col">Login</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Links</span></th></tr></thead>
    <tbody>${orgs.map((o) => html`<tr data-org="${o.login}">
      <th scope="row"><a href="/orgs/${o.login}/packages">${o.login}</a></th>
      <td>${formatDate(o.createdAt)}</td>
      <td><a href="/orgs/${o.login}/settings">Settings</a> · <a href="${usagePath(o)}">Usage</a></td>
    </tr>`)}</tbody>
  </table>
  ${overview.orgs > orgs.length ? html`<p class="hint">The first ${orgs.length} of ${overview.orgs} organizations; <code>berth org list</code> shows them all.</p>` : null}`}
</section>`,
    });
  });

  // Sets or (an empty size) clears the quota of an owner or one of its packages, as `berth quota set|clear` does.
  app.post('/admin/quota', async (request, reply) => {
    requireAdmin(request);
    const form = formOf(request);
    const target = asFormError(() => parseQuotaTarget((form.get('target') ?? '').trim()));
    const text = (form.get('quota') ?? '').trim();
    const bytes = text === '' ? null : parseByteSize(text);
    if (bytes !== null && Number.isNaN(bytes)) throw formInvalid(`${text} is not a size: use e.g. 10GiB or 500MiB, or leave it empty to remove the quota`);
    try {
      await deps.quotas.set(target, bytes);
    } catch (err) {
      // An unknown owner or package is the form's error, shown with the form, not a 404 page.
      if (isBerthError(err) && err.status === 404) throw formInvalid(err.message);
      throw err;
    }
    return redirect(reply, '/admin?done=quota#storage-by-owner');
  });
}

/** Every owner's storage against its quota, largest first, and the form that sets quotas. */
function ownersSection(request: FastifyRequest, owners: readonly OwnerStorage[], defaultQuota: number | null): Html {
  const used = (bytes: number, quota: number | null): string => (quota === null ? '' : `${quota === 0 ? 100 : Math.floor((bytes / quota) * 100)}%`);
  return html`<h2 id="storage-by-owner">Storage and quotas by owner</h2>
  <p class="hint">Default quota (config <code>quota.default</code>): ${defaultQuota === null ? 'none' : formatBytes(defaultQuota)}.</p>
  ${owners.length === 0 ? html`<p class="muted">No packages yet.</p>` : html`<table class="table usage-table" aria-labelledby="storage-by-owner">
    <thead><tr><th scope="col">Owner</th><th scope="col" class="num">Packages</th><th scope="col" class="num">Storage</th><th scope="col" class="num">Quota</th><th scope="col" class="num">Used</th></tr></thead>
    <tbody>${owners.slice(0, LISTED_OWNERS).map((o) => html`<tr data-owner="${o.owner}">
      <th scope="row">${o.type ? html`<a href="${usagePath({ login: o.owner, type: o.type })}">${o.owner}</a>` : o.owner}</th>
      <td class="num">${o.packages}</td>
      <td class="num" data-bytes="${o.bytes}">${formatBytes(o.bytes)}</td>
      <td class="num" data-quota="${o.quotaBytes ?? ''}">${o.quotaBytes === null ? html`<span class="muted">none</span>` : html`${formatBytes(o.quotaBytes)}${o.quotaIsDefault ? html` <span class="muted">(default)</span>` : null}`}</td>
      <td class="num">${used(o.bytes, o.quotaBytes)}</td>
    </tr>${o.packageQuotas.map((p) => html`<tr data-owner="${o.owner}/${p.name}">
      <th scope="row" class="muted">${o.owner}/${p.name}</th><td></td>
      <td class="num" data-bytes="${p.bytes}">${formatBytes(p.bytes)}</td>
      <td class="num" data-quota="${p.quotaBytes}">${formatBytes(p.quotaBytes)}</td>
      <td class="num">${used(p.bytes, p.quotaBytes)}</td>
    </tr>`)}`)}</tbody>
  </table>
  ${owners.length > LISTED_OWNERS ? html`<p class="hint">The ${LISTED_OWNERS} largest of ${owners.length} owners; <code>berth quota show</code> lists them all.</p>` : null}`}
  <form method="post" action="/admin/quota" data-form="quota">
    ${csrfField(request)}
    <label>Owner or package <input name="target" required placeholder="acme or acme/api" autocomplete="off"></label>
    <label>Quota <input name="quota" placeholder="10GiB (empty: none)" autocomplete="off"></label>
    <button type="submit" class="btn">Set quota</button>
  </form>
  <p class="hint">A push that would take its owner (or a package with a quota of its own) over its quota is refused; what is stored stays. The CLI does the same: <code>berth quota set acme 10GiB</code>.</p>`;
}
