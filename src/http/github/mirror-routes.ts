import type { UpstreamSummary } from '../../mirror/mirror-service.js';
import { checkAccess } from './github-auth.js';
import { param, type Endpoint, type GithubDeps, type RequestContext } from './github-context.js';
import { notFound } from './github-errors.js';
import { linkHeader, readPage } from './pagination.js';
import { cachedPackageJson, mirrorJson } from './serializers.js';

/** Berth's README ("Pull-through cache") documents these; errors point at the GitHub section they resemble. */
const DOCS = 'https://docs.github.com/rest/packages/packages';

/**
 * Berth-only views of the pull-through caches under `/api/v3/berth/mirrors`: the upstreams with their numbers, and
 * each namespace's cached repositories with their upstream, size and last pull. Each mirror is shown to whom its
 * access lets pull through it (anyone, tokens with read:packages, or an organization's members).
 */
export function mirrorRoutes(): Endpoint[] {
  return [
    { method: 'GET', url: '/v3/berth/mirrors', docs: DOCS, access: 'public', handle: listMirrors },
    { method: 'GET', url: '/v3/berth/mirrors/:namespace', docs: DOCS, access: 'public', handle: getMirror },
    { method: 'GET', url: '/v3/berth/mirrors/:namespace/packages', docs: DOCS, access: 'public', handle: listCachedPackages },
  ];
}

/**
 * The upstreams the caller may pull through (each mirror's access). When there are mirrors but none of them, a 401
 * or missing-scope answer instead, as for packages; one the caller may not pull through is not found.
 */
async function visibleUpstreams(deps: GithubDeps, ctx: RequestContext): Promise<UpstreamSummary[]> {
  const all = await deps.mirror.service.upstreams();
  const visible = await deps.policy.mirrorsPullableBy(ctx.caller.subject, all);
  if (all.length > 0 && visible.length === 0) checkAccess(ctx, ['read:packages'], 'read mirrors');
  return visible;
}

/** GET /api/v3/berth/mirrors: the upstreams the caller may pull through, in namespace order. */
async function listMirrors(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const { mirror } = deps;
  const upstreams = await visibleUpstreams(deps, ctx);
  const summaries = await mirror.packages.summaries(upstreams.map((u) => u.namespace));
  return ctx.reply.send(upstreams.map((u, i) => mirrorJson(ctx.urls, u, summaries[i]!, mirror.service.counts(u.namespace))));
}

/** GET /api/v3/berth/mirrors/{namespace} */
async function getMirror(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const { mirror } = deps;
  const upstream = (await visibleUpstreams(deps, ctx)).find((u) => u.namespace === param(ctx.request, 'namespace'));
  if (!upstream) throw notFound();
  const [summary] = await mirror.packages.summaries([upstream.namespace]);
  return ctx.reply.send(mirrorJson(ctx.urls, upstream, summary!, mirror.service.counts(upstream.namespace)));
}

/** GET /api/v3/berth/mirrors/{namespace}/packages: cached repositories by name, paged like package lists. */
async function listCachedPackages(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const { mirror } = deps;
  const upstream = (await visibleUpstreams(deps, ctx)).find((u) => u.namespace === param(ctx.request, 'namespace'));
  if (!upstream) throw notFound();
  const page = readPage(ctx.request);
  const { total, repositories } = await mirror.packages.list(upstream.namespace, page);
  const link = linkHeader(ctx.urls.web, ctx.request, page, total);
  if (link) ctx.reply.header('Link', link);
  return ctx.reply.send(repositories.map((r) => cachedPackageJson(upstream.url, mirror.service.remoteOf(r.name) ?? r.name, r)));
}
