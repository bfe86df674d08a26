import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { UpstreamSummary } from '../../../mirror/mirror-service.js';
import type { MirrorReaders } from '../../../oci/names.js';
import { formatDuration, parseDuration } from '../../../util/duration.js';
import { invalid, isBerthError } from '../../../util/errors.js';
import { copyBox, pageParam, pager } from '../components.js';
import { formatBytes, formatCount, listingTotal, timeAgo } from '../format.js';
import { html } from '../html.js';
import { assetUrl } from '../static-assets.js';
import { csrfField, formOf, paramOf, queryOf, redirect, registryHost, requireAccount, sendPage, viewerOf, type UiDeps } from '../ui-context.js';
import { pageNotFound } from '../ui-errors.js';

const PER_PAGE = 50;

/**
 * The pull-through caches (src/mirror/) in the UI. `/mirrors` lists the upstreams and `/mirrors/{namespace}` a
 * namespace's cached repositories with their upstream repository, size and last pull, for whom `mirror.access`
 * lets pull through them (anyone, or signed-in users). `/admin/mirrors` is the instance admins' view, where they add
 * and delete mirrors too (showAdmin).
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  /**
   * The upstreams the viewer may pull through (each mirror's access). A visitor who may pull through none of them
   * is sent to sign in; one a signed-in viewer may not pull through is not found.
   */
  const readable = async (request: FastifyRequest): Promise<UpstreamSummary[]> => {
    const visible = await deps.policy.mirrorsPullableBy(viewerOf(request).subject, await deps.mirror.service.upstreams());
    if (visible.length === 0) requireAccount(request);
    return visible;
  };

  app.get('/mirrors', async (request, reply) => {
    const mirror = deps.mirror;
    const upstreams = await readable(request);
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
    const mirror = deps.mirror;
    const upstream = (await readable(request)).find((u) => u.namespace === paramOf(request, 'namespace'));
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
  ${upstream.evictAfterMs === null ? 'Cached images are kept.' : `Cached images not pulled for ${formatDuration(upstream.evictAfterMs)} are evicted.`}</p>
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

  app.get('/admin/mirrors', (request, reply) => showAdmin(deps, request, reply));
  app.post('/admin/mirrors', (request, reply) => adminAct(deps, request, reply, 'added', async (form) => {
    const namespace = (form.get('namespace') ?? '').trim();
    const evictAfter = (form.get('evict_after') ?? '').trim();
    let evictAfterMs: number | null = null;
    try {
      evictAfterMs = evictAfter === '' ? null : parseDuration(evictAfter);
    } catch (err) {
      throw invalid((err as Error).message);
    }
    await deps.mirror.upstreams.add({
      namespace, url: (form.get('url') ?? '').trim(), username: (form.get('username') ?? '').trim() || null,
      password: form.get('password') || null, isDefault: form.get('default') === 'on', evictAfterMs,
      access: (form.get('access') ?? '').trim() || null,
    });
    return namespace;
  }));
  app.post('/admin/mirrors/delete', (request, reply) => adminAct(deps, request, reply, 'deleted', async (form) => {
    const namespace = form.get('namespace') ?? '';
    await deps.mirror.upstreams.remove(namespace);
    return namespace;
  }));
}

/** What a done form says, by the `done` query parameter (redirect-after-post). */
const DONE: Record<string, (namespace: string) => string> = {
  added: (ns) => `Added the mirror ${ns}: pull through it as NAMESPACE/IMAGE:TAG now, on every replica.`,
  deleted: (ns) => `Deleted the mirror ${ns}.`,
};

/** Runs one form's action; refusals the admin can fix (a taken namespace, a bad URL) come back on the page. */
async function adminAct(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: string, run: (form: URLSearchParams) => Promise<string>) {
  if (!viewerOf(request).account?.isAdmin) throw pageNotFound();
  let namespace: string;
  try {
    namespace = await run(formOf(request));
  } catch (err) {
    if (isBerthError(err) && [404, 409, 422].includes(err.status)) return showAdmin(deps, request, reply, { kind, message: err.message });
    throw err;
  }
  return redirect(reply, `/admin/mirrors?done=${kind}&name=${encodeURIComponent(namespace)}`);
}

/**
 * `/admin/mirrors`: how Berth signs in upstream, eviction, this process's hits and misses, the form that adds a
 * mirror and the buttons that delete those added here (the configuration's are changed there), and the
 * `berth mirror` commands that manage the cache.
 */
async function showAdmin(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, error?: { kind: string; message: string }) {
  if (!viewerOf(request).account?.isAdmin) throw pageNotFound();
  const mirror = deps.mirror;
  const upstreams = await mirror.service.upstreams();
  const summaries = await mirror.packages.summaries(upstreams.map((u) => u.namespace));
  const now = deps.clock.now();
  const done = DONE[queryOf(request, 'done') ?? ''];
  const form = error?.kind === 'added' ? formOf(request) : new URLSearchParams();
  const value = (key: string): string => form.get(key) ?? '';
  return sendPage(request, reply, {
    title: 'Mirrors · Site administration', nav: 'admin', status: error ? 422 : 200,
    flash: error ? { kind: 'error', message: error.message } : done ? { kind: 'success', message: done(queryOf(request, 'name') ?? '') } : null,
    body: html`${stylesheet()}
<section class="admin usage mirrors">
  <p class="muted"><a href="/admin">Site administration</a> /</p>
  <h1>Pull-through mirrors</h1>
  ${upstreams.length === 0 ? html`<p class="muted">No mirrors yet. Add one below, with <code>berth mirror add</code>, or under <code>mirror.upstreams</code> in the configuration.</p>` : html`
  <p class="muted">Requests are counted by this process since it started. Mirrors of the configuration (<code>mirror.upstreams</code>) are changed there.</p>
  <div class="table-wrap" tabindex="0" role="region" aria-labelledby="admin-mirrors"><table class="table usage-table" aria-labelledby="admin-mirrors">
    <caption id="admin-mirrors" class="visually-hidden">Mirrors</caption>
    <thead><tr><th scope="col">Namespace</th><th scope="col">Upstream</th><th scope="col">Signs in as</th><th scope="col">Eviction</th><th scope="col" class="num">Packages</th><th scope="col" class="num">Versions</th><th scope="col" class="num">Storage</th><th scope="col">Last pull</th><th scope="col" class="num">Hits</th><th scope="col" class="num">Misses</th><th scope="col" class="num">Stale</th><th scope="col" class="num">Errors</th><th scope="col" class="num">Sent from the cache</th><th scope="col" class="num">Fetched upstream</th><th scope="col">Who may pull</th><th scope="col">Defined by</th></tr></thead>
    <tbody>${upstreams.map((u, i) => {
      const s = summaries[i]!;
      const c = mirror.service.counts(u.namespace);
      const sent = mirror.service.bytesSent(u.namespace);
      return html`<tr data-admin-mirror="${u.namespace}">
      <th scope="row"><a href="/mirrors/${u.namespace}">${u.namespace}</a>${u.isDefault ? html` <span class="badge">default</span>` : null}</th>
      <td><code>${u.url}</code></td>
      <td>${u.auth}</td>
      <td>${u.evictAfterMs === null ? html`<span class="muted">never</span>` : `after ${formatDuration(u.evictAfterMs)} unpulled`}</td>
      <td class="num">${formatCount(s.packages)}</td>
      <td class="num">${formatCount(s.versions)}</td>
      <td class="num">${formatBytes(s.sizeBytes)}</td>
      <td>${s.lastPulledAt === null ? html`<span class="muted">never</span>` : timeAgo(s.lastPulledAt, now)}</td>
      <td class="num" data-hits>${formatCount((c?.hit ?? 0) + (c?.revalidated ?? 0))}</td>
      <td class="num" data-misses>${formatCount(c?.miss ?? 0)}</td>
      <td class="num">${formatCount(c?.stale ?? 0)}</td>
      <td class="num">${formatCount((c?.error ?? 0))}</td>
      <td class="num" data-saved-bytes="${sent.cache}">${formatBytes(sent.cache)}</td>
      <td class="num" data-fetched-bytes="${sent.upstream}">${formatBytes(sent.upstream)}</td>
      <td data-access>${readersText(u.access)}</td>
      <td>${u.source === 'config' ? 'configuration' : html`<form method="post" action="/admin/mirrors/delete">${csrfField(request)}<input type="hidden" name="namespace" value="${u.namespace}"><button type="submit" class="btn btn-danger" aria-label="Delete the mirror ${u.namespace}">Delete</button></form>`}</td>
    </tr>`;
    })}</tbody>
  </table></div>`}
  <section class="card" aria-labelledby="add-mirror">
    <h2 id="add-mirror">Add a mirror</h2>
    <form method="post" action="/admin/mirrors" class="stack">
      ${csrfField(request)}
      <label for="mirror-namespace">Namespace (clients pull <code>NAMESPACE/IMAGE:TAG</code>)</label>
      <input id="mirror-namespace" name="namespace" type="text" required autocomplete="off" autocapitalize="none" spellcheck="false" placeholder="dockerhub" value="${value('namespace')}">
      <label for="mirror-url">Upstream registry URL</label>
      <input id="mirror-url" name="url" type="url" required placeholder="https://registry-1.docker.io" value="${value('url')}">
      <label for="mirror-username">User name upstream (optional: anonymous)</label>
      <input id="mirror-username" name="username" type="text" autocomplete="off" value="${value('username')}">
      <label for="mirror-password">Password or token upstream (with the user name)</label>
      <input id="mirror-password" name="password" type="password" autocomplete="new-password">
      <label for="mirror-access">Who may pull: public, signed-in or org:LOGIN (default: ${readersText(deps.mirror.upstreams.defaultAccess)}, from <code>mirror.access</code>)</label>
      <input id="mirror-access" name="access" type="text" autocomplete="off" autocapitalize="none" spellcheck="false" placeholder="signed-in" value="${value('access')}">
      <label for="mirror-evict">Evict cached images not pulled for (optional, e.g. 30d)</label>
      <input id="mirror-evict" name="evict_after" type="text" autocomplete="off" value="${value('evict_after')}">
      <label><input name="default" type="checkbox"${value('default') === 'on' ? ' checked' : ''}> The default mirror (Docker <code>registry-mirrors</code> pulls through it)</label>
      <button type="submit" class="btn btn-primary">Add the mirror</button>
    </form>
    <p class="hint">${deps.mirror.upstreams.seals ? 'The password is stored sealed with auth.keyEncryptionKey.' : html`The password is stored as given: set <code>auth.keyEncryptionKey</code> to store it sealed.`} A mirror can be deleted once its cache is empty (<code>berth mirror remove NAMESPACE</code>).</p>
  </section>
  <h2>Managing the cache</h2>
  <p>On the server, with the same data as <code>berth serve</code>:</p>
  ${copyBox('berth mirror show NAMESPACE', 'List cached packages')}
  ${copyBox('berth mirror evict --dry-run', 'Preview eviction by last pull')}
  ${copyBox('berth mirror remove NAMESPACE/IMAGE', 'Remove a cached package')}
  <p class="hint">Removed and evicted versions are deleted as a REST delete is (restorable for <code>packages.restoreWindow</code>); <code>berth gc</code> frees their bytes, and the next pull fetches them from the upstream again.</p>
</section>`,
  });
}

/** Who a mirror's access lets pull, in words. */
function readersText(readers: MirrorReaders): string {
  return readers === 'public' ? 'anyone' : readers === 'signed-in' ? 'signed-in users' : `members of ${readers.slice('org:'.length)}`;
}

function stylesheet() {
  return html`<link rel="stylesheet" href="${assetUrl('usage.css')}">`;
}
