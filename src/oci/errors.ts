import { BerthError } from '../util/errors.js';
import { formatByteSize } from '../util/byte-size.js';

/**
 * The OCI distribution error catalogue (spec "Error Codes"). Each situation's status is decided here, once;
 * handlers throw these and the /v2 error handler writes `{"errors":[{code,message,detail}]}`.
 */
function oci(status: number, code: string, message: string, detail?: unknown, headers?: Record<string, string>): BerthError {
  return new BerthError({ status, code, message, detail, headers });
}

export const blobUnknown = (digest: string): BerthError => oci(404, 'BLOB_UNKNOWN', 'blob unknown to registry', { digest });
/** A blob whose stored copy failed an integrity check (quarantined): unknown until it is pushed again. */
export const blobQuarantined = (digest: string): BerthError =>
  oci(404, 'BLOB_UNKNOWN', 'blob unknown to registry: its stored copy failed an integrity check; push it again', { digest });
export const uploadInvalid = (message: string): BerthError => oci(400, 'BLOB_UPLOAD_INVALID', message);
/** Chunk does not start at the session's current offset: 416 with the offset the client should resume from. */
export const uploadOutOfOrder = (offset: number): BerthError =>
  oci(416, 'BLOB_UPLOAD_INVALID', `chunk must start at offset ${offset}`, { offset }, { Range: `0-${Math.max(offset - 1, 0)}` });
export const uploadUnknown = (id: string): BerthError => oci(404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid: id });
export const digestInvalid = (message: string, detail?: unknown): BerthError => oci(400, 'DIGEST_INVALID', message, detail);
export const manifestBlobUnknown = (digest: string): BerthError =>
  oci(400, 'MANIFEST_BLOB_UNKNOWN', 'manifest references a blob or manifest unknown to this repository', { digest });
export const manifestInvalid = (reason: string): BerthError => oci(400, 'MANIFEST_INVALID', `manifest invalid: ${reason}`);
export const manifestUnknown = (reference: string): BerthError => oci(404, 'MANIFEST_UNKNOWN', 'manifest unknown to registry', { reference });
/**
 * A push to a reference that is neither a tag nor a digest. The code TAG_INVALID (spec 1.0) left the catalogue in
 * 1.1, whose codes a body MUST use, so this answers with the closest one left.
 */
export const tagInvalid = (reference: string): BerthError =>
  oci(400, 'MANIFEST_INVALID', `"${reference}" is neither a tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}) nor a digest`, { reference });
export const nameInvalid = (reason: string): BerthError => oci(400, 'NAME_INVALID', `invalid repository name: ${reason}`);
export const nameUnknown = (name: string): BerthError => oci(404, 'NAME_UNKNOWN', 'repository name not known to registry', { name });
export const sizeInvalid = (message: string): BerthError => oci(400, 'SIZE_INVALID', message);
export const tooLarge = (limit: number): BerthError =>
  oci(413, 'SIZE_INVALID', `body exceeds the limit of ${limit} bytes`, { limit });
export const unauthorized = (message: string, challenge: string): BerthError =>
  oci(401, 'UNAUTHORIZED', message, undefined, { 'WWW-Authenticate': challenge });
export const denied = (message: string): BerthError => oci(403, 'DENIED', message);
/**
 * An immutable-tag rule refuses moving `tag` to another digest (a push) or deleting what it points at. DENIED:
 * docker, podman and skopeo print the message of a 403 answer, so it says what to do. The REST API and the UI
 * show the same message.
 */
export const tagImmutable = (tag: string, repository: string, rule: string, attempt: keyof typeof IMMUTABLE_HINT): BerthError =>
  oci(403, 'DENIED', `tag ${tag} is immutable in ${repository} (rule ${rule}): ${IMMUTABLE_HINT[attempt]}`, { tag, repository, rule });
const IMMUTABLE_HINT = {
  move: 'push a new tag',
  'delete-tag': 'it cannot be deleted',
  'delete-version': 'the image it points at cannot be deleted',
} as const;
/**
 * A storage quota refuses a push (registry/storage-usage.ts). DENIED with 403, as for immutable tags: the OCI spec
 * has no quota code (distribution has none either), and docker, podman and skopeo print a 403's message. `who` is
 * the owner, or `owner/package` for a package quota; `used` is what the push would make it (or already is).
 */
