import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Digest } from '../../oci/digest.js';
import type { Reference } from '../../oci/names.js';
import type { MirrorRoute } from '../../mirror/mirror-service.js';
import { getBlob } from './blobs.js';
import type { OciDeps } from './context.js';

/**
 * HEAD/GET /v2/<name>/manifests/<reference> in a mirror namespace (spec "Pulling manifests"): the bytes as the
 * upstream has them, through the cache (src/mirror/mirror-service.ts).
 */
export async function getMirroredManifest(
  deps: OciDeps, route: MirrorRoute, reference: Reference, request: FastifyRequest, reply: FastifyReply,
): Promise<FastifyReply> {
  const accept = (request.headers.accept ?? '').split(',').map((t) => t.split(';', 1)[0]!.trim()).filter(Boolean);
  const manifest = await deps.mirror.manifest(route, reference, accept, request.method === 'GET');
  reply.code(200)
    .header('Content-Type', manifest.mediaType)
    .header('Docker-Content-Digest', manifest.digest)
    .header('ETag', `"${manifest.digest}"`)
    .header('Content-Length', manifest.size);
  return 'body' in manifest ? reply.send(manifest.body) : reply.send();
}

/**
 * HEAD/GET /v2/<name>/blobs/<digest> in a mirror namespace (spec "Pulling blobs"): from the cache as any blob once
 * stored, else streamed from the upstream while it is stored (a Range is then ignored: the whole blob, 200).
 */
export async function getMirroredBlob(deps: OciDeps, route: MirrorRoute, digest: Digest, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const blob = await deps.mirror.blob(route, digest, request.method === 'HEAD' ? 'HEAD' : 'GET');
  if (blob.kind === 'cached') {
    const answered = await getBlob(deps, { name: route.local, digest }, request, reply);
    // What the answer carries (a Range: its part); a client that goes away early still counts it whole.
    const length = Number(reply.getHeader('content-length'));
    if (request.method === 'GET' && reply.statusCode < 300 && length > 0) deps.mirror.sent(route, 'cache', length);
    return answered;
  }
  reply.code(200)
    .header('Content-Type', 'application/octet-stream')
    .header('Docker-Content-Digest', digest)
    .header('ETag', `"${digest}"`)
    .header('Cache-Control', 'max-age=31536000');
  if (blob.size !== null) reply.header('Content-Length', blob.size);
  if (request.method === 'HEAD') {
    blob.body.destroy();
    return reply.send();
  }
  if (blob.size !== null) deps.mirror.sent(route, 'upstream', blob.size);
  return reply.send(blob.body);
}
