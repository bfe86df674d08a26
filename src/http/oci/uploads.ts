import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseDigest } from '../../oci/digest.js';
import { digestInvalid, uploadOutOfOrder } from '../../oci/errors.js';
import { isRepoName, parseRepoName, type RepoName } from '../../oci/names.js';
import type { Registry } from '../../registry/registry.js';
import { hasBody, query, type OciHandler } from './context.js';

type UploadsRoute = { name: RepoName };
type UploadRoute = { name: RepoName; uploadId: string };

/**
 * POST /v2/<name>/blobs/uploads/ — spec "Pushing blobs": `?mount=&from=` mounts, `?digest=` is a monolithic
 * upload, otherwise a session starts.
 */
export const startUpload: OciHandler<UploadsRoute> = async (deps, route, request, reply) => {
  const { registry, access } = deps;
  const pusher = await access.userId(request);
  const mount = query(request, 'mount');
  if (mount !== undefined) {
    const digest = parseDigest(mount);
    const fromText = query(request, 'from');
    // An invalid `from` is no reason to fail the push: the spec says fall back to a session.
    const from = fromText !== undefined && isRepoName(fromText) ? parseRepoName(fromText) : null;
    if (fromText === undefined || from !== null) {
      const blob = await registry.blobs.mount(route.name, digest, from, (name) => access.canRead(request, name), pusher);
      if (blob) return created(reply, route.name, blob.digest);
    }
  }
  const digestText = query(request, 'digest');
  if (digestText !== undefined) {
    const digest = parseDigest(digestText);
    const blob = await registry.uploads.putMonolithic(route.name, digest, request.raw, pusher);
    return created(reply, route.name, blob.digest);
  }
  const session = await registry.uploads.start(route.name, pusher);
  return progress(reply, route.name, session.id, session.size, 202)
    .header('OCI-Chunk-Min-Length', deps.limits.chunkMinLength)
    .send();
};

/** PATCH — a chunk with `Content-Range: start-end`, or a streamed body without one. */
export const patchUpload: OciHandler<UploadRoute> = async ({ registry }, route, request, reply) => {
  const range = await chunkRange(registry, route, request);
  // The service checks the range starts at the session's offset, under the session's lock.
  const status = await registry.uploads.append(route.name, route.uploadId, request.raw, range);
  return progress(reply, route.name, status.id, status.size, 202).send();
};

/** PUT ?digest= — closes the session, with or without a final chunk (whose Content-Range is checked like a PATCH's). */
export const finishUpload: OciHandler<UploadRoute> = async ({ registry }, route, request, reply) => {
  const digestText = query(request, 'digest');
  if (digestText === undefined) throw digestInvalid('closing an upload needs ?digest=<algorithm>:<hex>');
  const digest = parseDigest(digestText);
  const body = hasBody(request);
  const range = body ? await chunkRange(registry, route, request) : null;
  const blob = await registry.uploads.finish(route.name, route.uploadId, digest, body ? request.raw : null, range);
  return created(reply, route.name, blob.digest);
};

/** The chunk's Content-Range, if any; a malformed one, or one that disagrees with Content-Length, is 416. */
async function chunkRange(
  registry: Registry, route: UploadRoute, request: FastifyRequest,
): Promise<{ start: number; end: number } | null> {
  const header = request.headers['content-range'];
  const range = header === undefined ? null : parseContentRange(header);
  const length = request.headers['content-length'];
  if (range === 'invalid' || (range && length !== undefined && Number(length) !== range.end - range.start + 1)) {
    const current = await registry.uploads.status(route.name, route.uploadId);
    throw uploadOutOfOrder(current.size);
  }
  return range;
}

/** GET — where the session stands, for a client resuming it. */
export const getUploadStatus: OciHandler<UploadRoute> = async ({ registry }, route, _request, reply) => {
  const status = await registry.uploads.status(route.name, route.uploadId);
  return progress(reply, route.name, status.id, status.size, 204).send();
};

/** DELETE — cancels the session and drops its data. */
export const cancelUpload: OciHandler<UploadRoute> = async ({ registry }, route, _request, reply) => {
  await registry.uploads.cancel(route.name, route.uploadId);
  return reply.code(204).send();
};

function created(reply: FastifyReply, name: RepoName, digest: string): FastifyReply {
  return reply.code(201)
    .header('Location', `/v2/${name}/blobs/${digest}`)
    .header('Docker-Content-Digest', digest)
    .header('Content-Length', 0)
    .send();
}

/** `Range` is inclusive (`0-<last byte>`); an empty session reports `0-0` as the reference implementation does. */
function progress(reply: FastifyReply, name: RepoName, id: string, size: number, status: 202 | 204): FastifyReply {
  return reply.code(status)
    .header('Location', `/v2/${name}/blobs/uploads/${id}`)
    .header('Range', `0-${Math.max(size - 1, 0)}`)
    .header('Docker-Upload-UUID', id)
    .header('Content-Length', 0);
}

/** `start-end` as the spec writes it; `bytes start-end` / `bytes=start-end` are tolerated. */
function parseContentRange(header: string): { start: number; end: number } | 'invalid' {
  const m = /^(?:bytes[ =])?\s*(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  const start = Number(m?.[1]);
  const end = Number(m?.[2]);
  if (!m || !Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return 'invalid';
  return { start, end };
}

