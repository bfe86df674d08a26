import { noteRepository } from '../request-facts.js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mirrorReadOnly, tooLarge, unsupported } from '../../oci/errors.js';
import { BerthError, isBerthError, isStorageFull, storageFull } from '../../util/errors.js';
import { LimitExceededError } from '../../util/hash-stream.js';
import type { Action } from './access.js';
import { deleteBlob, getBlob } from './blobs.js';
import type { OciDeps } from './context.js';
import { listCatalog, listReferrers, listTags } from './listings.js';
import { deleteManifest, getManifest, putManifest } from './manifests.js';
import { getMirroredBlob, getMirroredManifest } from './mirror.js';
import { allowSlowBody } from '../connection-guard.js';
import { setRouteLabel } from '../route-label.js';
import { parseOciPath, type OciRoute } from './route-path.js';
import { sendOciError } from './oci-errors.js';
import { cancelUpload, finishUpload, getUploadStatus, patchUpload, startUpload } from './uploads.js';

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Dispatch = (deps: OciDeps, route: never, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** Which handler serves each (endpoint, method), and the token-auth actions it needs (spec "Endpoints" table). */
const TABLE: Record<Exclude<OciRoute['kind'], 'base'>, Partial<Record<Method, [Dispatch, readonly Action[]]>>> = {
  catalog: { GET: [listCatalog, []] },
  tags: { GET: [listTags, ['pull']] },
  manifest: {
    GET: [getManifest, ['pull']], HEAD: [getManifest, ['pull']], PUT: [putManifest, ['pull', 'push']], DELETE: [deleteManifest, ['delete']],
  },
  blob: { GET: [getBlob, ['pull']], HEAD: [getBlob, ['pull']], DELETE: [deleteBlob, ['delete']] },
  uploads: { POST: [startUpload, ['pull', 'push']] },
  upload: {
    GET: [getUploadStatus, ['pull', 'push']], PATCH: [patchUpload, ['pull', 'push']], PUT: [finishUpload, ['pull', 'push']],
    DELETE: [cancelUpload, ['pull', 'push']],
  },
  referrers: { GET: [listReferrers, ['pull']] },
};

const TEMPLATES: Record<OciRoute['kind'], string> = {
  base: '/v2/',
  catalog: '/v2/_catalog',
  tags: '/v2/<name>/tags/list',
  manifest: '/v2/<name>/manifests/<reference>',
  blob: '/v2/<name>/blobs/<digest>',
  uploads: '/v2/<name>/blobs/uploads/',
  upload: '/v2/<name>/blobs/uploads/<uuid>',
  referrers: '/v2/<name>/referrers/<digest>',
};

/**
 * The OCI distribution API, as one encapsulated Fastify plugin with its own body parser and errors; registered with
 * prefix /v2 so its not-found handler answers only there.
 */
export function ociApi(deps: OciDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // Nothing under /v2 is buffered by Fastify: handlers read `request.raw` as a stream (manifests through a limit).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

    app.addHook('onRequest', async (_request, reply) => {
      reply.header('Docker-Distribution-API-Version', 'registry/2.0');
    });

    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const path = request.url.split('?', 1)[0]!;
      const tail = path === '/v2' ? '' : path.slice('/v2/'.length);
      const route = parseOciPath(tail, request.method);
      setRouteLabel(request, route ? TEMPLATES[route.kind] : '/v2/*');
      if (route === null) throw new BerthError({ status: 404, code: 'NAME_UNKNOWN', message: 'no such endpoint in the registry API' });
      // A layer's body takes as long as the link needs: only the idle timeout applies to it.
      if (route.kind === 'uploads' || route.kind === 'upload') allowSlowBody(request);
      if (route.kind === 'base') {
        if (request.method !== 'GET' && request.method !== 'HEAD') throw unsupported(`${request.method} is not supported on /v2/`);
        await deps.access.requireLogin(request);
        return reply.code(200).type('application/json').send('{}');
      }
      const entry = TABLE[route.kind][request.method as Method];
      if (!entry) throw unsupported(`${request.method} is not supported on this endpoint`);
      const [handle, actions] = entry;
      if ('name' in route) noteRepository(request, route.name);
      if (!('name' in route)) {
        await deps.access.requireLogin(request);
        return handle(deps, route as never, request, reply);
      }
      const mirrored = await deps.mirror.route(route.name);
      if (mirrored && actions.some((a) => a !== 'pull')) {
        const { namespace, url } = deps.mirror.upstreamOf(mirrored);
        throw mirrorReadOnly(route.name, namespace, url);
      }
      // Access is decided on the name the client uses (its token names it), also in registry-mirrors mode.
      await deps.access.require(request, route.name, actions);
      if (!mirrored) return handle(deps, route as never, request, reply);
      if (route.kind === 'manifest') return getMirroredManifest(deps, mirrored, route.reference, request, reply);
      if (route.kind === 'blob') return getMirroredBlob(deps, mirrored, route.digest, request, reply);
      // Tags and referrers: what the cache holds, under the cache's name.
      return handle(deps, { ...route, name: mirrored.local } as never, request, reply);
    };

    // Registered with prefix /v2: '/' is /v2 and /v2/, '/*' everything below.
    app.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/', handler, exposeHeadRoute: false });
    app.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/*', handler, exposeHeadRoute: false });

    app.setNotFoundHandler((_request, reply) => {
      void sendOciError(reply, new BerthError({ status: 404, code: 'NAME_UNKNOWN', message: 'no such endpoint in the registry API' }));
    });
    app.setErrorHandler((error: FastifyError | Error, request, reply) => {
      const known = toBerthError(error);
      if (!known) {
        request.log.error({ err: error }, 'unexpected error in /v2 handler');
        return sendOciError(reply, new BerthError({ status: 500, code: 'UNKNOWN', message: 'internal error; the server log has the details (request id ' + request.id + ')' }));
      }
      // A condition the operator must fix: logged with the original error (ENOSPC, SQLITE_FULL). An outage's 503s
      // are logged, throttled, where they are detected.
      if (isStorageFull(error)) request.log.error({ err: error }, known.message);
      // The client may still be sending a body we will not read: drain it so the error reaches it, and keep the
      // connection open meanwhile even if the client asked for `Connection: close` (containers/image does on PATCH):
      // closing with unread bytes resets it, and the client reports a broken pipe instead of this error.
      if (!request.raw.readableEnded) {
        request.raw.resume();
        reply.raw.shouldKeepAlive = true;
      }
      return sendOciError(reply, known);
    });
  };
}

function toBerthError(error: unknown): BerthError | null {
  if (isBerthError(error)) return error;
  if (error instanceof LimitExceededError) return tooLarge(error.limit);
  if (isStorageFull(error)) return storageFull(error);
  const e = error as FastifyError & { code?: string };
  // A body stream that broke off (client disconnect, bad chunked encoding) is the client's fault, not ours.
  if (e.code === 'ECONNRESET' || e.code === 'ERR_STREAM_PREMATURE_CLOSE' || e.code === 'ABORT_ERR' || e.message === 'aborted') {
    return new BerthError({ status: 400, code: 'BLOB_UPLOAD_INVALID', message: 'the request body ended early' });
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new BerthError({ status: e.statusCode, code: 'UNSUPPORTED', message: e.message });
  }
  return null;
}

