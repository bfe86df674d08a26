import type { FastifyRequest } from 'fastify';
import { readableRepositories } from '../../auth/package-access.js';
import type { Digest } from '../../oci/digest.js';
import { paginationInvalid } from '../../oci/errors.js';
import { MediaType } from '../../oci/media-types.js';
import type { RepoName } from '../../oci/names.js';
import { query, type OciDeps, type OciHandler } from './context.js';

/** GET /v2/<name>/tags/list?n=&last= — spec "Listing tags", with a `Link` to the next page. */
export const listTags: OciHandler<{ name: RepoName }> = async (deps, route, request, reply) => {
  const { limit, last } = pageParams(deps, request);
  const page = await deps.registry.tags.list(route.name, limit, last);
  const lastTag = page.tags.at(-1);
  if (page.more && lastTag !== undefined) {
    reply.header('Link', `</v2/${route.name}/tags/list?n=${limit}&last=${encodeURIComponent(lastTag)}>; rel="next"`);
  }
  return reply.code(200).type('application/json').send({ name: route.name, tags: page.tags });
};

/** GET /v2/_catalog?n=&last= — the repositories the caller can read, paginated like tags, filtered in SQL. */
export const listCatalog: OciHandler<object> = async (deps, _route, request, reply) => {
  const { limit, last } = pageParams(deps, request);
  const names = await deps.registry.repos.list(limit + 1, last, readableRepositories(await deps.access.subject(request)));
  const repositories = names.slice(0, limit);
  const lastName = repositories.at(-1);
  if (names.length > limit && lastName !== undefined) {
    reply.header('Link', `</v2/_catalog?n=${limit}&last=${encodeURIComponent(lastName)}>; rel="next"`);
  }
  return reply.code(200).type('application/json').send({ repositories });
};

/** GET /v2/<name>/referrers/<digest>?artifactType= — spec "Listing referrers": always 200 with an index. */
export const listReferrers: OciHandler<{ name: RepoName; digest: Digest }> = async ({ registry }, route, request, reply) => {
  const artifactType = query(request, 'artifactType');
  const manifests = await registry.referrers.list(route.name, route.digest, artifactType);
  if (artifactType !== undefined) reply.header('OCI-Filters-Applied', 'artifactType');
  // A Buffer, so Fastify does not append `; charset=utf-8`: the spec wants exactly the index media type.
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
  return reply.code(200).type(MediaType.ociIndex).send(body);
};

function pageParams(deps: OciDeps, request: FastifyRequest): { limit: number; last: string | undefined } {
  const n = query(request, 'n');
  let limit = deps.limits.tagsPageSize;
  if (n !== undefined) {
    if (!/^\d+$/.test(n)) throw paginationInvalid(`n must be a non-negative integer, got "${n.slice(0, 40)}"`);
    limit = Math.min(Number(n), deps.limits.tagsPageMax);
  }
  // No stored name contains NUL, and PostgreSQL rejects it in text: with byte-wise order, "a\0…" < every name
  // after "a", so cutting `last` at the first NUL selects exactly the same page.
  const last = query(request, 'last');
  return { limit, last: last === undefined ? undefined : last.split('\0', 1)[0]! };
}
