import type { Endpoint, GithubDeps, RequestContext } from './github-context.js';
import { notFound } from './github-errors.js';
import { OWNER_SCOPES, resolveOwner, type OwnerScope } from './owner-scope.js';
import { readablePackage } from './package-routes.js';
import { ownerStatsJson, packageStatsJson, versionStatsJson } from './serializers.js';
import { readableVersion } from './version-routes.js';

/** Berth's README ("Berth-only statistics") documents these; errors point at the GitHub section they extend. */
const DOCS = 'https://docs.github.com/rest/packages/packages';

/**
 * Berth-only statistics under `/api/v3/berth/…` mirroring the package paths (`/api/v3/berth/orgs/acme/packages/
 * container/app/stats`): downloads (total and per day) and storage size, per package and per version. Same
 * authentication, scopes and visibility as reading the package; GitHub's shapes are left untouched. Plus an
 * organization's totals (`/api/v3/berth/orgs/acme/stats`), the numbers of its usage page, for those who may see it.
 */
export function statsRoutes(): Endpoint[] {
  const org = OWNER_SCOPES.find((s) => s.kind === 'org')!;
  const orgStats: Endpoint = {
    method: 'GET', url: '/v3/berth/orgs/:org/stats', docs: DOCS, access: ['read:packages'], what: 'read organization statistics',
    handle: (deps, ctx) => getOwnerStats(deps, ctx, org),
  };
  return [orgStats, ...OWNER_SCOPES.flatMap((scope) => {
    const pkg = `/v3/berth${scope.prefix.slice('/v3'.length)}/packages/:type/:name`;
    return [
      { method: 'GET', url: `${pkg}/stats`, docs: DOCS, access: ['read:packages'], what: 'read packages', handle: (deps, ctx) => getPackageStats(deps, ctx, scope) },
      {
        method: 'GET', url: `${pkg}/versions/:id/stats`, docs: DOCS, access: ['read:packages'], what: 'read packages',
        handle: (deps, ctx) => getVersionStats(deps, ctx, scope),
      },
    ] satisfies Endpoint[];
  })];
}

/**
 * GET /api/v3/berth/orgs/{org}/stats: storage, downloads per day and the most downloaded packages, as on the
 * organization's usage page (same service, same numbers). Its owners and instance admins only; anyone else, and a
 * CI token (limited to one package), gets the 404 of an organization that does not exist.
 */
async function getOwnerStats(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<unknown> {
  const owner = await resolveOwner(deps, ctx, scope);
  const identity = ctx.caller.identity!;
  const viewer = identity.repositoryLimit === null ? await deps.accounts.findById(identity.userId) : null;
  if (!viewer || !(await deps.policy.administers(viewer, owner))) throw notFound();
  return ctx.reply.send(ownerStatsJson(owner, await deps.usage.forOwner(owner, { largest: 0 })));
}

/** GET /api/v3/berth/…/packages/container/{name}/stats */
async function getPackageStats(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<unknown> {
  const { access } = await readablePackage(deps, ctx, scope);
  return ctx.reply.send(packageStatsJson(access.package, await deps.stats.forPackage(access.package)));
}

/** GET /api/v3/berth/…/packages/container/{name}/versions/{id}/stats */
async function getVersionStats(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<unknown> {
  const { access, version } = await readableVersion(deps, ctx, scope);
  return ctx.reply.send(versionStatsJson(access.package, version, await deps.stats.forVersion(access.package, version)));
}
