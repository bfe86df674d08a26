import { isDigest, parseDigest, type Digest } from './digest.js';
import { manifestInvalid, manifestUnknown, nameInvalid, tagInvalid } from './errors.js';

/** A repository name valid by the distribution spec grammar, with at least OWNER/NAME. */
export type RepoName = string & { readonly __brand: 'RepoName' };
/** A tag valid by the spec's tag grammar. */
export type Tag = string & { readonly __brand: 'Tag' };
export type Reference = { kind: 'tag'; tag: Tag } | { kind: 'digest'; digest: Digest };

// distribution-spec "Pulling manifests": <name> path components.
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Like the reference implementation: the name (without the host) is at most 255 characters. */
export const MAX_NAME_LENGTH = 255;
/** A pull-through mirror's namespace (`dockerhub`): lowercase letters and digits, single dashes inside, so
 * `BERTH_MIRROR_UPSTREAMS_<NAMESPACE>_URL` maps back to it. */
export const MIRROR_NAMESPACE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * A mirror's upstream registry URL as Berth keeps it (no trailing slash); throws saying what is wrong when `text`
 * is not an absolute http or https URL. The configuration and `berth mirror add` check URLs with it alike.
 */
export function parseUpstreamUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${text}" is not an absolute URL (e.g. https://registry-1.docker.io)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`"${text}" must be http or https`);
  return url.toString().replace(/\/+$/, '');
}

/**
 * Who may pull through a mirror: anyone, signed-in users whose credential may read packages, or only such users
 * who are members of one organization (`org:acme`, for a mirror that signs in to a private upstream).
 */
export type MirrorReaders = 'public' | 'signed-in' | `org:${string}`;

/** `value` as MirrorReaders, or null when it is none of them. */
export function parseMirrorReaders(value: string): MirrorReaders | null {
  if (value === 'public' || value === 'signed-in') return value;
  const org = /^org:(.+)$/.exec(value)?.[1];
  return org !== undefined && COMPONENT.test(org.toLowerCase()) ? `org:${org.toLowerCase()}` : null;
}

export function parseRepoName(text: string): RepoName {
  if (text.length === 0) throw nameInvalid('empty name');
  if (text.length > MAX_NAME_LENGTH) throw nameInvalid(`longer than ${MAX_NAME_LENGTH} characters`);
  const parts = text.split('/');
  if (parts.length < 2) throw nameInvalid(`"${text}" must be OWNER/NAME (e.g. acme/api)`);
  for (const part of parts) {
    if (!COMPONENT.test(part)) {
      const hint = /[A-Z]/.test(part) ? ' (repository names must be lowercase)' : '';
      throw nameInvalid(`"${text.slice(0, 300)}" does not match [a-z0-9]+((.|_|__|-+)[a-z0-9]+)*(/...)*${hint}`);
    }
  }
  return text as RepoName;
}

/** The non-throwing twin of parseRepoName, for input that may simply be ignored when invalid. */
export function isRepoName(text: string): boolean {
  try {
    parseRepoName(text);
    return true;
  } catch {
    return false;
  }
}

/** The namespace that owns a repository: its first path component. */
export function repoOwner(name: RepoName): string {
  return name.slice(0, name.indexOf('/'));
}

export function isTag(text: string): boolean {
  return TAG.test(text);
}

export function parseTag(text: string): Tag {
  if (!TAG.test(text)) throw manifestInvalid(`"${text.slice(0, 140)}" is not a valid tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})`);
  return text as Tag;
}

/**
 * A manifest reference is a digest when it contains a colon, a tag otherwise (spec "Pulling manifests"). Anything
 * else names no manifest: reading or deleting it is 404 MANIFEST_UNKNOWN, as distribution and zot answer and the
 * conformance suite expects (`.INVALID_MANIFEST_NAME`); only pushing to it is a client error.
 */
export function parseReference(text: string, use: 'read' | 'push'): Reference {
  if (text.includes(':')) return { kind: 'digest', digest: parseDigest(text) };
  if (!isTag(text)) throw use === 'push' ? tagInvalid(text.slice(0, 140)) : manifestUnknown(text.slice(0, 140));
  return { kind: 'tag', tag: text as Tag };
}

export { isDigest };
