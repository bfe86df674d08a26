import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../../../accounts/account-service.js';
import type { PackageInfo } from '../../../packages/package-service.js';
import type { Attachment, VersionSummary } from '../../../packages/version-details.js';
import type { VersionInfo } from '../../../packages/version-service.js';
import { epochDay } from '../../../util/clock.js';
import { copyBox, downloadsChart, pageParam, pager, platformLabel, tagChip, visibilityBadge } from '../components.js';
import { formatBytes, formatCount, formatDate, listingTotal, plural, shortDigest, timeAgo } from '../format.js';
import { html, safeUrl, type Html } from '../html.js';
import { isPackageAdmin, OWNER_KINDS, readablePackage, type OwnerKind } from '../package-context.js';
import { csrfField, queryOf, registryHost, sendPage, type UiDeps } from '../ui-context.js';
import { renderMarkdown } from '../markdown.js';
import { ownerPackagesUrl, packageSettingsUrl, packageUrl, versionsUrl, versionUrl } from '../urls.js';

const VERSIONS_PER_PAGE = 30;
const TAGS_SHOWN = 30;

/**
 * A package's page at its REST `html_url` (`/orgs/{org}/packages/container/package/{name}`, user twin): the pull
 * command and a Dockerfile `FROM` line, the README (the admin's, else the image's description, as Markdown), the
 * source link, recent tags, every version (paginated: fine for 10,000; the versions page filters them), downloads
 * over time, and signatures/attestations listed under the image they are about.
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  for (const { kind, prefix } of OWNER_KINDS) {
    app.get(`${prefix}/packages/container/package/:name`, (request, reply) => showPackage(deps, request, reply, kind));
  }
}

async function showPackage(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind) {
  const { owner, access } = await readablePackage(deps, request, kind);
  const pkg = access.package;
  const page = pageParam(request);
  const admin = isPackageAdmin(access);
  // Deleted versions (restorable for a while) are listed to the package's admins only, as on GitHub.
  const state = admin && queryOf(request, 'state') === 'deleted' ? 'deleted' : 'active';
  const [tags, list, stats] = await Promise.all([
    deps.summaries.tags(pkg, TAGS_SHOWN),
    deps.versions.list(pkg, state, page, VERSIONS_PER_PAGE),
    deps.stats.forPackage(pkg),
  ]);
  const summaries = await deps.details.summarize(pkg, list.versions);
  // `tags` leaves artifact tags (cosign's `sha256-<hex>.sig`, the referrers fallback) out, as GHCR's main view
  // does: those artifacts are listed under their image in the versions table.
  const imageTags = tags.tags;
  const pullTag = imageTags.find((t) => t.name === 'latest') ?? imageTags[0];
  // The version the pull command names: the tagged one, else the newest.
  const featured = pullTag ? await deps.versions.get(pkg, pullTag.versionId)
    : (state === 'active' && page === 1 ? list.versions : (await deps.versions.list(pkg, 'active', 1, 1)).versions)[0] ?? null;
  const host = registryHost(request, deps.publicUrl);
  const reference = pullTag ? `:${pullTag.name}` : featured ? `@${featured.digest}` : '';
  const now = deps.clock.now();

  const body = html`<div class="page-head">
  <div>
    <p class="breadcrumb"><a href="${ownerPackagesUrl(owner)}">${owner.login}</a> / packages</p>
    <h1>${pkg.name} ${visibilityBadge(pkg.visibility)}</h1>
    ${pkg.readme && featured?.description ? html`<p class="description">${featured.description}</p>` : null}
  </div>
  ${admin ? html`<a class="btn" href="${packageSettingsUrl(owner, pkg.name)}">Package settings</a>` : null}
</div>
<div class="layout-main">
  <div>
    <section aria-labelledby="install">
      <h2 id="install">Install from the command line</h2>
      ${featured ? html`${copyBox(`docker pull ${host}/${pkg.repository}${reference}`, 'Pull command')}
      <p class="hint">Use as base image in a Dockerfile:</p>
      ${copyBox(`FROM ${host}/${pkg.repository}${reference}`, 'Dockerfile FROM line')}` : html`<p class="muted">This package has no versions.</p>`}
    </section>
    <section aria-labelledby="readme" class="card">
      <h2 id="readme">README</h2>
      ${readme(pkg, featured, admin ? packageSettingsUrl(owner, pkg.name) : null)}
    </section>
    <section aria-labelledby="tags">
      <h2 id="tags">Recent tagged image versions</h2>
      ${imageTags.length === 0 ? html`<p class="muted">No tags.</p>` : html`<ul class="link-list">${imageTags.map((t) => html`<li><a href="${versionUrl(owner, pkg.name, t.versionId)}">${tagChip(t.name)}</a> <span class="muted">moved ${timeAgo(t.updatedAt, now)}</span></li>`)}</ul>
      ${tags.more ? html`<p class="muted">Older tags are listed with their versions below.</p>` : null}`}
      <p><a href="${versionsUrl(owner, pkg.name)}?filter=tagged">View all tagged versions</a> · <a href="${versionsUrl(owner, pkg.name)}?filter=untagged">untagged</a></p>
    </section>
    <section aria-labelledby="downloads">
      <h2 id="downloads">Downloads</h2>
      ${downloadsChart(stats.downloads.daily, epochDay(now))}
    </section>
  </div>
  <aside class="sidebar card" aria-label="About this package">
    <dl>
      <dt>Total downloads</dt><dd>${formatCount(stats.downloads.total)}</dd>
      <dt>Storage</dt><dd data-package="storage" data-bytes="${stats.sizeBytes}">${formatBytes(stats.sizeBytes)}</dd>
      <dt>Versions</dt><dd>${formatCount(pkg.versionCount)}</dd>
      <dt>Source</dt><dd>${pkg.sourceUrl ? html`<a href="${safeUrl(pkg.sourceUrl)}" rel="noopener noreferrer nofollow">${pkg.sourceUrl}</a>` : html`<span class="muted">none (package settings, or the label <code>org.opencontainers.image.source</code>)</span>`}</dd>
      ${featured?.license ? html`<dt>License</dt><dd>${featured.license}</dd>` : null}
      <dt>Created</dt><dd>${formatDate(pkg.createdAt)}</dd>
      <dt>Last updated</dt><dd>${timeAgo(pkg.updatedAt, now)}</dd>
    </dl>
  </aside>
</div>
<section aria-labelledby="versions">
  <h2 id="versions">${state === 'deleted' ? listingTotal(list.total, 'deleted version') : listingTotal(list.total, 'version')}</h2>
  ${admin ? html`<p>${state === 'deleted'
    ? html`<a href="${packageUrl(owner, pkg.name)}">Show active versions</a>`
    : html`<a href="${packageUrl(owner, pkg.name)}?state=deleted">Show deleted versions</a>`}</p>` : null}
  ${state === 'deleted' ? deletedTable(request, owner, pkg, list.versions) : versionsTable(owner, pkg, list.versions, summaries, now)}
  ${pager(request, page, VERSIONS_PER_PAGE, list.total)}
</section>`;
  const done = queryOf(request, 'done') === 'deleted' && state === 'deleted';
  return sendPage(request, reply, {
    title: `${pkg.name} · ${owner.login}`, nav: 'packages', body,
    flash: done ? { kind: 'success', message: 'The version was deleted. It can be restored from this list for a while.' } : null,
  });
}

/** The README an admin set, else the featured version's description (both Markdown), else a hint. */
function readme(pkg: PackageInfo, featured: VersionInfo | null, settingsUrl: string | null): Html {
  const text = pkg.readme ?? featured?.description ?? null;
  if (text) return renderMarkdown(text);
  return html`<p class="muted">No README. ${settingsUrl ? html`<a href="${settingsUrl}#readme-h">Write one in the package settings</a>, or add` : 'Add'} the <code>org.opencontainers.image.description</code> label or annotation to the image.</p>`;
}