export const quotaExceeded = (who: string, used: number, limit: number, attempt: 'push' | 'upload'): BerthError => oci(403, 'DENIED',
  `${who} is over its storage quota: ${attempt === 'push' ? 'this push would make it ' : ''}${formatByteSize(used)} used of ${formatByteSize(limit)}; `
  + 'delete versions or ask an admin to raise it', { who, used, limit });
export const unsupported = (message: string): BerthError => oci(405, 'UNSUPPORTED', message);
export const tooManyRequests = (retryAfterSeconds: number): BerthError =>
  oci(429, 'TOOMANYREQUESTS', 'too many requests', undefined, { 'Retry-After': String(retryAfterSeconds) });
/** Too many upload sessions open (per user or per repository): 429, and the message says how to get below the cap. */
export const tooManyUploads = (message: string, detail: { open: number; limit: number }): BerthError => oci(429, 'TOOMANYREQUESTS', message, detail);
/** A `Range` outside the blob; the spec has no code of its own for it. */
export const rangeNotSatisfiable = (size: number): BerthError =>
  oci(416, 'SIZE_INVALID', 'requested range not satisfiable', { size }, { 'Content-Range': `bytes */${size}` });
/**
 * Bad `n`/`last`. The reference implementation says PAGINATION_NUMBER_INVALID, but the spec requires one of its own
 * codes ("Error Codes": the code MUST be one of them), and UNSUPPORTED is the closest.
 */
export const paginationInvalid = (message: string): BerthError => oci(400, 'UNSUPPORTED', message);
/** A body the endpoint does not take (not its Content-Type, unparseable, too large); the spec has no code for it. */
export const requestInvalid = (message: string): BerthError => oci(400, 'UNSUPPORTED', message);
/**
 * Refusals at the connection level (Berth's HTTP edge, src/http/connection-guard.ts), written in each surface's
 * shape; the spec has no codes for them, so they take the nearest one.
 */
export const headersTimeout = (seconds: number): BerthError =>
  oci(408, 'UNSUPPORTED', `the request headers did not arrive within ${seconds} s; the connection is closed`);
export const requestTimeout = (seconds: number): BerthError =>
  oci(408, 'UNSUPPORTED', `the request was not received within ${seconds} s of its headers; the connection is closed`);
export const uploadStalled = (seconds: number): BerthError =>
  oci(408, 'BLOB_UPLOAD_INVALID', `no upload data arrived for ${seconds} s; the connection is closed (GET the session for its offset and resume)`);
export const headersTooLarge = (): BerthError => oci(431, 'UNSUPPORTED', 'the request headers are too large');
export const tooManyConnections = (limit: number): BerthError =>
  oci(429, 'TOOMANYREQUESTS', `too many open connections from your address (at most ${limit}); close some and retry`, undefined, {
    'Retry-After': '1', Connection: 'close',
  });
/** A push or delete in a pull-through mirror's namespace (src/mirror/): its content comes only from the upstream. */
export const mirrorReadOnly = (name: string, namespace: string, upstream: string): BerthError => oci(403, 'DENIED',
  `denied: ${name} is in ${namespace}, a read-only pull-through cache of ${upstream}; push to your own namespace instead`,
  { namespace, upstream });
/**
 * The mirror's upstream cannot be asked (down, timing out, or answering 429) and the content is not cached. 503 with
 * the upstream's Retry-After when it gave one; `UNAVAILABLE` is distribution's errcode for 503.
 */
export const upstreamUnavailable = (what: string, upstream: string, reason: string, retryAfterSeconds: number): BerthError => oci(503, 'UNAVAILABLE',
  `the upstream registry ${upstream} is unavailable and ${what} is not cached yet (${reason}); retry later`,
  { upstream }, { 'Retry-After': String(retryAfterSeconds) });
/** The upstream refused the mirror access to a repository (no or wrong credentials, or a private repository). */
export const upstreamDenied = (name: string, reason: string): BerthError => oci(404, 'NAME_UNKNOWN',
  `repository name not known to registry: the upstream refused ${name} (${reason})`, { name });
/** The upstream answered something the mirror will not cache (a digest mismatch, an oversized manifest). */
export const upstreamInvalid = (reason: string): BerthError => oci(502, 'UNKNOWN', `the upstream registry answered badly: ${reason}`);
