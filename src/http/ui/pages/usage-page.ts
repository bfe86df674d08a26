import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Account } from '../../../accounts/account-service.js';
import type { OwnerUsage } from '../../../packages/usage-service.js';
import { epochDay } from '../../../util/clock.js';
import { downloadsChart, visibilityBadge } from '../components.js';
import { formatBytes, formatCount } from '../format.js';
import { html, type Html } from '../html.js';
import { assetUrl } from '../static-assets.js';
import { paramOf, requireAccount, sendPage, type UiDeps } from '../ui-context.js';
import { pageNotFound } from '../ui-errors.js';
import { ownerPath, packageUrl } from '../urls.js';

/** Packages drawn in the storage chart; the table below lists more. */
const CHART_PACKAGES = 15;
/**
 * Rows of the storage table: the largest packages. An organization of 20,000 packages made a 6.35 MB page; each
 * package's own page and the REST API give the rest.
 */
const TABLE_PACKAGES = 100;
/** Days in the downloads chart, today included. */
const CHART_DAYS = 30;

/**
 * Usage: storage used and downloads per owner and per package. `/usage` lists the namespaces the signed-in user
 * looks after (their own and the organizations they own); `/orgs/{org}/usage` and `/users/{user}/usage` show one
 * namespace, to its owners and to instance admins (anyone else gets the same 404 as for a namespace that does not
 * exist). Charts are inline SVG drawn on the server: no script, and every figure is in a table as well.
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  app.get('/usage', async (request, reply) => {
    const account = requireAccount(request);
    const namespaces = (await deps.directory.namespacesOf(account.id)).filter((n) => n.role !== 'member');
    // An instance admin looks after every namespace: the instance view on /admin lists them all.
    const instance = account.isAdmin ? html`<p class="flash flash-info" data-usage="instance-view">You are an instance admin: <a href="/admin#storage-by-owner">the instance view</a> lists every owner's storage, quota and packages.</p>` : null;
    const rows = await Promise.all(namespaces.map(async (n) => ({ owner: n, usage: await deps.usage.totals(n) })));
    return sendPage(request, reply, {
      title: 'Usage', nav: 'usage',
      body: html`${stylesheet()}
<section class="usage">
  <h1>Usage</h1>
  ${instance}
  <p class="muted">Storage and downloads of the namespaces you look after. Storage counts each blob once per namespace (layers shared by several packages are stored once) plus the manifests.</p>
  <table class="table usage-table">
    <caption class="visually-hidden">Namespaces</caption>
    <thead><tr><th scope="col">Namespace</th><th scope="col" class="num">Packages</th><th scope="col" class="num">Storage</th><th scope="col" class="num">Downloads</th></tr></thead>
    <tbody>${rows.map(({ owner, usage }) => html`<tr>
      <th scope="row"><a href="${usagePath(owner)}">${owner.login}</a> <span class="muted">${owner.type === 'org' ? html`organization · <a href="${ownerPath(owner)}/settings">settings</a>` : 'you'}</span></th>
      <td class="num">${usage.packageCount}</td><td class="num">${formatBytes(usage.totalBytes)}</td><td class="num">${formatCount(usage.downloads.total)}</td>
    </tr>`)}</tbody>
  </table>
</section>`,
    });
  });

  const showOwner = (type: 'user' | 'org') => async (request: FastifyRequest, reply: Parameters<typeof sendPage>[1]) => {
    const viewer = requireAccount(request);
    const owner = await deps.accounts.find(paramOf(request, type === 'org' ? 'org' : 'user'));
    // Its owners (the user; an organization's owners) and instance admins.
    if (!owner || owner.type !== type || !(await deps.policy.administers(viewer, owner))) throw pageNotFound();
    const usage = await deps.usage.forOwner(owner, { largest: TABLE_PACKAGES });
    return sendPage(request, reply, {
      title: `Usage · ${owner.login}`, nav: 'usage', body: ownerUsageBody(owner, usage, deps.clock.now(), deps.quotaWarningPercent),
    });
  };
  app.get('/orgs/:org/usage', showOwner('org'));
  app.get('/users/:user/usage', showOwner('user'));
}

export function usagePath(owner: { login: string; type: 'user' | 'org' }): string {
  return `${ownerPath(owner)}/usage`;
}

function ownerUsageBody(owner: Account, usage: OwnerUsage, now: number, warningPercent: number): Html {
  const topDownloads = usage.topDownloads;
  const last = epochDay(now);
  const recent = usage.downloads.daily.filter((d) => d.day > last - CHART_DAYS).reduce((sum, d) => sum + d.count, 0);
  return html`${stylesheet()}
<section class="usage">
  <p class="breadcrumb"><a href="/usage">Usage</a> / ${owner.login}</p>
  <h1>Usage of ${owner.login}</h1>
  ${quotaWarning(owner, usage, warningPercent)}
  <dl class="usage-stats">
    <div><dt>Storage</dt><dd data-usage="total-bytes" data-bytes="${usage.totalBytes}">${formatBytes(usage.totalBytes)}</dd>
      <dd class="hint" data-usage="quota">${usage.quotaBytes === null ? 'no quota' : `of ${formatBytes(usage.quotaBytes)} quota (${percentOf(usage.totalBytes, usage.quotaBytes)}%)`}</dd></div>
    <div><dt>Packages</dt><dd>${usage.packageCount}</dd></div>
    <div><dt>Downloads, all time</dt><dd>${formatCount(usage.downloads.total)}</dd></div>
    <div><dt>Downloads, last ${CHART_DAYS} days</dt><dd>${formatCount(recent)}</dd></div>
  </dl>

  <h2 id="storage">Storage by package</h2>
  ${usage.packageCount === 0
    ? html`<p class="muted">No packages yet.</p>`
    : html`${storageChart(usage)}
  <table class="table usage-table" aria-labelledby="storage">
    <thead><tr><th scope="col">Package</th><th scope="col">Visibility</th><th scope="col" class="num">Versions</th><th scope="col" class="num">Storage</th><th scope="col" class="num">Downloads</th></tr></thead>
    <tbody>${usage.largest.map((p) => html`<tr data-package="${p.name}">
      <th scope="row"><a href="${packageUrl(owner, p.name)}">${p.name}</a></th>
      <td>${visibilityBadge(p.visibility)}</td>
      <td class="num">${p.versionCount}</td>
      <td class="num" data-bytes="${p.sizeBytes}">${formatBytes(p.sizeBytes)}</td>
      <td class="num">${formatCount(p.downloads)}</td>
    </tr>`)}${deletedRow(usage)}</tbody>
  </table>
  ${usage.packageCount > usage.largest.length ? html`<p class="hint" data-usage="table-limit">The ${usage.largest.length} largest of ${formatCount(usage.packageCount)} packages; <a href="${ownerPath(owner)}/packages">the packages list</a> has every one.</p>` : null}
  <p class="hint">A package's storage counts each of its blobs once, plus its manifests; the total above counts a blob shared by several packages once. Deleted packages do not count.</p>`}

  <h2 id="downloads">Downloads, last ${CHART_DAYS} days</h2>
  <div class="usage-chart">${downloadsChart(usage.downloads.daily, last, CHART_DAYS)}</div>

  <h2 id="top-downloads">Top packages by downloads</h2>
  ${topDownloads.length === 0
    ? html`<p class="muted">No downloads yet.</p>`
    : html`<ol class="usage-top">${topDownloads.map((p) => html`<li><a href="${packageUrl(owner, p.name)}">${p.name}</a> <span class="muted">${formatCount(p.downloads)} downloads</span></li>`)}</ol>`}
</section>`;
}

/**
 * Deleted packages are not listed, but their downloads are in "Downloads, all time" (purged ones' too): one row
 * says how many there are and what they were downloaded. Their storage no longer counts (their bytes go when they
 * are purged and collected).
 */
