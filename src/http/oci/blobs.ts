import type { Digest } from '../../oci/digest.js';
import { rangeNotSatisfiable } from '../../oci/errors.js';
import type { RepoName } from '../../oci/names.js';
import type { ByteRange } from '../../registry/blob-service.js';
import { sendFileRange } from '../send-file.js';
import type { OciHandler } from './context.js';

type BlobRoute = { name: RepoName; digest: Digest };

/** HEAD/GET /v2/<name>/blobs/<digest> — spec "Pulling blobs", with single byte ranges (RFC 9110 §14). */
export const getBlob: OciHandler<BlobRoute> = async ({ registry }, route, request, reply) => {
  const blob = await registry.blobs.stat(route.name, route.digest);
  const range = parseRange(request.headers.range, blob.size);
  // Optional (storage.s3.redirect): the client fetches the bytes, ranges included, from the object store itself.
  const location = request.method === 'GET' ? await registry.blobs.redirectUrl(blob) : null;
  if (location) {
    return reply.code(307).header('Location', location).header('Docker-Content-Digest', blob.digest)
      .header('Cache-Control', 'no-store').header('Content-Length', 0).send();
  }
  // GET: the bytes are opened before any header is set, so a blob that cannot be served (its bytes gone, or found
  // wrong by storage.verifyOnRead before the first byte) gets a plain error, not one carrying the blob's headers.
  // File-backed stores: reused buffers (send-file.ts). Others: the store's stream, piped by Fastify. Either way a
  // full read is checked against the digest when storage.verifyOnRead is on (a range cannot be: not all bytes).
  const file = request.method === 'GET' ? await registry.blobs.openFile(blob, range) : null;
  const stream = request.method === 'GET' && !file ? await registry.blobs.open(blob, range) : null;
  reply.header('Content-Type', 'application/octet-stream')
    .header('Docker-Content-Digest', blob.digest)
    .header('ETag', `"${blob.digest}"`)
    .header('Accept-Ranges', 'bytes')
    .header('Cache-Control', 'max-age=31536000');
  if (range) {
    reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end}/${blob.size}`).header('Content-Length', range.end - range.start + 1);
  } else {
    reply.code(200).header('Content-Length', blob.size);
  }
  if (request.method === 'HEAD') return reply.send();
  if (file) return sendFileRange(reply, file, range?.start ?? 0, range?.end ?? blob.size - 1);
  return reply.send(stream);
};

/** DELETE /v2/<name>/blobs/<digest> — spec "Deleting blobs": unlinks the blob from this repository. */
export const deleteBlob: OciHandler<BlobRoute> = async ({ registry }, route, _request, reply) => {
  await registry.blobs.unlink(route.name, route.digest);
  return reply.code(202).header('Content-Length', 0).send();
};

/**
 * `bytes=a-b`, `bytes=a-`, `bytes=-n`. Other units are ignored (full body, as RFC 9110 allows); a bytes range that
 * is malformed, multiple or outside the blob is 416.
 */
function parseRange(header: string | undefined, size: number): ByteRange | null {
  if (header === undefined) return null;
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return null;
  const spec = /^(\d*)-(\d*)$/.exec(m[1]!.trim());
  if (!spec || (spec[1] === '' && spec[2] === '')) throw rangeNotSatisfiable(size);
  let start: number;
  let end: number;
  if (spec[1] === '') {
    const suffix = Number(spec[2]);
    if (suffix === 0) throw rangeNotSatisfiable(size);
    start = Math.max(size - suffix, 0);
    end = size - 1;
  } else {
    start = Number(spec[1]);
    end = spec[2] === '' ? size - 1 : Math.min(Number(spec[2]), size - 1);
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end || start >= size) throw rangeNotSatisfiable(size);
  return { start, end };
}
