import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Visibility } from '../../../auth/permissions.js';
import { pageParam, pager, tagChip, visibilityBadge } from '../components.js';
import type { Account } from '../../../accounts/account-service.js';
import { formatBytes, formatCount, formatDate, listingTotal, plural, timeAgo } from '../format.js';
import { html, type Html } from '../html.js';
import { OWNER_KINDS, ownerOf, type OwnerKind } from '../package-context.js';
import { csrfField, queryOf, registryHost, sendPage, viewerOf, type UiDeps } from '../ui-context.js';
import { ownerPackagesUrl, packageSettingsUrl, packageUrl } from '../urls.js';

const PER_PAGE = 30;
const VISIBILITIES: readonly Visibility[] = ['public', 'private', 'internal'];

/**
 * An owner's packages (`/orgs/{org}/packages`, `/users/{user}/packages`), as GitHub lists them: name, visibility,
 * latest tag, last published, downloads and size; filtered by name and visibility, 30 a page. What the viewer
 * sees follows the REST API's rules exactly (same service, same permission model). A "Deleted" tab
 * (`?tab=deleted`) lists the deleted packages the viewer may restore, each with a Restore button (a plain form).
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  for (const { kind, prefix } of OWNER_KINDS) {
    app.get(`${prefix}/packages`, (request, reply) => listPackages(deps, request, reply, kind));
    // The owner's own page (the `html_url` of REST owner objects) shows its packages.
    app.get(`${prefix}`, async (request, reply) => reply.redirect(ownerPackagesUrl(await ownerOf(deps, request, kind)), 302));
  }
}

async function listPackages(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind) {
  const owner = await ownerOf(deps, request, kind);
  const q = (queryOf(request, 'q') ?? '').trim().slice(0, 100);
  const v = queryOf(request, 'visibility');
  const visibility = VISIBILITIES.find((x) => x === v);
  const page = pageParam(request);
  // The deleted tab, and its count in the tab bar, only for those who may restore something here.
  const signedIn = viewerOf(request).account !== null;
  if (signedIn && queryOf(request, 'tab') === 'deleted') return listDeleted(deps, request, reply, owner, page);
  const deletedCount = signedIn ? (await deps.packages.listDeleted(owner, viewerOf(request).subject, { page: 1, perPage: 1 })).total : 0;
  const { packages, total } = await deps.packages.list(owner, viewerOf(request).subject, {
    ...(visibility ? { visibility } : {}), ...(q ? { nameContains: q } : {}), page, perPage: PER_PAGE,
  });
  const summaries = await deps.summaries.forPackages(packages);
  const now = deps.clock.now();
  // After a deletion: said only when such a deleted package exists (the name in the URL is not echoed blindly).
  const deletedName = queryOf(request, 'deleted');
  const deleted = deletedName && (await deps.packages.findDeleted(owner, deletedName, viewerOf(request).subject))?.operations.has('read') ? deletedName : null;
  const filtered = q !== '' || visibility !== undefined;
  // The organization's owners (and instance admins) manage it from its settings page: linked from here.
  const account = viewerOf(request).account;
  const manages = owner.type === 'org' && account !== null && await deps.policy.administers(account, owner);
  return sendPage(request, reply, {
    title: `${owner.login} packages`, nav: 'packages',
    flash: deleted ? {
      kind: 'success',
      message: html`Package ${deleted} was deleted. It can be restored for a while from <a href="${packageSettingsUrl(owner, deleted)}">its settings page</a>.`,
    } : null,
    body: html`<div class="page-head"><div>
  <p class="breadcrumb">${owner.type === 'org' ? 'Organization' : 'User'}</p>
  <h1>${owner.login} · Packages</h1>
</div>${manages ? html`<div class="head-actions"><a class="btn" href="/orgs/${owner.login}/usage">Usage</a> <a class="btn" href="/orgs/${owner.login}/settings">Organization settings</a></div>` : null}</div>
${deletedCount > 0 ? tabs(owner, 'live', deletedCount) : null}
<form method="get" class="filter-bar" role="search" aria-label="Filter packages">
  <label class="visually-hidden" for="q">Find a package</label>
  <input id="q" type="search" name="q" value="${q}" placeholder="Find a package…">
  <label class="visually-hidden" for="visibility">Visibility</label>
  <select id="visibility" name="visibility">
    <option value="">All visibilities</option>
    ${VISIBILITIES.map((x) => html`<option value="${x}"${x === visibility ? html` selected` : null}>${x[0]!.toUpperCase()}${x.slice(1)}</option>`)}
  </select>
  <button type="submit" class="btn">Filter</button>
  ${filtered ? html`<a href="${request.url.split('?')[0]}">Clear</a>` : null}
</form>
<p class="muted">${listingTotal(total, 'package')}${filtered ? ' match' : ''}</p>
${packages.length === 0
  ? html`<div class="card"><p>${filtered ? 'No packages match this filter.' : html`${owner.login} has no packages you can see yet.`}</p>
  <p class="muted">Push one with <code>docker push ${registryHost(request, deps.publicUrl)}/${owner.login.toLowerCase()}/IMAGE:TAG</code>.</p></div>`
  : html`<ul class="package-list">${packages.map((p) => {
    const s = summaries.get(p.id)!;
    return html`<li>
  <div>
    <h3><a href="${packageUrl(owner, p.name)}">${p.name}</a> ${visibilityBadge(p.visibility)}</h3>
    <div class="package-meta">
      <span>${s.latestTag === 'latest' ? html`Tag ${tagChip('latest')}` : s.latestTag ? html`Newest tag ${tagChip(s.latestTag)}` : html`No tags`}</span>
      <span>Published ${timeAgo(s.lastPublishedAt, now)}</span>
      <span>${plural(p.versionCount, 'version')}</span>
    </div>
  </div>
  <div class="package-stats">
    <div><strong>${formatCount(s.downloads)}</strong> downloads</div>
    <div title="Storage">${formatBytes(s.sizeBytes)}</div>
  </div>
</li>`;
  })}</ul>`}
${pager(request, page, PER_PAGE, total)}`,
  });
}

/** "Packages | Deleted (n)": shown when the viewer may restore deleted packages of this owner. */
function tabs(owner: Account, current: 'live' | 'deleted', deletedCount: number): Html {
  const tab = (which: 'live' | 'deleted', href: string, label: Html | string): Html => (which === current
    ? html`<a href="${href}" aria-current="page">${label}</a>`
    : html`<a href="${href}">${label}</a>`);
  return html`<nav class="tabs" aria-label="Package lists">
  ${tab('live', ownerPackagesUrl(owner), 'Packages')}
  ${tab('deleted', `${ownerPackagesUrl(owner)}?tab=deleted`, html`Deleted <span class="badge">${formatCount(deletedCount)}</span>`)}
</nav>`;
}

