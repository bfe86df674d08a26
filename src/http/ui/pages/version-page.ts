import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Descriptor } from '../../../oci/manifest.js';
import { epochDay } from '../../../util/clock.js';
import { isBerthError, type BerthError } from '../../../util/errors.js';
import { copyBox, downloadsChart, platformLabel, tagChip, visibilityBadge } from '../components.js';
import { formatBytes, formatCount, formatDate, shortDigest } from '../format.js';
import { html, type Html } from '../html.js';
import { isPackageAdmin, OWNER_KINDS, readablePackage, type OwnerKind } from '../package-context.js';
import { csrfField, paramOf, redirect, registryHost, requireAccount, sendPage, type UiDeps } from '../ui-context.js';
import { forbiddenPage, pageNotFound } from '../ui-errors.js';
import { ownerPackagesUrl, packageUrl, versionUrl } from '../urls.js';
import { attachmentList } from './package-page.js';

/**
 * One version (manifest digest) at its REST `html_url` (`/orgs/{org}/packages/container/{name}/{id}`, user twin):
 * digest, tags, platforms of an index, layers with sizes, and the manifest and image config as pretty-printed
 * JSON (escaped like everything else that came from a push).
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  for (const { kind, prefix } of OWNER_KINDS) {
    const version = `${prefix}/packages/container/:name/:versionId`;
    app.get(version, (request, reply) => showVersion(deps, request, reply, kind));
    app.post(`${version}/delete`, (request, reply) => deleteVersion(deps, request, reply, kind));
    app.post(`${version}/restore`, (request, reply) => restoreVersion(deps, request, reply, kind));
  }
}

/** The version id of the path, if it is one. */
function versionIdOf(request: FastifyRequest): number | null {
  const text = paramOf(request, 'versionId');
  return /^\d{1,15}$/.test(text) ? Number(text) : null;
}

async function showVersion(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind, error?: BerthError) {
  const { owner, access } = await readablePackage(deps, request, kind);
  const pkg = access.package;
  const id = versionIdOf(request);
  const version = id === null ? null : await deps.versions.get(pkg, id);
  if (!version) throw pageNotFound();
  const [detail, stats] = await Promise.all([deps.details.detail(pkg, version), deps.stats.forVersion(pkg, version)]);
  const host = registryHost(request, deps.publicUrl);
  const now = deps.clock.now();
  const parsed = detail.parsed;

  const body = html`<div class="page-head"><div>
  <p class="breadcrumb"><a href="${ownerPackagesUrl(owner)}">${owner.login}</a> / <a href="${packageUrl(owner, pkg.name)}">${pkg.name}</a> ${visibilityBadge(pkg.visibility)}</p>
  <h1><code>${shortDigest(version.digest)}</code></h1>
  <p>${version.tags.length === 0 ? html`<span class="muted">untagged</span>` : version.tags.map(tagChip)}</p>
</div></div>
<div class="layout-main">
  <div>
    <h2>Pull this version</h2>
    ${copyBox(`docker pull ${host}/${pkg.repository}@${version.digest}`, 'Pull command')}
    ${version.description ? html`<p class="description">${version.description}</p>` : null}
    ${detail.partOf ? html`<p>Listed in the multi-arch image <a href="${versionUrl(owner, pkg.name, detail.partOf.versionId)}"><code>${shortDigest(detail.partOf.digest)}</code></a>${detail.partOf.platform ? html` for ${platformLabel(detail.partOf.platform)}` : null}.</p>` : null}
    ${detail.subjectDigest ? html`<p>About the image ${detail.subjectVersionId === null
      ? html`<code>${detail.subjectDigest}</code>` : html`<a href="${versionUrl(owner, pkg.name, detail.subjectVersionId)}"><code>${detail.subjectDigest}</code></a>`} (its <code>subject</code>).</p>` : null}
    ${detail.attachments.length > 0 ? html`<h2>Signatures and attestations</h2>${attachmentList(owner, pkg, detail.attachments)}` : null}
    ${detail.children.length > 0 ? html`<h2>Platforms</h2>
    <div class="table-wrap"><table class="table"><thead><tr><th scope="col">Platform</th><th scope="col">Manifest</th><th scope="col" class="num">Size</th></tr></thead>
    <tbody>${detail.children.map((c) => html`<tr>
      <td>${c.isAttestation ? html`<span class="muted">attestation</span>` : platformText(c.descriptor)}</td>
      <td>${c.versionId === null ? html`<code>${shortDigest(c.descriptor.digest)}</code>` : html`<a href="${versionUrl(owner, pkg.name, c.versionId)}"><code>${shortDigest(c.descriptor.digest)}</code></a>`}</td>
      <td class="num">${formatBytes(c.descriptor.size)}</td></tr>`)}</tbody></table></div>` : null}
    ${detail.layers.length > 0 ? html`<h2>Layers</h2>
    <div class="table-wrap"><table class="table"><thead><tr><th scope="col">#</th><th scope="col">Digest</th><th scope="col">Media type</th><th scope="col" class="num">Size</th></tr></thead>
    <tbody>${detail.layers.map((l, i) => html`<tr><td>${i + 1}</td><td><code title="${l.digest}">${shortDigest(l.digest)}</code></td><td>${l.mediaType}</td><td class="num">${formatBytes(l.size)}</td></tr>`)}</tbody></table></div>` : null}
    <h2>Downloads</h2>
    ${downloadsChart(stats.downloads.daily, epochDay(now))}
    <details open><summary>Manifest</summary>${jsonBlock(detail.body)}</details>
    ${parsed?.config ? html`<details><summary>Image configuration <span class="muted">${shortDigest(parsed.config.digest)}</span></summary>${detail.config
      ? jsonBlock(detail.config) : html`<p class="muted">The configuration (${parsed.config.mediaType}, ${formatBytes(parsed.config.size)}) is not a JSON document this page can show.</p>`}</details>` : null}
    ${isPackageAdmin(access) ? html`<section class="danger-zone" aria-labelledby="delete-h"><h2 id="delete-h">Delete this version</h2>
      <p>The version and its tags disappear from the registry at once; it can be restored for a while from the package's deleted versions.</p>
      <details class="confirm-step"><summary class="btn btn-danger">Delete version…</summary>
        <p>Delete <code>${shortDigest(version.digest)}</code>${version.tags.length > 0 ? html` and its tag${version.tags.length > 1 ? 's' : ''} ${version.tags.map(tagChip)}` : null}? Pulls of it fail at once.</p>
        <form method="post" action="${versionUrl(owner, pkg.name, version.id)}/delete">${csrfField(request)}<button type="submit" class="btn btn-danger">Yes, delete this version</button></form>
      </details>
    </section>` : null}
  </div>
  <aside class="sidebar card" aria-label="About this version">
    <dl>
      <dt>Digest</dt><dd><code>${version.digest}</code></dd>
      <dt>Media type</dt><dd>${version.mediaType}</dd>
      ${parsed?.artifactType && detail.kind === 'artifact' ? html`<dt>Artifact type</dt><dd>${parsed.artifactType}</dd>` : null}
      <dt>Size</dt><dd>${formatBytes(stats.sizeBytes)}</dd>
      <dt>Downloads</dt><dd>${formatCount(stats.downloads.total)}</dd>
      <dt>Pushed</dt><dd>${formatDate(version.createdAt)}</dd>
      ${version.license ? html`<dt>License</dt><dd>${version.license}</dd>` : null}
    </dl>
  </aside>
</div>`;
  return sendPage(request, reply, {
    title: `${pkg.name}@${shortDigest(version.digest)}`, nav: 'packages', body, status: error?.status ?? 200,
    flash: error ? { kind: 'error', message: error.message } : null,
  });
}

