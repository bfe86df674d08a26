import type { FastifyRequest } from 'fastify';
import type { Account } from '../../accounts/account-service.js';
import type { PackageAccess } from '../../packages/package-service.js';
import { paramOf, viewerOf, type UiDeps } from './ui-context.js';
import { pageNotFound } from './ui-errors.js';

/** The two owner forms of the package pages: `/orgs/{org}/…` and `/users/{user}/…`. */
export type OwnerKind = 'org' | 'user';
export const OWNER_KINDS: readonly { kind: OwnerKind; prefix: string }[] = [
  { kind: 'org', prefix: '/orgs/:org' },
  { kind: 'user', prefix: '/users/:user' },
];

/** The account the path names, of the right kind; otherwise 404 (an org under /users is not found, and vice versa). */
export async function ownerOf(deps: UiDeps, request: FastifyRequest, kind: OwnerKind): Promise<Account> {
  const owner = await deps.accounts.find(paramOf(request, kind));
  if (!owner || owner.type !== kind) throw pageNotFound();
  return owner;
}

/**
 * The live package the path names, if the viewer may read it: the same decision as the REST API's (a signed-in
 * user acts with every scope, so their roles decide; visitors see public packages). Otherwise 404, whether it
 * does not exist or is private to others.
 */
export async function readablePackage(deps: UiDeps, request: FastifyRequest, kind: OwnerKind): Promise<{ owner: Account; access: PackageAccess }> {
  const owner = await ownerOf(deps, request, kind);
  const access = await deps.packages.find(owner, paramOf(request, 'name'), viewerOf(request).subject);
  if (!access?.operations.has('read')) throw pageNotFound();
  return { owner, access };
}

/**
 * Whether the viewer administers the package. With every scope, `delete` is allowed exactly to the package's
 * admins (its owner, the organization's owners, admin grants, instance admins): the permission model decides.
 */
export function isPackageAdmin(access: PackageAccess): boolean {
  return access.operations.has('delete');
}
