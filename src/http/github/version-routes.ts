import type { Account } from '../../accounts/account-service.js';
import { versionNotFound } from '../../packages/package-errors.js';
import type { PackageAccess } from '../../packages/package-service.js';
import type { VersionInfo, VersionState } from '../../packages/version-service.js';
import { param, queryParam, type Endpoint, type GithubDeps, type RequestContext } from './github-context.js';
import { adminRequired, invalidRequest } from './github-errors.js';
import { OWNER_SCOPES, type OwnerScope } from './owner-scope.js';
import { isCiToken, readablePackage } from './package-routes.js';
import { linkHeader, readPage } from './pagination.js';
import { versionJson } from './serializers.js';

const DOCS = 'https://docs.github.com/rest/packages/packages';

/** The package version endpoints (list, get, delete, restore) in their three owner forms. */
export function versionRoutes(): Endpoint[] {
  return OWNER_SCOPES.flatMap((scope) => {
    const versions = `${scope.prefix}/packages/:type/:name/versions`;
    const owned = scope.kind === 'org' ? 'an-organization' : scope.kind === 'me' ? 'the-authenticated-user' : 'a-user';
    // GitHub's anchors are irregular: "delete-package-version-for-an-organization" but "…-a-package-version-for-the-authenticated-user".
    const article = scope.kind === 'me' ? 'a-' : '';
    return [
      {
        method: 'GET', url: versions, docs: `${DOCS}#list-package-versions-for-a-package-owned-by-${owned}`,
        access: ['read:packages'], bots: true, what: 'list package versions', handle: (deps, ctx) => listVersions(deps, ctx, scope),
      },
      {
        method: 'GET', url: `${versions}/:id`, docs: `${DOCS}#get-a-package-version-${scope.docs}`,
        access: ['read:packages'], bots: true, what: 'read package versions', handle: (deps, ctx) => getVersion(deps, ctx, scope),
      },
      {
        method: 'DELETE', url: `${versions}/:id`, docs: `${DOCS}#delete-${article}package-version-${scope.docs}`,
        access: ['read:packages', 'delete:packages'], what: 'delete package versions', handle: (deps, ctx) => deleteVersion(deps, ctx, scope),
      },
      {
        method: 'POST', url: `${versions}/:id/restore`, docs: `${DOCS}#restore-${article}package-version-${scope.docs}`,
        access: ['read:packages', 'write:packages'], what: 'restore package versions', handle: (deps, ctx) => restoreVersion(deps, ctx, scope),
      },
    ] satisfies Endpoint[];
  });
}

/** GET …/versions?state=active|deleted — "List package versions", newest first, paginated with `Link`. */
async function listVersions(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<unknown> {
  const state = queryParam(ctx.request, 'state') ?? 'active';
  if (state !== 'active' && state !== 'deleted') throw invalidRequest(`"${state.slice(0, 40)}" is not a valid state (active or deleted).`);
  const page = readPage(ctx.request);
  const { owner, access } = await readablePackage(deps, ctx, scope);
  const { versions, total } = await deps.versions.list(access.package, state as VersionState, page.page, page.perPage);
  const link = linkHeader(ctx.urls.web, ctx.request, page, total);
  if (link) ctx.reply.header('Link', link);
  return ctx.reply.send(versions.map((v) => versionJson(v, access.package, owner, ctx.urls)));
}

/** GET …/versions/{package_version_id} — "Get a package version" (one manifest digest). */
async function getVersion(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<unknown> {
  const { owner, access, version } = await readableVersion(deps, ctx, scope);
  return ctx.reply.send(versionJson(version, access.package, owner, ctx.urls));
}

/**
 * DELETE …/versions/{id} — "Delete a package version": admin role and read+delete:packages. Its tags go with it
 * (kept aside for a restore); not the package's last version; not a public version past the download limit.
 */
async function deleteVersion(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<unknown> {
  const { access, version } = await readableVersion(deps, ctx, scope);
  if (!access.operations.has('delete')) throw adminRequired('delete its versions', isCiToken(ctx));
  await deps.versions.delete(access.package, version);
  return ctx.reply.code(204).send();
}

/** POST …/versions/{id}/restore — "Restore a package version" deleted less than the restore window ago. */
async function restoreVersion(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<unknown> {
  const { access } = await readablePackage(deps, ctx, scope);
  const id = versionId(ctx);
  if (id === null) throw versionNotFound();
  if (!access.operations.has('restore')) throw adminRequired('restore its versions', isCiToken(ctx));
  await deps.versions.restore(access.package, id);
  return ctx.reply.code(204).send();
}

export async function readableVersion(
  deps: GithubDeps, ctx: RequestContext, scope: OwnerScope,
): Promise<{ owner: Account; access: PackageAccess; version: VersionInfo }> {
  const { owner, access } = await readablePackage(deps, ctx, scope);
  const id = versionId(ctx);
  const version = id === null ? null : await deps.versions.get(access.package, id);
  if (!version) throw versionNotFound();
  return { owner, access, version };
}

function versionId(ctx: RequestContext): number | null {
  const text = param(ctx.request, 'id');
  return /^\d{1,15}$/.test(text) ? Number(text) : null;
}