function deletedRow(usage: OwnerUsage): Html | null {
  if (usage.deleted.packages === 0) return null;
  return html`<tr data-usage="deleted-packages">
      <th scope="row" class="muted">${usage.deleted.packages === 1 ? '1 deleted package' : `${usage.deleted.packages} deleted packages`}</th>
      <td></td><td></td><td class="num muted">not counted</td>
      <td class="num">${formatCount(usage.deleted.downloads)}</td>
    </tr>`;
}

/** From `warningPercent` of the quota up: how much is left and what to do. */
function quotaWarning(owner: Account, usage: OwnerUsage, warningPercent: number): Html | null {
  if (usage.quotaBytes === null) return null;
  const percent = percentOf(usage.totalBytes, usage.quotaBytes);
  if (percent < warningPercent) return null;
  const over = usage.totalBytes >= usage.quotaBytes;
  return html`<p class="warning" role="status" data-usage="quota-warning">${owner.login} has used ${percent}% of its ${formatBytes(usage.quotaBytes)} storage quota${over
    ? ': pushes of new content are refused' : ''}. Delete versions or packages it no longer needs, or ask an instance admin to raise the quota.</p>`;
}

function percentOf(bytes: number, quota: number): number {
  return quota === 0 ? 100 : Math.floor((bytes / quota) * 100);
}

/** Horizontal bars, largest package first; labels and values are SVG text (no layout script). */
function storageChart(usage: OwnerUsage): Html {
  const shown = usage.largest.slice(0, CHART_PACKAGES);
  const max = Math.max(1, ...shown.map((p) => p.sizeBytes));
  const row = 28;
  const labelWidth = 220;
  const barMax = 740;
  const width = labelWidth + barMax + 100;
  const height = shown.length * row + 8;
  const label = `Storage by package, largest first: ${shown.map((p) => `${p.name} ${formatBytes(p.sizeBytes)}`).join(', ')}`;
  return html`<figure class="usage-chart">
<svg class="usage-chart-svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${label}" preserveAspectRatio="xMinYMin meet">
  <title>${label}</title>
  ${shown.map((p, i) => {
    const y = i * row + 4;
    const w = Math.max(2, Math.round((p.sizeBytes / max) * barMax));
    return html`<g class="usage-row">
    <text class="usage-label" x="${labelWidth - 10}" y="${y + 17}" text-anchor="end">${truncate(p.name, 26)}</text>
    <rect class="usage-bar" x="${labelWidth}" y="${y + 3}" width="${w}" height="${row - 8}" rx="3"></rect>
    <text class="usage-value" x="${labelWidth + w + 8}" y="${y + 17}">${formatBytes(p.sizeBytes)}</text>
  </g>`;
  })}
</svg>
${usage.packageCount > shown.length ? html`<figcaption class="hint">The ${shown.length} largest of ${formatCount(usage.packageCount)} packages.</figcaption>` : null}
</figure>`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function stylesheet(): Html {
  // The layout links berth.css; this page's chart styles live in their own file, linked from the body (allowed by
  // HTML and by the CSP's style-src 'self').
  return html`<link rel="stylesheet" href="${assetUrl('usage.css')}">`;
}