/** POST …/{id}/delete — package admins; GitHub's rules (not the last version, the public download limit) apply. */
async function deleteVersion(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind) {
  requireAccount(request);
  const { owner, access } = await readablePackage(deps, request, kind);
  if (!isPackageAdmin(access)) throw forbiddenPage('You must be an admin of this package to delete its versions.');
  const id = versionIdOf(request);
  const version = id === null ? null : await deps.versions.get(access.package, id);
  if (!version) throw pageNotFound();
  try {
    await deps.versions.delete(access.package, version);
  } catch (err) {
    if (isBerthError(err) && err.status === 400) return showVersion(deps, request, reply, kind, err);
    throw err;
  }
  return redirect(reply, `${packageUrl(owner, access.package.name)}?state=deleted&done=deleted`);
}

/** POST …/{id}/restore — a version deleted within the restore window, with the tags no other version took. */
async function restoreVersion(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind) {
  requireAccount(request);
  const { owner, access } = await readablePackage(deps, request, kind);
  if (!access.operations.has('restore')) throw forbiddenPage('You must be an admin of this package to restore its versions.');
  const id = versionIdOf(request);
  if (id === null) throw pageNotFound();
  try {
    await deps.versions.restore(access.package, id);
  } catch (err) {
    if (isBerthError(err) && err.status === 404) throw pageNotFound();
    throw err;
  }
  return redirect(reply, versionUrl(owner, access.package.name, id));
}

function platformText(d: Descriptor): Html {
  const p = d.platform;
  return p ? platformLabel(p) : html`<span class="muted">unknown</span>`;
}

/** A JSON document pretty-printed (as received when it does not parse), escaped by the template. */
function jsonBlock(bytes: Buffer): Html {
  const text = bytes.toString('utf8');
  let pretty = text;
  try {
    pretty = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // shown as received
  }
  return html`<pre><code>${pretty}</code></pre>`;
}