export function versionsTable(owner: Account, pkg: PackageInfo, versions: VersionInfo[], summaries: Map<number, VersionSummary>, now: number): Html {
  if (versions.length === 0) return html`<p class="muted">No versions on this page.</p>`;
  return html`<div class="table-wrap"><table class="table">
<thead><tr><th scope="col">Version</th><th scope="col">Tags</th><th scope="col">Platforms</th><th scope="col" class="num">Size</th><th scope="col">Pushed</th><th scope="col" class="num">Downloads</th></tr></thead>
<tbody>${versions.map((v) => {
    const s = summaries.get(v.id);
    return html`<tr>
  <td><a href="${versionUrl(owner, pkg.name, v.id)}"><code title="${v.digest}">${shortDigest(v.digest)}</code></a>
    ${s?.kind === 'index' ? html` <span class="badge">multi-arch</span>` : s?.attachmentKind ? html` <span class="badge">${s.attachmentKind}</span>` : s?.kind === 'artifact' ? html` <span class="badge">artifact</span>` : null}
    ${s?.subjectDigest ? html`<div class="muted">of <code>${shortDigest(s.subjectDigest)}</code></div>` : null}
    ${s?.partOf ? html`<div class="muted">in <a href="${versionUrl(owner, pkg.name, s.partOf.versionId)}"><code>${shortDigest(s.partOf.digest)}</code></a></div>` : null}
    ${s && s.attachments.length > 0 ? attachmentList(owner, pkg, s.attachments) : null}</td>
  <td>${v.tags.length === 0 ? html`<span class="muted">untagged</span>` : v.tags.map(tagChip)}</td>
  <td>${s && s.platforms.length > 0 ? s.platforms.map(platformLabel) : s?.partOf?.platform ? platformLabel(s.partOf.platform) : html`<span class="muted">—</span>`}</td>
  <td class="num">${formatBytes(s?.sizeBytes ?? 0)}</td>
  <td>${timeAgo(v.createdAt, now)}</td>
  <td class="num">${formatCount(s?.downloads ?? 0)}</td>
</tr>`;
  })}</tbody></table></div>`;
}

