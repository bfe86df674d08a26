import type { Account } from '../../accounts/account-service.js';
import { parseAuditPhrase } from '../../audit/audit-phrase.js';
import { param, queryParam, type Endpoint, type GithubDeps, type RequestContext } from './github-context.js';
import { invalidRequest, notFound } from './github-errors.js';
import { auditCursor, auditEntryJson, parseAuditCursor } from './serializers.js';

const DOCS = 'https://docs.github.com/enterprise-cloud@latest/rest/orgs/orgs#get-the-audit-log-for-an-organization';

/**
 * The organization's audit log in GitHub's shape: `phrase` search, `per_page`, cursor pagination with `after` and
 * `before` (and a Link header), `order`. Only the organization's owners (Policy.administers); anyone else gets
 * GitHub's 404, as for an organization they cannot see.
 */
export function auditRoutes(): Endpoint[] {
  return [{ method: 'GET', url: '/v3/orgs/:org/audit-log', docs: DOCS, access: ['read:packages'], what: 'read the audit log', handle: getAuditLog }];
}

async function owned(deps: GithubDeps, ctx: RequestContext): Promise<Account> {
  const found = await deps.accounts.find(param(ctx.request, 'org'));
  if (!found || found.type !== 'org') throw notFound();
  const identity = ctx.caller.identity!;
  // A CI token limited to one package speaks for that package only, never for its organization.
  const viewer = identity.repositoryLimit === null ? await deps.accounts.findById(identity.userId) : null;
  if (!viewer || !(await deps.policy.administers(viewer, found))) throw notFound();
  return found;
}

async function getAuditLog(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const org = await owned(deps, ctx);
  const q = ctx.request;
  const filter = parseAuditPhrase(queryParam(q, 'phrase') ?? undefined);
  const rawPer = queryParam(q, 'per_page');
  const perPage = rawPer !== null && /^\d+$/.test(rawPer) && Number(rawPer) >= 1 ? Math.min(Number(rawPer), 100) : 30;
  const order = queryParam(q, 'order') ?? 'desc';
  if (order !== 'desc') throw invalidRequest('Berth lists the audit log newest first only: order must be desc');
  const after = cursorParam(queryParam(q, 'after'));
  const before = cursorParam(queryParam(q, 'before'));
  if (after !== undefined && before !== undefined) throw invalidRequest('give after or before, not both');
  const page = await deps.audit.page({
    orgId: org.id, filter, perPage, ...(after !== undefined ? { after } : {}), ...(before !== undefined ? { before } : {}),
  });
  const links: string[] = [];
  const link = (set: { after?: number; before?: number }, rel: string): string => {
    const [path, search = ''] = q.url.split('?', 2) as [string, string?];
    const query = new URLSearchParams(search);
    query.delete('after');
    query.delete('before');
    if (set.after !== undefined) query.set('after', auditCursor(set.after));
    if (set.before !== undefined) query.set('before', auditCursor(set.before));
    const qs = query.toString();
    return `<${ctx.urls.web}${path}${qs ? `?${qs}` : ''}>; rel="${rel}"`;
  };
  const first = page.rows[0];
  const last = page.rows[page.rows.length - 1];
  if (page.older && last) links.push(link({ after: last.id }, 'next'));
  if (page.newer && first) links.push(link({ before: first.id }, 'prev'));
  if (page.newer) links.push(link({}, 'first'));
  if (links.length > 0) ctx.reply.header('Link', links.join(', '));
  return ctx.reply.send(page.rows.map(auditEntryJson));
}

function cursorParam(raw: string | null): number | undefined {
  if (raw === null || raw === '') return undefined;
  const id = parseAuditCursor(raw);
  if (id === null) throw invalidRequest(`"${raw}" is not a cursor from this audit log's Link header`);
  return id;
}
