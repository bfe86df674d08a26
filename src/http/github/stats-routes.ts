import type { Endpoint, GithubDeps, RequestContext } from './github-context.js';
import { OWNER_SCOPES, type OwnerScope } from './owner-scope.js';
import { readablePackage } from './package-routes.js';
import { packageStatsJson, versionStatsJson } from './serializers.js';
import { readableVersion } from './version-routes.js';

/** Berth's README ("Berth-only statistics") documents these; errors point at the GitHub section they extend. */
const DOCS = 'https://docs.github.com/rest/packages/packages';

/**
 * Berth-only statistics under `/api/v3/berth/…` mirroring the package paths (`/api/v3/berth/orgs/acme/packages/
 * container/app/stats`): downloads (total and per day) and storage size, per package and per version. Same
 * authentication, scopes and visibility as reading the package; GitHub's shapes are left untouched.
 */
export function statsRoutes(): Endpoint[] {
  return OWNER_SCOPES.flatMap((scope) => {
    const pkg = `/v3/berth${scope.prefix.slice('/v3'.length)}/packages/:type/:name`;
    return [
      { method: 'GET', url: `${pkg}/stats`, docs: DOCS, access: ['read:packages'], what: 'read packages', handle: (deps, ctx) => getPackageStats(deps, ctx, scope) },
      {
        method: 'GET', url: `${pkg}/versions/:id/stats`, docs: DOCS, access: ['read:packages'], what: 'read packages',
        handle: (deps, ctx) => getVersionStats(deps, ctx, scope),
      },
    ] satisfies Endpoint[];
  });
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
