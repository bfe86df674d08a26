import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditRecord } from '../../../audit/audit-log.js';
import { parseAuditPhrase } from '../../../audit/audit-phrase.js';
import { formatDate } from '../format.js';
import { html, type Html } from '../html.js';
import { paramOf, queryOf, requireAccount, sendPage, type UiDeps } from '../ui-context.js';
import { pageNotFound } from '../ui-errors.js';

const PER_PAGE = 50;

/**
 * `/orgs/{org}/audit-log`: the organization's audit records for its owners (and instance admins), newest first,
 * filtered by action (a name or a category) and actor with a plain GET form, paged by record id ("Older", "Newer").
 * The same records and filters as GET /api/v3/orgs/{org}/audit-log; anyone else gets the 404 of a missing org.
 * `/admin/audit`: the same page over the whole instance (sign-ins, GC runs, every organization's records), for
 * instance admins only, with the organization of each record.
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  app.get('/orgs/:org/audit-log', async (request, reply) => {
    const actor = requireAccount(request);
    const org = await deps.accounts.find(paramOf(request, 'org'));
    if (!org || org.type !== 'org' || !(await deps.policy.administers(actor, org))) throw pageNotFound();
    return sendAuditPage(deps, request, reply, {
      orgId: org.id, base: `/orgs/${encodeURIComponent(org.login)}/audit-log`, title: `Audit log · ${org.login}`, nav: 'settings',
      breadcrumb: html`<a href="/orgs/${org.login}/packages">${org.login}</a> / <a href="/orgs/${org.login}/settings">settings</a> / audit log`,
    });
  });

  app.get('/admin/audit', async (request, reply) => {
    if (!requireAccount(request).isAdmin) throw pageNotFound();
    return sendAuditPage(deps, request, reply, {
      orgId: null, base: '/admin/audit', title: 'Audit log · Site administration', nav: 'admin',
      breadcrumb: html`<a href="/admin">Site administration</a> / audit log`,
    });
  });
}

interface AuditPageScope {
  /** null: the whole instance (and an Organization column). */
  readonly orgId: number | null;
  readonly base: string;
  readonly title: string;
  readonly nav: 'settings' | 'admin';
  readonly breadcrumb: Html;
}

async function sendAuditPage(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, s: AuditPageScope): Promise<FastifyReply> {
  const action = (queryOf(request, 'action') ?? '').trim();
  const who = (queryOf(request, 'actor') ?? '').trim();
  // The filters as a phrase: the same grammar, and the same 422 for a value that is not a name, as the REST API.
  const filter = parseAuditPhrase([action && `action:${action}`, who && `actor:${who}`].filter(Boolean).join(' '));
  const after = cursor(queryOf(request, 'after'));
  const before = cursor(queryOf(request, 'before'));
  const page = await deps.audit.page({
    orgId: s.orgId, filter, perPage: PER_PAGE, ...(after !== undefined ? { after } : before !== undefined ? { before } : {}),
  });
  const link = (key: 'after' | 'before', id: number): string => {
    const q = new URLSearchParams();
    if (action) q.set('action', action);
    if (who) q.set('actor', who);
    q.set(key, String(id));
    return `${s.base}?${q}`;
  };
  const first = page.rows[0];
  const last = page.rows[page.rows.length - 1];
  return sendPage(request, reply, {
    title: s.title, nav: s.nav,
    body: html`<section class="org-audit">
  <p class="breadcrumb">${s.breadcrumb}</p>
  <h1>Audit log</h1>
  <form method="get" action="${s.base}" class="inline-form audit-filters" role="search">
    <label for="audit-action">Action</label>
    <input id="audit-action" name="action" value="${action}" placeholder="package.delete or package" size="24">
    <label for="audit-actor">Actor</label>
    <input id="audit-actor" name="actor" value="${who}" placeholder="login" size="16">
    <button type="submit" class="btn btn-small">Filter</button>
    ${action || who ? html`<a href="${s.base}">Clear</a>` : ''}
  </form>
  ${page.rows.length === 0 ? html`<p class="muted" id="audit-empty">No audit records${action || who ? ' match these filters' : ''}.</p>` : table(page.rows, s.orgId === null)}
  <nav class="pager" aria-label="Pages">
    ${page.newer && first ? html`<a href="${link('before', first.id)}" rel="prev">Newer</a>` : ''}
    ${page.older && last ? html`<a href="${link('after', last.id)}" rel="next">Older</a>` : ''}
  </nav>
</section>`,
  });
}

function cursor(raw: string | null): number | undefined {
  return raw !== null && /^\d{1,15}$/.test(raw) ? Number(raw) : undefined;
}

function table(rows: readonly AuditRecord[], withOrg: boolean): Html {
  return html`<table class="table audit-table">
    <thead><tr><th scope="col">Time</th><th scope="col">Action</th>${withOrg ? html`<th scope="col">Organization</th>` : ''}<th scope="col">Actor</th><th scope="col">Target</th><th scope="col">Change</th><th scope="col">From</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr data-action="${r.action}">
      <td>${formatDate(r.createdAt)}</td>
      <th scope="row"><code>${r.action}</code></th>
      ${withOrg ? html`<td>${r.orgLogin ?? ''}</td>` : ''}
      <td>${r.actorLogin ?? html`<span class="muted">${r.userAgent?.startsWith('berth-cli') ? 'berth CLI' : 'Berth'}</span>`}${r.tokenId !== null ? html` <span class="muted">(token ${r.tokenId})</span>` : ''}</td>
      <td>${r.target ?? ''}</td>
      <td>${change(r)}</td>
      <td>${r.address ?? ''} <span class="muted">${r.userAgent ?? ''}</span></td>
    </tr>`)}</tbody>
  </table>`;
}

function change(r: AuditRecord): Html {
  if (r.before === null && r.after === null) return html``;
  return html`${r.before !== null ? html`<code>${r.before}</code> → ` : ''}${r.after !== null ? html`<code>${r.after}</code>` : ''}`;
}
