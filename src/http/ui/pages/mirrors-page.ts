import type { FastifyInstance, FastifyRequest } from 'fastify';
import { mirrorActions } from '../../../auth/mirror-access.js';
import { copyBox, pageParam, pager } from '../components.js';
import { formatBytes, formatCount, listingTotal, timeAgo } from '../format.js';
import { html } from '../html.js';
import { assetUrl } from '../static-assets.js';
import { paramOf, registryHost, requireAccount, sendPage, viewerOf, type UiDeps } from '../ui-context.js';
import { pageNotFound } from '../ui-errors.js';

const PER_PAGE = 50;

/**
 * The pull-through caches (src/mirror/) in the UI. `/mirrors` lists the upstreams and `/mirrors/{namespace}` a
 * namespace's cached repositories with their upstream repository, size and last pull, for whom `mirror.access`
 * lets pull through them (anyone, or signed-in users). `/admin/mirrors` is the instance admins' view: how Berth
 * signs in upstream, eviction, this process's hits and misses, and the `berth mirror` commands that manage the
 * cache (upstreams themselves are configuration: mirror.upstreams).
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  /** The mirror services, or the page's refusal: sign in when mirrors are for signed-in users; 404 when none. */
  const readable = (request: FastifyRequest): NonNullable<UiDeps['mirror']> => {
    const mirror = deps.mirror;
    if (!mirror) throw pageNotFound();
    if (!mirrorActions(viewerOf(request).subject, mirror.service.access).has('pull')) requireAccount(request);
    return mirror;
  };

  app.get('/mirrors', async (request, reply) => {
    const mirror = readable(request);
    const upstreams = mirror.service.upstreams();
    const summaries = await mirror.packages.summaries(upstreams.map((u) => u.namespace));
    const host = registryHost(request, deps.publicUrl);
    const now = deps.clock.now();
    const isAdmin = viewerOf(request).account?.isAdmin ?? false;
    return sendPage(request, reply, {
      title: 'Mirrors', nav: 'packages',
      body: html`${stylesheet()}
<section class="usage mirrors">
  <h1>Pull-through mirrors</h1>
  <p class="muted">Images of other registries, pulled through this one and cached: <code>docker pull ${host}/NAMESPACE/IMAGE:TAG</code>.
  Mirrors are pull-only.${isAdmin ? html` <a href="/admin/mirrors">Manage mirrors</a>` : null}</p>
  <table class="table usage-table" aria-labelledby="mirror-list">
    <caption id="mirror-list" class="visually-hidden">Mirrors</caption>
    <thead><tr><th scope="col">Namespace</th><th scope="col">Upstream</th><th scope="col" class="num">Cached packages</th><th scope="col" class="num">Storage</th><th scope="col">Last pull</th></tr></thead>
    <tbody>${upstreams.map((u, i) => {
      const s = summaries[i]!;
      return html`<tr data-mirror="${u.namespace}">
      <th scope="row"><a href="/mirrors/${u.namespace}">${u.namespace}</a>${u.isDefault ? html` <span class="badge" title="Docker registry-mirrors mode">default</span>` : null}</th>
      <td><code>${u.url}</code></td>
      <td class="num" data-mirror-packages>${formatCount(s.packages)}</td>
      <td class="num" data-bytes="${s.sizeBytes}">${formatBytes(s.sizeBytes)}</td>
      <td>${s.lastPulledAt === null ? html`<span class="muted">never</span>` : timeAgo(s.lastPulledAt, now)}</td>
    </tr>`;
    })}</tbody>
  </table>
</section>`,
    });
  });

  app.get('/mirrors/:namespace', async (request, reply) => {
    const mirror = readable(request);
    const upstream = mirror.service.upstreams().find((u) => u.namespace === paramOf(request, 'namespace'));
    if (!upstream) throw pageNotFound();
    const page = pageParam(request);
    const { total, repositories } = await mirror.packages.list(upstream.namespace, { page, perPage: PER_PAGE });
    const host = registryHost(request, deps.publicUrl);
    const now = deps.clock.now();
    return sendPage(request, reply, {
      title: `Mirror · ${upstream.namespace}`, nav: 'packages',
      body: html`${stylesheet()}
<section class="usage mirrors">
  <p class="muted"><a href="/mirrors">Mirrors</a> /</p>
  <h1>${upstream.namespace}</h1>
  <p>Mirror of <code>${upstream.url}</code>${upstream.isDefault ? ' (the default: Docker registry-mirrors mode pulls through it)' : null}.
  ${upstream.evictAfterMs === null ? 'Cached images are kept.' : `Cached images not pulled for ${duration(upstream.evictAfterMs)} are evicted.`}</p>
  ${copyBox(`docker pull ${host}/${upstream.namespace}/IMAGE:TAG`, 'Pull through this mirror')}
  <h2 id="cached">${listingTotal(total, 'cached package')}</h2>
  ${total === 0 ? html`<p class="muted">Nothing pulled through this mirror yet.</p>` : html`<table class="table usage-table" aria-labelledby="cached">
    <thead><tr><th scope="col">Package</th><th scope="col">Upstream repository</th><th scope="col" class="num">Versions</th><th scope="col" class="num">Size</th><th scope="col">Last pull</th><th scope="col">Cached</th></tr></thead>
    <tbody>${repositories.map((r) => html`<tr data-cached="${r.name}">
      <th scope="row"><code>${r.name}</code></th>
      <td><code>${mirror.service.remoteOf(r.name) ?? r.name}</code></td>
      <td class="num">${formatCount(r.versions)}</td>
      <td class="num" data-bytes="${r.sizeBytes}">${formatBytes(r.sizeBytes)}</td>
      <td data-last-pull>${r.lastPulledAt === null ? html`<span class="muted">unknown</span>` : timeAgo(r.lastPulledAt, now)}</td>
      <td>${timeAgo(r.createdAt, now)}</td>
    </tr>`)}</tbody>
  </table>
  ${pager(request, page, PER_PAGE, total)}`}
</section>`,
    });
  });

  app.get('/admin/mirrors', async (request, reply) => {
    if (!viewerOf(request).account?.isAdmin) throw pageNotFound();
    const mirror = deps.mirror;
    const upstreams = mirror?.service.upstreams() ?? [];
    const summaries = mirror ? await mirror.packages.summaries(upstreams.map((u) => u.namespace)) : [];
    const now = deps.clock.now();
    return sendPage(request, reply, {
      title: 'Mirrors · Site administration', nav: 'admin',
      body: html`${stylesheet()}
<section class="admin usage mirrors">
  <p class="muted"><a href="/admin">Site administration</a> /</p>
  <h1>Pull-through mirrors</h1>
  ${!mirror ? html`<p class="muted">No mirrors are configured. Add one under <code>mirror.upstreams</code> in the configuration (or <code>BERTH_MIRROR_UPSTREAMS_&lt;NAMESPACE&gt;_URL</code>) and restart.</p>` : html`
  <p class="muted">Upstreams are configuration (<code>mirror.upstreams</code>): change them there and restart. Pulls: ${mirror.service.access === 'public' ? 'anyone' : 'signed-in users'} (<code>mirror.access</code>). Requests are counted by this process since it started.</p>
  <table class="table usage-table" aria-labelledby="admin-mirrors">
    <caption id="admin-mirrors" class="visually-hidden">Mirrors</caption>
    <thead><tr><th scope="col">Namespace</th><th scope="col">Upstream</th><th scope="col">Signs in as</th><th scope="col">Eviction</th><th scope="col" class="num">Packages</th><th scope="col" class="num">Versions</th><th scope="col" class="num">Storage</th><th scope="col">Last pull</th><th scope="col" class="num">Hits</th><th scope="col" class="num">Misses</th><th scope="col" class="num">Stale</th><th scope="col" class="num">Errors</th></tr></thead>
    <tbody>${upstreams.map((u, i) => {
      const s = summaries[i]!;
      const c = mirror.service.counts(u.namespace);
      return html`<tr data-admin-mirror="${u.namespace}">
      <th scope="row"><a href="/mirrors/${u.namespace}">${u.namespace}</a>${u.isDefault ? html` <span class="badge">default</span>` : null}</th>
      <td><code>${u.url}</code></td>
      <td>${u.auth}</td>
      <td>${u.evictAfterMs === null ? html`<span class="muted">never</span>` : `after ${duration(u.evictAfterMs)} unpulled`}</td>
      <td class="num">${formatCount(s.packages)}</td>
      <td class="num">${formatCount(s.versions)}</td>
      <td class="num">${formatBytes(s.sizeBytes)}</td>
      <td>${s.lastPulledAt === null ? html`<span class="muted">never</span>` : timeAgo(s.lastPulledAt, now)}</td>
      <td class="num" data-hits>${formatCount((c?.hit ?? 0) + (c?.revalidated ?? 0))}</td>
      <td class="num" data-misses>${formatCount(c?.miss ?? 0)}</td>
      <td class="num">${formatCount(c?.stale ?? 0)}</td>
      <td class="num">${formatCount((c?.error ?? 0))}</td>
    </tr>`;
    })}</tbody>
  </table>
  <h2>Managing the cache</h2>
  <p>On the server, with the same data as <code>berth serve</code>:</p>
  ${copyBox('berth mirror show NAMESPACE', 'List cached packages')}
  ${copyBox('berth mirror evict --dry-run', 'Preview eviction by last pull')}
  ${copyBox('berth mirror remove NAMESPACE/IMAGE', 'Remove a cached package')}
  <p class="hint">Removed and evicted versions are deleted as a REST delete is (restorable for <code>packages.restoreWindow</code>); <code>berth gc</code> frees their bytes, and the next pull fetches them from the upstream again.</p>`}
</section>`,
    });
  });
}

function stylesheet() {
  return html`<link rel="stylesheet" href="${assetUrl('usage.css')}">`;
}

/** `30d`, `12h`, `90s`: evictAfter as it is configured. */
function duration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.round(ms / 1000)}s`;
}