/** Deleted versions with the tags they had and a restore button (admins only reach this). */
function deletedTable(request: FastifyRequest, owner: Account, pkg: PackageInfo, versions: VersionInfo[]): Html {
  if (versions.length === 0) return html`<p class="muted">No deleted versions.</p>`;
  return html`<div class="table-wrap"><table class="table">
<thead><tr><th scope="col">Version</th><th scope="col">Tags it had</th><th scope="col">Deleted</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${versions.map((v) => html`<tr>
  <td><code title="${v.digest}">${shortDigest(v.digest)}</code></td>
  <td>${v.tags.length === 0 ? html`<span class="muted">untagged</span>` : v.tags.map(tagChip)}</td>
  <td>${v.deletedAt === null ? null : formatDate(v.deletedAt)}</td>
  <td><form method="post" action="${versionUrl(owner, pkg.name, v.id)}/restore" class="inline-form">${csrfField(request)}
    <button type="submit" class="btn btn-small" aria-label="Restore ${shortDigest(v.digest)}">Restore</button></form></td>
</tr>`)}</tbody></table></div>`;
}

/** Signatures, attestations and SBOMs of an image, under it. */
export function attachmentList(owner: Account, pkg: PackageInfo, attachments: readonly Attachment[]): Html {
  const label = { signature: 'Signature', attestation: 'Attestation', sbom: 'SBOM', artifact: 'Artifact' } as const;
  return html`<ul class="attachments" aria-label="Signatures and attestations">${attachments.map((a) => html`<li>${label[a.kind]}
    ${a.versionId === null ? html`<code>${shortDigest(a.digest)}</code>` : html`<a href="${versionUrl(owner, pkg.name, a.versionId)}"><code>${shortDigest(a.digest)}</code></a>`}
    ${a.artifactType ? html`<span class="muted">${a.artifactType}</span>` : null}</li>`)}</ul>`;
}
