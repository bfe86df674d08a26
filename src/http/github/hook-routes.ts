import type { Account } from '../../accounts/account-service.js';
import { INSTANCE_HOOKS, type HookScope } from '../../events/hook-service.js';
import { param, queryParam, type Endpoint, type GithubDeps, type RequestContext } from './github-context.js';
import { notFound } from './github-errors.js';
import { readPage } from './pagination.js';
import { hookDeliveryDetailJson, hookDeliveryJson, hookJson } from './serializers.js';

/** Every scope's routes have the shapes of GitHub's organization hooks, so their errors point at that page. */
const DOCS = 'https://docs.github.com/rest/orgs/webhooks';

/** Whose hooks a route manages, and the API URL the hooks' `url` fields start from. */
interface Resolved { readonly scope: HookScope; readonly base: string }
type Resolve = (deps: GithubDeps, ctx: RequestContext) => Promise<Resolved>;

/**
 * Webhooks with GitHub's organization-hook shapes (docs "REST API endpoints for organization webhooks"): create,
 * list, get, update, delete, ping, the delivery log and redelivery, for four scopes: an organization's
 * (`/orgs/{org}/hooks`, GitHub's own), the caller's user account (`/berth/user/hooks`), one package
 * (`/berth/packages/{owner}/{name}/hooks`, managed by who administers its namespace) and the instance
 * (`/berth/admin/hooks`, instance admins). Everyone else gets GitHub's 404, as for something they cannot see.
 */
export function hookRoutes(): Endpoint[] {
  return [
    ...routesFor('/v3/orgs/:org/hooks', orgHooks),
    ...routesFor('/v3/berth/user/hooks', userHooks),
    ...routesFor('/v3/berth/packages/:owner/:name/hooks', packageHooks),
    ...routesFor('/v3/berth/admin/hooks', instanceHooks),
  ];
}

function routesFor(base: string, resolve: Resolve): Endpoint[] {
  const read = ['read:packages'] as const;
  const write = ['write:packages'] as const;
  const at = (anchor: string): string => `${DOCS}#${anchor}`;
  const resolved = (handle: (deps: GithubDeps, ctx: RequestContext, r: Resolved) => Promise<unknown>) =>
    async (deps: GithubDeps, ctx: RequestContext): Promise<unknown> => handle(deps, ctx, await resolve(deps, ctx));
  return [
    { method: 'GET', url: base, docs: at('list-organization-webhooks'), access: read, what: 'list webhooks', handle: resolved(listHooks) },
    { method: 'POST', url: base, docs: at('create-an-organization-webhook'), access: write, what: 'create webhooks', handle: resolved(createHook) },
    { method: 'GET', url: `${base}/:id`, docs: at('get-an-organization-webhook'), access: read, what: 'read webhooks', handle: resolved(getHook) },
    { method: 'PATCH', url: `${base}/:id`, docs: at('update-an-organization-webhook'), access: write, what: 'change webhooks', handle: resolved(updateHook) },
    { method: 'DELETE', url: `${base}/:id`, docs: at('delete-an-organization-webhook'), access: write, what: 'delete webhooks', handle: resolved(deleteHook) },
    { method: 'POST', url: `${base}/:id/pings`, docs: at('ping-an-organization-webhook'), access: write, what: 'ping webhooks', handle: resolved(pingHook) },
    {
      method: 'GET', url: `${base}/:id/deliveries`, docs: at('list-deliveries-for-an-organization-webhook'), access: read, what: 'read webhook deliveries',
      handle: resolved(listDeliveries),
    },
    {
      method: 'GET', url: `${base}/:id/deliveries/:delivery`, docs: at('get-a-webhook-delivery-for-an-organization-webhook'), access: read,
      what: 'read webhook deliveries', handle: resolved(getDelivery),
    },
    {
      method: 'POST', url: `${base}/:id/deliveries/:delivery/attempts`, docs: at('redeliver-a-delivery-for-an-organization-webhook'),
      access: write, what: 'redeliver webhook deliveries', handle: resolved(redeliver),
    },
  ];
}

/** The signed-in user behind a personal access token; a CI token limited to one package manages no hooks. */
async function viewer(deps: GithubDeps, ctx: RequestContext): Promise<Account> {
  const identity = ctx.caller.identity!;
  const user = identity.repositoryLimit === null ? await deps.accounts.findById(identity.userId) : null;
  if (!user || user.type !== 'user') throw notFound();
  return user;
}

