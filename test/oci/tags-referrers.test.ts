// Listings: distribution-spec "Listing tags", "Listing referrers", and the `_catalog` extension.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { MEDIA, assertOciError, pushBlob, pushImage, pushManifest, registryFetch, sha256, type PushedImage, useAuthorization } from '../helpers/http.js';

const PAGE_SIZE = 3;

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Array<{ mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }>;
}

/** Parses `Link: </v2/...>; rel="next"`; returns the path or null. */
function nextLink(res: Response): string | null {
  const link = res.headers.get('link');
  if (link === null) return null;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(link);
  assert.ok(m, `malformed Link header: ${link}`);
  return m[1]!;
}

describe('OCI listings', () => {
  let berth: RunningBerth;
  let url: string;

  before(async () => {
    // A small default page, so the default (no `n`) pagination is exercised too.
    berth = await startBerth({ env: { BERTH_REGISTRY_TAGS_PAGE_SIZE: String(PAGE_SIZE) } });
    useAuthorization(berth.authorization);
    url = berth.url;
  });
  after(async () => {
    await berth.stop();
  });

  describe('tags/list', () => {
    const name = 'acme/tagged';
    // Deliberately pushed out of order. Lowercase only: the spec's "case-insensitive alphanumeric order" and the
    // byte order of the reference implementation disagree on mixed case (and on `_` against letters).
    const tags = ['v2', 'latest', 'v10', '1.0', 'v1-rc', 'a', 'b-rc.1', 'v1.2.3', 'v1', '0'];
    const sorted = [...tags].sort();
    let image: PushedImage;

    before(async () => {
      image = await pushImage(url, name, 'tagged');
      for (const tag of tags) await pushManifest(url, name, tag, image.bytes, MEDIA.ociManifest);
    });

    it('lists all tags in lexical order with a large n', async () => {
      const res = await registryFetch(`${url}/v2/${name}/tags/list?n=100`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('link'), null);
      assert.deepEqual(await res.json(), { name, tags: sorted });
    });

    it('pages with n and last, with a Link to the next page that is absent on the last page', async () => {
      const seen: string[] = [];
      let path: string | null = `/v2/${name}/tags/list?n=4`;
      let pages = 0;
      while (path !== null) {
        const res = await registryFetch(`${url}${path}`);
        assert.equal(res.status, 200);
        const body = (await res.json()) as { name: string; tags: string[] };
        assert.equal(body.name, name);
        pages++;
        const next = nextLink(res);
        if (next !== null) {
          assert.equal(body.tags.length, 4);
          assert.equal(next, `/v2/${name}/tags/list?n=4&last=${encodeURIComponent(body.tags.at(-1)!)}`);
        } else {
          assert.ok(body.tags.length <= 4);
        }
        seen.push(...body.tags);
        path = next;
      }
      assert.equal(pages, 3);
      assert.deepEqual(seen, sorted);
    });

    it('n equal to the number of tags returns them all without a Link', async () => {
      const res = await registryFetch(`${url}/v2/${name}/tags/list?n=${tags.length}`);
      assert.equal(res.headers.get('link'), null);
      assert.deepEqual(((await res.json()) as { tags: string[] }).tags, sorted);
    });

    it('last alone returns the tags after it', async () => {
      const res = await registryFetch(`${url}/v2/${name}/tags/list?n=100&last=latest`);
      assert.deepEqual(((await res.json()) as { tags: string[] }).tags, sorted.filter((t) => t > 'latest'));
      const end = await registryFetch(`${url}/v2/${name}/tags/list?last=${encodeURIComponent(sorted.at(-1)!)}`);
      assert.equal(end.status, 200);
      assert.equal(end.headers.get('link'), null);
      assert.deepEqual(((await end.json()) as { tags: string[] }).tags, []);
    });

    it('without n the configured page size applies, with a Link', async () => {
      const res = await registryFetch(`${url}/v2/${name}/tags/list`);
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as { tags: string[] }).tags, sorted.slice(0, PAGE_SIZE));
      assert.equal(nextLink(res), `/v2/${name}/tags/list?n=${PAGE_SIZE}&last=${encodeURIComponent(sorted[PAGE_SIZE - 1]!)}`);
    });

    it('n=0 is an empty list', async () => {
      const res = await registryFetch(`${url}/v2/${name}/tags/list?n=0`);
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as { tags: string[] }).tags, []);
    });

    it('a bad n is 400', async () => {
      for (const n of ['abc', '-1', '1.5', '', '0x10', '1e3']) {
        await assertOciError(await registryFetch(`${url}/v2/${name}/tags/list?n=${encodeURIComponent(n)}`), 400, 'UNSUPPORTED');
      }
    });

    it('an unknown repository is 404 NAME_UNKNOWN', async () => {
      const error = await assertOciError(await registryFetch(`${url}/v2/acme/untagged-nowhere/tags/list`), 404, 'NAME_UNKNOWN');
      assert.deepEqual(error.detail, { name: 'acme/untagged-nowhere' });
    });

    it('a repository without tags lists none', async () => {
      await pushImage(url, 'acme/digest-only', 'digest-only');
      const res = await registryFetch(`${url}/v2/acme/digest-only/tags/list`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { name: 'acme/digest-only', tags: [] });
    });

    it('an invalid repository name is 400 NAME_INVALID', async () => {
      await assertOciError(await registryFetch(`${url}/v2/Acme/App/tags/list`), 400, 'NAME_INVALID');
      await assertOciError(await registryFetch(`${url}/v2/single/tags/list`), 400, 'NAME_INVALID');
    });
  });

  describe('referrers', () => {
    const name = 'acme/signed';
    let subject: PushedImage;
    let sbom: { digest: string; size: number };
    let signature: { digest: string; size: number };
    let plainImage: PushedImage;
    let indexReferrer: { digest: string; size: number };

    async function referrer(artifactType: string, annotations: Record<string, string>, subjectDigest: string, repo = name): Promise<{ digest: string; size: number }> {
      const layer = await pushBlob(url, repo, `${artifactType} payload ${JSON.stringify(annotations)}`);
      const empty = await pushBlob(url, repo, '{}');
      const body = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociManifest,
        artifactType,
        config: { mediaType: MEDIA.ociEmpty, digest: empty, size: 2 },
        layers: [{ mediaType: 'application/octet-stream', digest: layer, size: Buffer.byteLength(`${artifactType} payload ${JSON.stringify(annotations)}`) }],
        subject: { mediaType: MEDIA.ociManifest, digest: subjectDigest, size: subject.bytes.length },
        annotations,
      }));
      const pushed = await pushManifest(url, repo, sha256(body), body, MEDIA.ociManifest);
      assert.equal(pushed.response.headers.get('oci-subject'), subjectDigest);
      return { digest: pushed.digest, size: body.length };
    }

    async function listReferrers(digest: string, query = ''): Promise<{ res: Response; body: ReferrersIndex }> {
      const res = await registryFetch(`${url}/v2/${name}/referrers/${digest}${query}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), MEDIA.ociIndex);
      const body = (await res.json()) as ReferrersIndex;
      assert.equal(body.schemaVersion, 2);
      assert.equal(body.mediaType, MEDIA.ociIndex);
      return { res, body };
    }

    before(async () => {
      subject = await pushImage(url, name, 'subject', 'v1');
      sbom = await referrer('application/spdx+json', { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z', 'org.example.kind': 'sbom' }, subject.digest);
      signature = await referrer('application/vnd.dev.cosign.artifact.sig.v1+json', { 'dev.sigstore.cosign/signature': 'MEUCIQ' }, subject.digest);
      // An image manifest without artifactType: its config media type is the artifact type.
      plainImage = await pushImage(url, name, 'plain-referrer', undefined, { subject: subject.descriptor });
      // An index can be a referrer too.
      const idx = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MEDIA.ociIndex, artifactType: 'application/vnd.example.bundle', manifests: [], subject: subject.descriptor,
      }));
      const pushed = await pushManifest(url, name, sha256(idx), idx, MEDIA.ociIndex);
      indexReferrer = { digest: pushed.digest, size: idx.length };
      // Noise: a referrer of another subject, and one in another repository.
      await referrer('application/spdx+json', {}, sha256('another subject'));
      await pushImage(url, 'acme/other-signed', 'other', 'v1');
      await referrer('application/spdx+json', {}, subject.digest, 'acme/other-signed');
    });

    it('lists the manifests whose subject is the digest, with artifactType and annotations', async () => {
      const { res, body } = await listReferrers(subject.digest);
      assert.equal(res.headers.get('oci-filters-applied'), null);
      const byDigest = new Map(body.manifests.map((m) => [m.digest, m]));
      assert.equal(body.manifests.length, 4, JSON.stringify(body.manifests));
      assert.deepEqual(byDigest.get(sbom.digest), {
        mediaType: MEDIA.ociManifest, digest: sbom.digest, size: sbom.size, artifactType: 'application/spdx+json',
        annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z', 'org.example.kind': 'sbom' },
      });
      assert.deepEqual(byDigest.get(signature.digest), {
        mediaType: MEDIA.ociManifest, digest: signature.digest, size: signature.size,
        artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json', annotations: { 'dev.sigstore.cosign/signature': 'MEUCIQ' },
      });
      assert.deepEqual(byDigest.get(plainImage.digest), {
        mediaType: MEDIA.ociManifest, digest: plainImage.digest, size: plainImage.bytes.length, artifactType: MEDIA.ociConfig,
      });
      assert.deepEqual(byDigest.get(indexReferrer.digest), {
        mediaType: MEDIA.ociIndex, digest: indexReferrer.digest, size: indexReferrer.size, artifactType: 'application/vnd.example.bundle',
      });
      // Every listed descriptor points at a pullable manifest of that size.
      for (const m of body.manifests) {
        const pulled = await registryFetch(`${url}/v2/${name}/manifests/${m.digest}`);
        assert.equal(pulled.status, 200);
        const bytes = Buffer.from(await pulled.arrayBuffer());
        assert.equal(bytes.length, m.size);
        assert.equal(sha256(bytes), m.digest);
        assert.equal(pulled.headers.get('content-type'), m.mediaType);
      }
    });

    it('?artifactType= filters and sets OCI-Filters-Applied: artifactType', async () => {
      const { res, body } = await listReferrers(subject.digest, `?artifactType=${encodeURIComponent('application/spdx+json')}`);
      assert.equal(res.headers.get('oci-filters-applied'), 'artifactType');
      assert.deepEqual(body.manifests.map((m) => m.digest), [sbom.digest]);

      const none = await listReferrers(subject.digest, '?artifactType=application%2Fvnd.nothing');
      assert.equal(none.res.headers.get('oci-filters-applied'), 'artifactType');
      assert.deepEqual(none.body.manifests, []);
    });

    it('an unknown subject is 200 with an empty list', async () => {
      const { body } = await listReferrers(sha256('nobody refers to this'));
      assert.deepEqual(body.manifests, []);
    });

    it('a repository the registry does not know is 200 with an empty list, never 404', async () => {
      const res = await registryFetch(`${url}/v2/acme/unknown-repo/referrers/${subject.digest}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), MEDIA.ociIndex);
      assert.deepEqual(await res.json(), { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [] });
    });

    it('an invalid digest is 400', async () => {
      for (const d of ['sha256:xyz', 'latest', 'md5:d41d8cd98f00b204e9800998ecf8427e']) {
        await assertOciError(await registryFetch(`${url}/v2/${name}/referrers/${d}`), 400, 'DIGEST_INVALID');
      }
    });

    it('a deleted referrer is no longer listed', async () => {
      const extra = await referrer('application/vnd.example.temp', {}, subject.digest);
      assert.ok((await listReferrers(subject.digest)).body.manifests.some((m) => m.digest === extra.digest));
      const del = await registryFetch(`${url}/v2/${name}/manifests/${extra.digest}`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      assert.ok(!(await listReferrers(subject.digest)).body.manifests.some((m) => m.digest === extra.digest));
    });
  });

  describe('_catalog', () => {
    const names = ['zeta/app', 'alpha/one', 'alpha/two', 'mid/x/y', 'beta/app'];

    before(async () => {
      // Each namespace is an organization the test user owns: pushing into a namespace nobody owns is denied.
      await berth.admin(async (s) => {
        for (const org of ['zeta', 'alpha', 'mid', 'beta']) await s.accounts.createOrg(org, berth.user);
      });
      for (const n of names) await pushImage(url, n, `catalog ${n}`, 'v1');
    });

    it('lists repositories in lexical order', async () => {
      const res = await registryFetch(`${url}/v2/_catalog?n=1000`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('link'), null);
      const { repositories } = (await res.json()) as { repositories: string[] };
      assert.deepEqual(repositories, [...repositories].sort());
      for (const n of names) assert.ok(repositories.includes(n), `${n} in ${repositories.join()}`);
    });

    it('paginates with n and last and a Link header', async () => {
      const all = ((await (await registryFetch(`${url}/v2/_catalog?n=1000`)).json()) as { repositories: string[] }).repositories;
      const seen: string[] = [];
      let path: string | null = '/v2/_catalog?n=2';
      while (path !== null) {
        const res = await registryFetch(`${url}${path}`);
        assert.equal(res.status, 200);
        const { repositories } = (await res.json()) as { repositories: string[] };
        const next = nextLink(res);
        if (next !== null) {
          assert.equal(repositories.length, 2);
          assert.equal(next, `/v2/_catalog?n=2&last=${encodeURIComponent(repositories.at(-1)!)}`);
        }
        seen.push(...repositories);
        path = next;
      }
      assert.deepEqual(seen, all);
    });

    it('a bad n is 400', async () => {
      await assertOciError(await registryFetch(`${url}/v2/_catalog?n=-5`), 400, 'UNSUPPORTED');
    });
  });
});
