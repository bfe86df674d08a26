import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { pageParam, pager, visibilityBadge } from '../components.js';
import { listingTotal } from '../format.js';
import { html } from '../html.js';
import { OWNER_KINDS, readablePackage, type OwnerKind } from '../package-context.js';
import { queryOf, sendPage, type UiDeps } from '../ui-context.js';
import { ownerPackagesUrl, packageUrl, versionsUrl } from '../urls.js';
import { versionsTable } from './package-page.js';

const PER_PAGE = 30;
const FILTERS = [
  { value: 'all', label: 'All', tagged: undefined },
  { value: 'tagged', label: 'Tagged', tagged: true },
  { value: 'untagged', label: 'Untagged', tagged: false },
] as const;

/**
 * A package's versions page (GHCR's `/versions`): every live version, newest first, 30 a page, filtered to the
 * tagged or the untagged ones (`?filter=tagged|untagged`), with the same columns as the package page's table.
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  for (const { kind, prefix } of OWNER_KINDS) {
    app.get(`${prefix}/packages/container/:name/versions`, (request, reply) => showVersions(deps, request, reply, kind));
  }
}

async function showVersions(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind) {
  const { owner, access } = await readablePackage(deps, request, kind);
  const pkg = access.package;
  const filter = FILTERS.find((f) => f.value === queryOf(request, 'filter')) ?? FILTERS[0];
  const page = pageParam(request);
  const list = await deps.versions.list(pkg, 'active', page, PER_PAGE, filter.tagged === undefined ? {} : { tagged: filter.tagged });
  const summaries = await deps.details.summarize(pkg, list.versions);
  const base = versionsUrl(owner, pkg.name);
  const noun = filter.value === 'all' ? 'version' : `${filter.value} version`;
  return sendPage(request, reply, {
    title: `${pkg.name} versions · ${owner.login}`, nav: 'packages',
    body: html`<div class="page-head"><div>
  <p class="breadcrumb"><a href="${ownerPackagesUrl(owner)}">${owner.login}</a> / <a href="${packageUrl(owner, pkg.name)}">${pkg.name}</a></p>
  <h1>${pkg.name} versions ${visibilityBadge(pkg.visibility)}</h1>
</div></div>
<nav class="tabs" aria-label="Filter versions">${FILTERS.map((f) => {
      const href = f.value === 'all' ? base : `${base}?filter=${f.value}`;
      return f === filter ? html`<a href="${href}" aria-current="page">${f.label}</a>` : html`<a href="${href}">${f.label}</a>`;
    })}</nav>
<p class="muted">${listingTotal(list.total, noun)}</p>
${versionsTable(owner, pkg, list.versions, summaries, deps.clock.now())}
${pager(request, page, PER_PAGE, list.total)}`,
  });
}
