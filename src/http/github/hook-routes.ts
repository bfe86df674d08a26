import type { HookScope } from '../../events/hook-service.js';
import { param, queryParam, type Endpoint, type GithubDeps, type RequestContext } from './github-context.js';
import { notFound } from './github-errors.js';
import { readPage } from './pagination.js';
import { hookDeliveryDetailJson, hookDeliveryJson, hookJson } from './serializers.js';

const DOCS = 'https://docs.github.com/rest/orgs/webhooks';

/**
 * Organization webhooks with GitHub's shapes (docs "REST API endpoints for organization webhooks"): create, list,
 * get, update, delete, ping, the delivery log and redelivery. Only the organization's admins (Policy.administers);
 * everyone else gets GitHub's 404, as for an organization they cannot see.
 */
export function hookRoutes(): Endpoint[] {
  const base = '/v3/orgs/:org/hooks';
  const read = ['read:packages'] as const;
  const write = ['write:packages'] as const;
  return [
    { method: 'GET', url: base, docs: `${DOCS}#list-organization-webhooks`, access: read, what: 'list webhooks', handle: listHooks },
    { method: 'POST', url: base, docs: `${DOCS}#create-an-organization-webhook`, access: write, what: 'create webhooks', handle: createHook },
    { method: 'GET', url: `${base}/:id`, docs: `${DOCS}#get-an-organization-webhook`, access: read, what: 'read webhooks', handle: getHook },
    { method: 'PATCH', url: `${base}/:id`, docs: `${DOCS}#update-an-organization-webhook`, access: write, what: 'change webhooks', handle: updateHook },
    { method: 'DELETE', url: `${base}/:id`, docs: `${DOCS}#delete-an-organization-webhook`, access: write, what: 'delete webhooks', handle: deleteHook },
    { method: 'POST', url: `${base}/:id/pings`, docs: `${DOCS}#ping-an-organization-webhook`, access: write, what: 'ping webhooks', handle: pingHook },
    { method: 'GET', url: `${base}/:id/deliveries`, docs: `${DOCS}#list-deliveries-for-an-organization-webhook`, access: read, what: 'read webhook deliveries', handle: listDeliveries },
    { method: 'GET', url: `${base}/:id/deliveries/:delivery`, docs: `${DOCS}#get-a-webhook-delivery-for-an-organization-webhook`, access: read, what: 'read webhook deliveries', handle: getDelivery },
    {
      method: 'POST', url: `${base}/:id/deliveries/:delivery/attempts`, docs: `${DOCS}#redeliver-a-delivery-for-an-organization-webhook`,
      access: write, what: 'redeliver webhook deliveries', handle: redeliver,
    },
  ];
}

/** The organization, when the caller administers it (a CI token limited to one package never does). */
async function org(deps: GithubDeps, ctx: RequestContext): Promise<{ scope: HookScope; base: string }> {
  const found = await deps.accounts.find(param(ctx.request, 'org'));
  if (!found || found.type !== 'org') throw notFound();
  const identity = ctx.caller.identity!;
  const viewer = identity.repositoryLimit === null ? await deps.accounts.findById(identity.userId) : null;
  if (!viewer || !(await deps.policy.administers(viewer, found))) throw notFound();
  return { scope: { kind: 'org', ownerId: found.id }, base: `${ctx.urls.api}/orgs/${found.login}` };
}

function id(ctx: RequestContext, key: string): number {
  const raw = param(ctx.request, key);
  if (!/^\d{1,15}$/.test(raw)) throw notFound();
  return Number(raw);
}

interface HookBody {
  readonly config?: { readonly url?: unknown; readonly content_type?: unknown; readonly secret?: unknown };
  readonly events?: unknown;
  readonly active?: unknown;
}

function input(body: unknown): { url?: unknown; contentType?: unknown; secret?: unknown; events?: unknown; active?: unknown } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as HookBody;
  const c = typeof b.config === 'object' && b.config !== null ? b.config : {};
  return {
    ...(c.url !== undefined ? { url: c.url } : {}),
    ...(c.content_type !== undefined ? { contentType: c.content_type } : {}),
    ...(c.secret !== undefined ? { secret: c.secret } : {}),
    ...(b.events !== undefined ? { events: b.events } : {}),
    ...(b.active !== undefined ? { active: b.active } : {}),
  };
}

async function listHooks(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  const page = readPage(ctx.request);
  const hooks = await deps.hooks.list(o.scope, page.page, page.perPage);
  return ctx.reply.send(hooks.map((h) => hookJson(h, o.base)));
}

async function createHook(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  const hook = await deps.hooks.create(o.scope, input(ctx.request.body));
  return ctx.reply.code(201).header('Location', `${o.base}/hooks/${hook.id}`).send(hookJson(hook, o.base));
}

async function getHook(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  const hook = await deps.hooks.get(o.scope, id(ctx, 'id'));
  if (!hook) throw notFound();
  return ctx.reply.send(hookJson(hook, o.base));
}

async function updateHook(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  const hook = await deps.hooks.update(o.scope, id(ctx, 'id'), input(ctx.request.body));
  return ctx.reply.send(hookJson(hook, o.base));
}

async function deleteHook(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  await deps.hooks.delete(o.scope, id(ctx, 'id'));
  return ctx.reply.code(204).send();
}

async function pingHook(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  await deps.hooks.ping(o.scope, id(ctx, 'id'));
  return ctx.reply.code(204).send();
}

/** Newest first; `cursor` is the id of the last delivery of the previous page (GitHub's cursor paging). */
async function listDeliveries(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  const { perPage } = readPage(ctx.request);
  const cursor = queryParam(ctx.request, 'cursor');
  const before = cursor !== null && /^\d{1,15}$/.test(cursor) ? Number(cursor) : null;
  const rows = await deps.hooks.deliveries(o.scope, id(ctx, 'id'), perPage, before);
  if (rows.length === perPage) {
    const next = new URL(ctx.request.url, ctx.urls.web);
    next.searchParams.set('cursor', String(rows[rows.length - 1]!.id));
    ctx.reply.header('Link', `<${ctx.urls.web}${next.pathname}${next.search}>; rel="next"`);
  }
  return ctx.reply.send(rows.map(hookDeliveryJson));
}

async function getDelivery(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  const found = await deps.hooks.delivery(o.scope, id(ctx, 'id'), id(ctx, 'delivery'));
  if (!found) throw notFound();
  return ctx.reply.send(hookDeliveryDetailJson(found.row, found.requestHeaders));
}

async function redeliver(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  await deps.hooks.redeliver(o.scope, id(ctx, 'id'), id(ctx, 'delivery'));
  return ctx.reply.code(202).send({});
}
