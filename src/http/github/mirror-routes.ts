import { mirrorActions } from '../../auth/mirror-access.js';
import { checkAccess } from './github-auth.js';
import { param, type Endpoint, type GithubDeps, type RequestContext } from './github-context.js';
import { notFound } from './github-errors.js';
import { linkHeader, readPage } from './pagination.js';
import { cachedPackageJson, mirrorJson } from './serializers.js';

/** Berth's README ("Pull-through cache") documents these; errors point at the GitHub section they resemble. */
const DOCS = 'https://docs.github.com/rest/packages/packages';

/**
 * Berth-only views of the pull-through caches under `/api/v3/berth/mirrors`: the upstreams with their numbers, and
 * each namespace's cached repositories with their upstream, size and last pull. Readable by whom `mirror.access`
 * lets pull through the mirrors (anyone, or tokens with read:packages); upstreams are configured, not edited here.
 */
export function mirrorRoutes(): Endpoint[] {
  return [
    { method: 'GET', url: '/v3/berth/mirrors', docs: DOCS, access: 'public', handle: listMirrors },
    { method: 'GET', url: '/v3/berth/mirrors/:namespace', docs: DOCS, access: 'public', handle: getMirror },
    { method: 'GET', url: '/v3/berth/mirrors/:namespace/packages', docs: DOCS, access: 'public', handle: listCachedPackages },
  ];
}

/** The mirror services, once the caller may read them (a 401 or missing-scope answer otherwise, as for packages). */
function readableMirrors(deps: GithubDeps, ctx: RequestContext): GithubDeps['mirror'] {
  if (!mirrorActions(ctx.caller.subject, deps.mirror.service.access).has('pull')) checkAccess(ctx, ['read:packages'], 'read mirrors');
  return deps.mirror;
}

/** GET /api/v3/berth/mirrors: every upstream, in namespace order ([] when there is none). */
async function listMirrors(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const mirror = readableMirrors(deps, ctx);
  const upstreams = await mirror.service.upstreams();
  const summaries = await mirror.packages.summaries(upstreams.map((u) => u.namespace));
  return ctx.reply.send(upstreams.map((u, i) => mirrorJson(ctx.urls, u, mirror.service.access, summaries[i]!, mirror.service.counts(u.namespace))));
}

/** GET /api/v3/berth/mirrors/{namespace} */
async function getMirror(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const mirror = readableMirrors(deps, ctx);
  const upstream = (await mirror.service.upstreams()).find((u) => u.namespace === param(ctx.request, 'namespace'));
  if (!upstream) throw notFound();
  const [summary] = await mirror.packages.summaries([upstream.namespace]);
  return ctx.reply.send(mirrorJson(ctx.urls, upstream, mirror.service.access, summary!, mirror.service.counts(upstream.namespace)));
}

/** GET /api/v3/berth/mirrors/{namespace}/packages: cached repositories by name, paged like package lists. */
async function listCachedPackages(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const mirror = readableMirrors(deps, ctx);
  const upstream = (await mirror.service.upstreams()).find((u) => u.namespace === param(ctx.request, 'namespace'));
  if (!upstream) throw notFound();
  const page = readPage(ctx.request);
  const { total, repositories } = await mirror.packages.list(upstream.namespace, page);
  const link = linkHeader(ctx.urls.web, ctx.request, page, total);
  if (link) ctx.reply.header('Link', link);
  return ctx.reply.send(repositories.map((r) => cachedPackageJson(upstream.url, mirror.service.remoteOf(r.name) ?? r.name, r)));
}