/**
 * The owner's deleted packages the viewer may restore (GitHub shows them to organization owners in the settings),
 * most recently deleted first: when each was deleted, until when it can be restored, and a Restore button that
 * posts to the package's restore form (no JavaScript needed).
 */
async function listDeleted(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, owner: Account, page: number) {
  const { packages, total } = await deps.packages.listDeleted(owner, viewerOf(request).subject, { page, perPage: PER_PAGE });
  const now = deps.clock.now();
  return sendPage(request, reply, {
    title: `${owner.login} deleted packages`, nav: 'packages',
    body: html`<div class="page-head"><div>
  <p class="breadcrumb">${owner.type === 'org' ? 'Organization' : 'User'}</p>
  <h1>${owner.login} · Packages</h1>
</div></div>
${tabs(owner, 'deleted', total)}
<p class="muted">${listingTotal(total, 'deleted package')} you can restore. A deleted package is gone from the registry; restoring it brings back its versions and tags.</p>
${packages.length === 0 ? html`<div class="card"><p>No deleted packages that you can restore.</p></div>` : html`<div class="table-wrap"><table class="table">
<thead><tr><th scope="col">Package</th><th scope="col">Deleted</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${packages.map(({ package: p, operations }) => html`<tr data-package="${p.name}">
  <td><strong>${p.name}</strong> ${visibilityBadge(p.visibility)}<div class="muted">${plural(p.versionCount, 'version')}</div></td>
  <td>${p.deletedAt === null ? null : html`${timeAgo(p.deletedAt, now)}<div class="muted">restorable until ${formatDate(deps.packages.restorableUntil(p.deletedAt)).slice(0, 10)}</div>`}</td>
  <td class="num">${operations.has('restore') ? html`<form method="post" action="${packageSettingsUrl(owner, p.name)}/restore" class="inline-form">${csrfField(request)}
    <button type="submit" class="btn btn-small" aria-label="Restore ${p.name}">Restore</button></form>` : null}</td>
</tr>`)}</tbody></table></div>`}
${pager(request, page, PER_PAGE, total)}`,
  });
}