/** The organization, when the caller administers it. */
async function orgHooks(deps: GithubDeps, ctx: RequestContext): Promise<Resolved> {
  const found = await deps.accounts.find(param(ctx.request, 'org'));
  if (!found || found.type !== 'org' || !(await deps.policy.administers(await viewer(deps, ctx), found))) throw notFound();
  return { scope: { kind: 'org', ownerId: found.id }, base: `${ctx.urls.api}/orgs/${found.login}` };
}

/** The caller's own account: events of the packages in their namespace. */
async function userHooks(deps: GithubDeps, ctx: RequestContext): Promise<Resolved> {
  const user = await viewer(deps, ctx);
  return { scope: { kind: 'user', ownerId: user.id }, base: `${ctx.urls.api}/berth/user` };
}

/** One package, when the caller administers its namespace (as for its lifecycle rules). */
async function packageHooks(deps: GithubDeps, ctx: RequestContext): Promise<Resolved> {
  const user = await viewer(deps, ctx);
  const owner = await deps.accounts.find(param(ctx.request, 'owner'));
  if (!owner) throw notFound();
  const access = await deps.packages.find(owner, param(ctx.request, 'name'), ctx.caller.subject);
  if (!access?.operations.has('read') || !(await deps.policy.administers(user, owner))) throw notFound();
  const name = access.package.repository.slice(owner.login.length + 1);
  return {
    scope: { kind: 'package', ownerId: owner.id, repositoryId: access.package.id },
    base: `${ctx.urls.api}/berth/packages/${owner.login}/${encodeURIComponent(name)}`,
  };
}

/** The instance's hooks (every event): its admins only. */
async function instanceHooks(deps: GithubDeps, ctx: RequestContext): Promise<Resolved> {
  if (!(await viewer(deps, ctx)).isAdmin) throw notFound();
  return { scope: INSTANCE_HOOKS, base: `${ctx.urls.api}/berth/admin` };
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

async function listHooks(deps: GithubDeps, ctx: RequestContext, o: Resolved): Promise<unknown> {
  const page = readPage(ctx.request);
  const hooks = await deps.hooks.list(o.scope, page.page, page.perPage);
  return ctx.reply.send(hooks.map((h) => hookJson(h, o.base)));
}

async function createHook(deps: GithubDeps, ctx: RequestContext, o: Resolved): Promise<unknown> {
  const hook = await deps.hooks.create(o.scope, input(ctx.request.body));
  return ctx.reply.code(201).header('Location', `${o.base}/hooks/${hook.id}`).send(hookJson(hook, o.base));
}

async function getHook(deps: GithubDeps, ctx: RequestContext, o: Resolved): Promise<unknown> {
  const hook = await deps.hooks.get(o.scope, id(ctx, 'id'));
  if (!hook) throw notFound();
  return ctx.reply.send(hookJson(hook, o.base));
}

async function updateHook(deps: GithubDeps, ctx: RequestContext, o: Resolved): Promise<unknown> {
  const hook = await deps.hooks.update(o.scope, id(ctx, 'id'), input(ctx.request.body));
  return ctx.reply.send(hookJson(hook, o.base));
}

async function deleteHook(deps: GithubDeps, ctx: RequestContext, o: Resolved): Promise<unknown> {
  await deps.hooks.delete(o.scope, id(ctx, 'id'));
  return ctx.reply.code(204).send();
}

async function pingHook(deps: GithubDeps, ctx: RequestContext, o: Resolved): Promise<unknown> {
  await deps.hooks.ping(o.scope, id(ctx, 'id'));
  return ctx.reply.code(204).send();
}

/** Newest first; `cursor` is the id of the last delivery of the previous page (GitHub's cursor paging). */
async function listDeliveries(deps: GithubDeps, ctx: RequestContext, o: Resolved): Promise<unknown> {
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

async function getDelivery(deps: GithubDeps, ctx: RequestContext, o: Resolved): Promise<unknown> {
  const found = await deps.hooks.delivery(o.scope, id(ctx, 'id'), id(ctx, 'delivery'));
  if (!found) throw notFound();
  return ctx.reply.send(hookDeliveryDetailJson(found.row, found.requestHeaders));
}

async function redeliver(deps: GithubDeps, ctx: RequestContext, o: Resolved): Promise<unknown> {
  await deps.hooks.redeliver(o.scope, id(ctx, 'id'), id(ctx, 'delivery'));
  return ctx.reply.code(202).send({});
}
