import { BerthError } from '../util/errors.js';

/**
 * Why a package operation was refused. The messages follow GitHub's where GitHub has one (docs "Deleting and
 * restoring a package"), and say what to do otherwise; each surface renders them in its own error shape.
 */
export const packageNotFound = (): BerthError => new BerthError({ status: 404, code: 'PACKAGE_NOT_FOUND', message: 'Package not found.' });

export const versionNotFound = (): BerthError => new BerthError({ status: 404, code: 'VERSION_NOT_FOUND', message: 'Package version not found.' });

export const downloadLimit = (what: 'package' | 'version', limit: number): BerthError => new BerthError({
  status: 400,
  code: 'DOWNLOAD_LIMIT',
  message: what === 'package'
    ? `Publicly visible packages with a version with more than ${limit} downloads cannot be deleted. An instance admin can raise packages.deleteDownloadLimit.`
    : `Publicly visible package versions with more than ${limit} downloads cannot be deleted. An instance admin can raise packages.deleteDownloadLimit.`,
});

export const lastVersion = (): BerthError => new BerthError({
  status: 400, code: 'LAST_VERSION', message: 'You cannot delete the last version of a package. You must delete the package instead.',
});

export const nameReused = (name: string): BerthError => new BerthError({
  status: 409,
  code: 'NAME_REUSED',
  message: `The package name ${name} was used by a new package after this one was deleted; delete the new package first to restore this one.`,
});
