import { parseDigest, type Digest } from '../../oci/digest.js';
import { parseReference, parseRepoName, type Reference, type RepoName } from '../../oci/names.js';
import { uploadUnknown } from '../../oci/errors.js';

/**
 * What a /v2 path addresses. Repository names contain slashes, so the router matches `/v2/*` and this parser reads
 * the tail from its end (spec "Endpoints" end-1 … end-13). The raw (still percent-encoded) path is parsed, so
 * an encoded slash or dot can never smuggle a different name past the grammar.
 */
export type OciRoute =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: RepoName }
  | { kind: 'manifest'; name: RepoName; reference: Reference }
  | { kind: 'blob'; name: RepoName; digest: Digest }
  | { kind: 'uploads'; name: RepoName }
  | { kind: 'upload'; name: RepoName; uploadId: string }
  | { kind: 'referrers'; name: RepoName; digest: Digest };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Returns null for a path that is no /v2 endpoint at all. `method` decides how a bad manifest reference fails. */
export function parseOciPath(tail: string, method: string): OciRoute | null {
  if (tail === '' ) return { kind: 'base' };
  if (tail === '_catalog') return { kind: 'catalog' };
  let m: RegExpExecArray | null;
  if ((m = /^(.+)\/tags\/list$/.exec(tail))) return { kind: 'tags', name: parseRepoName(m[1]!) };
  if ((m = /^(.+)\/blobs\/uploads\/?$/.exec(tail))) return { kind: 'uploads', name: parseRepoName(m[1]!) };
  if ((m = /^(.+)\/blobs\/uploads\/([^/]+)$/.exec(tail))) {
    const name = parseRepoName(m[1]!);
    if (!UUID.test(m[2]!)) throw uploadUnknown(m[2]!.slice(0, 100));
    return { kind: 'upload', name, uploadId: m[2]! };
  }
  if ((m = /^(.+)\/blobs\/([^/]+)$/.exec(tail))) return { kind: 'blob', name: parseRepoName(m[1]!), digest: parseDigest(m[2]!) };
  if ((m = /^(.+)\/manifests\/([^/]+)$/.exec(tail))) {
    const name = parseRepoName(m[1]!);
    return { kind: 'manifest', name, reference: parseReference(m[2]!, method === 'PUT' ? 'push' : 'read') };
  }
  if ((m = /^(.+)\/referrers\/([^/]+)$/.exec(tail))) return { kind: 'referrers', name: parseRepoName(m[1]!), digest: parseDigest(m[2]!) };
  return null;
}
