import type { Account } from '../../accounts/account-service.js';
import type { Visibility } from '../../auth/permissions.js';
import { packageNotFound } from '../../packages/package-errors.js';
import type { PackageAccess } from '../../packages/package-service.js';
import { param, queryParam, type Endpoint, type GithubDeps, type RequestContext } from './github-context.js';
import { adminRequired, badRequest, invalidRequest } from './github-errors.js';
import { OWNER_SCOPES, resolveOwner, type OwnerScope } from './owner-scope.js';
import { linkHeader, readPage } from './pagination.js';
import { packageJson } from './serializers.js';

const DOCS = 'https://docs.github.com/rest/packages/packages';
/** GitHub's `package_type` enum; Berth holds container packages only. */
const PACKAGE_TYPES = ['npm', 'maven', 'rubygems', 'docker', 'nuget', 'container'];
const VISIBILITIES: readonly Visibility[] = ['public', 'private', 'internal'];

/** The package endpoints (list, get, delete, restore) in their org, authenticated-user and user forms. */
export function packageRoutes(): Endpoint[] {
  return OWNER_SCOPES.flatMap((scope) => [
    {
      method: 'GET', url: `${scope.prefix}/packages`, docs: `${DOCS}#list-packages-${listAnchor(scope)}`,
      access: ['read:packages'], bots: true, what: 'list packages', handle: (deps, ctx) => listPackages(deps, ctx, scope),
    },
    {
      method: 'GET', url: `${scope.prefix}/packages/:type/:name`, docs: `${DOCS}#get-a-package-${scope.docs}`,
      access: ['read:packages'], bots: true, what: 'read packages', handle: (deps, ctx) => getPackage(deps, ctx, scope),
    },
    {
      method: 'DELETE', url: `${scope.prefix}/packages/:type/:name`, docs: `${DOCS}#delete-a-package-${scope.docs}`,
      access: ['read:packages', 'delete:packages'], what: 'delete packages', handle: (deps, ctx) => deletePackage(deps, ctx, scope),
    },
    {
      method: 'POST', url: `${scope.prefix}/packages/:type/:name/restore`, docs: `${DOCS}#restore-a-package-${scope.docs}`,
      access: ['read:packages', 'write:packages'], what: 'restore packages', handle: (deps, ctx) => restorePackage(deps, ctx, scope),
    },
    {
      method: 'GET', url: `${scope.prefix}/docker/conflicts`,
      docs: `${DOCS}#get-list-of-conflicting-packages-during-docker-migration-${scope.kind === 'org' ? 'for-organization' : scope.kind === 'me' ? 'for-authenticated-user' : 'for-user'}`,
      access: ['read:packages'], what: 'list packages', handle: listDockerConflicts,
    },
  ] satisfies Endpoint[]);
}

function listAnchor(scope: OwnerScope): string {
  return scope.kind === 'org' ? 'for-an-organization' : scope.kind === 'me' ? 'for-the-authenticated-users-namespace' : 'for-a-user';
}

/** GET …/packages?package_type=container — "List packages for an organization / a user / your namespace". */
async function listPackages(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<unknown> {
  const type = queryParam(ctx.request, 'package_type');
  if (type === null || type === '') throw invalidRequest('"package_type" wasn\'t supplied.');
  if (!PACKAGE_TYPES.includes(type)) throw invalidRequest(`"${type.slice(0, 40)}" is not a valid package_type (one of ${PACKAGE_TYPES.join(', ')}).`);
  if (type !== 'container') throw badRequest(`Berth holds container packages only; package_type=${type} is not supported. Use package_type=container.`);
  const visibility = queryParam(ctx.request, 'visibility');
  if (visibility !== null && !(VISIBILITIES as readonly string[]).includes(visibility)) {
    throw invalidRequest(`"${visibility.slice(0, 40)}" is not a valid visibility (one of ${VISIBILITIES.join(', ')}).`);
  }
  const page = readPage(ctx.request);
  const owner = await resolveOwner(deps, ctx, scope);
  const { packages, total } = await deps.packages.list(owner, ctx.caller.subject, {
    ...(visibility === null ? {} : { visibility: visibility as Visibility }), ...page,
  });
  const link = linkHeader(ctx.urls.web, ctx.request, page, total);
  if (link) ctx.reply.header('Link', link);
  return ctx.reply.send(packages.map((p) => packageJson(p, owner, ctx.urls, ctx.caller.identity?.userId ?? null)));
}

/** GET …/packages/container/{name} — "Get a package". */
async function getPackage(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<unknown> {
  const { owner, access } = await readablePackage(deps, ctx, scope);
  return ctx.reply.send(packageJson(access.package, owner, ctx.urls, ctx.caller.identity?.userId ?? null));
}

/**
 * DELETE …/packages/container/{name} — "Delete a package": admin of the package (org packages: org owners are
 * admins of all), a token with read+delete:packages; public packages past the download limit stay.
 */
async function deletePackage(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<unknown> {
  const { access } = await readablePackage(deps, ctx, scope);
  if (!access.operations.has('delete')) throw adminRequired('delete it', isCiToken(ctx));
  await deps.packages.delete(access.package);
  return ctx.reply.code(204).send();
}

/** POST …/packages/container/{name}/restore — "Restore a package" deleted less than the restore window ago. */
async function restorePackage(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<unknown> {
  const owner = await resolveOwner(deps, ctx, scope);
  const access = isContainer(ctx) ? await deps.packages.findDeleted(owner, param(ctx.request, 'name'), ctx.caller.subject) : null;
  if (!access?.operations.has('read')) throw packageNotFound();
  if (!access.operations.has('restore')) throw adminRequired('restore it', isCiToken(ctx));
  await deps.packages.restore(access.package);
  return ctx.reply.code(204).send();
}

/** GET …/docker/conflicts — packages that could not migrate from docker.pkg.github.com: Berth never had any. */
async function listDockerConflicts(_deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  return ctx.reply.send([]);
}

/**
 * The live package the route names, which the caller may read: otherwise 404, whether it does not exist or is
 * private to others (GitHub never reveals a private package). Only `container` packages exist in Berth.
 */
export async function readablePackage(deps: GithubDeps, ctx: RequestContext, scope: OwnerScope): Promise<{ owner: Account; access: PackageAccess }> {
  const owner = await resolveOwner(deps, ctx, scope);
  const access = isContainer(ctx) ? await deps.packages.find(owner, param(ctx.request, 'name'), ctx.caller.subject) : null;
  if (!access?.operations.has('read')) throw packageNotFound();
  return { owner, access };
}

/** Whether the caller authenticated with a CI token (limited to one package). */
export function isCiToken(ctx: RequestContext): boolean {
  return (ctx.caller.identity?.repositoryLimit ?? null) !== null;
}

function isContainer(ctx: RequestContext): boolean {
  return param(ctx.request, 'type') === 'container';
}
