import type { Owner } from '../../packages/package-service.js';

/**
 * The web UI's paths, the same ones GitHub uses and the REST API's `html_url`s name (serializers.ts): nested
 * package names percent-encoded (`team%2Fapi`).
 */
export function ownerPath(owner: Pick<Owner, 'login' | 'type'>): string {
  return `/${owner.type === 'org' ? 'orgs' : 'users'}/${owner.login}`;
}

export function ownerPackagesUrl(owner: Pick<Owner, 'login' | 'type'>): string {
  return `${ownerPath(owner)}/packages`;
}

export function packageUrl(owner: Pick<Owner, 'login' | 'type'>, name: string): string {
  return `${ownerPath(owner)}/packages/container/package/${encodeURIComponent(name)}`;
}

export function versionUrl(owner: Pick<Owner, 'login' | 'type'>, name: string, versionId: number): string {
  return `${ownerPath(owner)}/packages/container/${encodeURIComponent(name)}/${versionId}`;
}

export function packageSettingsUrl(owner: Pick<Owner, 'login' | 'type'>, name: string): string {
  return `${ownerPath(owner)}/packages/container/${encodeURIComponent(name)}/settings`;
}

/** The versions page (GHCR's `/versions`): every version, filtered by `?filter=tagged|untagged`. */
export function versionsUrl(owner: Pick<Owner, 'login' | 'type'>, name: string): string {
  return `${ownerPath(owner)}/packages/container/${encodeURIComponent(name)}/versions`;
}
