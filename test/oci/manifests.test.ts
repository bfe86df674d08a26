// Manifests: distribution-spec "Pushing manifests", "Pulling manifests", "Deleting manifests", with every
// manifest shape real clients push (Docker schema 2, OCI image/index, artifacts, buildx attestations and caches).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { MEDIA, assertOciError, assertRawOciError, pushBlob, pushImage, pushManifest, rawRequest, registryFetch, sha256, sha512, type Descriptor, useAuthorization } from '../helpers/http.js';

const MiB = 1024 * 1024;

describe('OCI manifests', () => {
  let berth: RunningBerth;
  let url: string;

  before(async () => {
    berth = await startBerth();
    useAuthorization(berth.authorization);
    url = berth.url;
  });
  after(async () => {
    await berth.stop();
  });

  /** GET and HEAD `reference` return exactly `bytes` with the right headers. */
  async function expectManifest(name: string, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
    const digest = reference.startsWith('sha512:') ? reference : sha256(bytes);
    const get = await registryFetch(`${url}/v2/${name}/manifests/${reference}`);
    assert.equal(get.status, 200, `GET ${name}:${reference}`);
    assert.equal(get.headers.get('content-type'), mediaType);
    assert.equal(get.headers.get('docker-content-digest'), digest);
    assert.equal(get.headers.get('content-length'), String(bytes.length));
    const body = Buffer.from(await get.arrayBuffer());
    assert.ok(body.equals(bytes), `GET ${name}:${reference} returned other bytes:\n${body.toString().slice(0, 300)}`);

    const head = await registryFetch(`${url}/v2/${name}/manifests/${reference}`, { method: 'HEAD' });
    assert.equal(head.status, 200, `HEAD ${name}:${reference}`);
    assert.equal(head.headers.get('content-type'), mediaType);
    assert.equal(head.headers.get('docker-content-digest'), digest);
    assert.equal(head.headers.get('content-length'), String(bytes.length));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
  }

  async function putRaw(name: string, reference: string, body: Buffer | string, contentType: string): Promise<Response> {
    return registryFetch(`${url}/v2/${name}/manifests/${reference}`, { method: 'PUT', headers: { 'Content-Type': contentType }, body });
  }

  async function blob(name: string, text: string, mediaType: string = MEDIA.ociLayer): Promise<Descriptor> {
    const bytes = Buffer.from(text);
    return { mediaType, digest: await pushBlob(url, name, bytes), size: bytes.length };
  }

  it('PUT by tag is 201 with Location and Docker-Content-Digest; GET/HEAD by tag and digest return the exact bytes', async () => {
    const config = await blob('acme/app', '{"architecture":"amd64","os":"linux"}', MEDIA.ociConfig);
    const layer = await blob('acme/app', 'layer-bytes');
    // Odd whitespace, key order and escapes: any re-serialisation changes these bytes.
    const text = `{\n\t"layers" : [ {"size":${layer.size},"digest":"${layer.digest}","mediaType":"${layer.mediaType}"} ],\r\n`
      + `   "schemaVersion":2,"config":{"digest":"${config.digest}", "size": ${config.size},"mediaType":"${config.mediaType}"},`
      + `"annotations":{"org.example.note":"caf\\u00e9 \\/ \u00e9t\u00e9","z":"1","a":"2"},\n"mediaType":"${MEDIA.ociManifest}"   }\n\n`;
    const bytes = Buffer.from(text);
    const digest = sha256(bytes);

    const res = await putRaw('acme/app', 'v1', bytes, MEDIA.ociManifest);
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get('location'), `/v2/acme/app/manifests/${digest}`);
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.equal(res.headers.get('oci-subject'), null);

    await expectManifest('acme/app', 'v1', bytes, MEDIA.ociManifest);
    await expectManifest('acme/app', digest, bytes, MEDIA.ociManifest);
  });

  it('PUT by digest is 201 and creates no tag', async () => {
    const image = await pushImage(url, 'acme/bydigest', 'by-digest');
    await expectManifest('acme/bydigest', image.digest, image.bytes, MEDIA.ociManifest);
    const tags = await registryFetch(`${url}/v2/acme/bydigest/tags/list`);
    assert.deepEqual(await tags.json(), { name: 'acme/bydigest', tags: [] });
  });

  it('PUT by digest with the response Location pointing at the digest', async () => {
    const config = await blob('acme/app', '{"c":"loc"}', MEDIA.ociConfig);
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [] }));
    const digest = sha256(bytes);
    const res = await putRaw('acme/app', digest, bytes, MEDIA.ociManifest);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('location'), `/v2/acme/app/manifests/${digest}`);
    assert.equal(res.headers.get('docker-content-digest'), digest);
  });

  it('PUT by a sha512 digest stores the manifest under that digest', async () => {
    const config = await blob('acme/app', '{"c":"sha512"}', MEDIA.ociConfig);
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [] }));
    const digest = sha512(bytes);
    const res = await putRaw('acme/app', digest, bytes, MEDIA.ociManifest);
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get('docker-content-digest'), digest);
    await expectManifest('acme/app', digest, bytes, MEDIA.ociManifest);
  });

  it('pushing a tag again moves it to the new manifest', async () => {
    const one = await pushImage(url, 'acme/retag', 'one', 'latest');
    const two = await pushImage(url, 'acme/retag', 'two', 'latest');
    assert.notEqual(one.digest, two.digest);
    await expectManifest('acme/retag', 'latest', two.bytes, MEDIA.ociManifest);
    await expectManifest('acme/retag', one.digest, one.bytes, MEDIA.ociManifest);
  });

  it('pushing the same manifest twice is idempotent', async () => {
    const image = await pushImage(url, 'acme/twice', 'twice', 'a');
    const again = await pushManifest(url, 'acme/twice', 'a', image.bytes, MEDIA.ociManifest);
    assert.equal(again.digest, image.digest);
    await expectManifest('acme/twice', 'a', image.bytes, MEDIA.ociManifest);
  });

  it('a manifest without mediaType is served with the Content-Type it was pushed with', async () => {
    const config = await blob('acme/app', '{"c":"no-media-type"}', MEDIA.ociConfig);
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers: [] }));
    await pushManifest(url, 'acme/app', 'nomediatype', bytes, MEDIA.ociManifest);
    await expectManifest('acme/app', 'nomediatype', bytes, MEDIA.ociManifest);
  });

  it('Docker schema 2 manifest and Docker manifest list', async () => {
    const name = 'acme/docker';
    const children: Descriptor[] = [];
    for (const arch of ['amd64', 'arm64']) {
      const config = await blob(name, JSON.stringify({ architecture: arch, os: 'linux' }), MEDIA.dockerConfig);
      const layer = await blob(name, `docker layer ${arch}`, MEDIA.dockerLayer);
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config, layers: [layer] }, null, 3));
      const pushed = await pushManifest(url, name, sha256(bytes), bytes, MEDIA.dockerManifest);
      await expectManifest(name, pushed.digest, bytes, MEDIA.dockerManifest);
      children.push({ mediaType: MEDIA.dockerManifest, digest: pushed.digest, size: bytes.length, platform: { architecture: arch, os: 'linux' } });
    }
    const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerList, manifests: children }, null, 3));
    const pushed = await pushManifest(url, name, 'multi', list, MEDIA.dockerList);
    await expectManifest(name, 'multi', list, MEDIA.dockerList);
    await expectManifest(name, pushed.digest, list, MEDIA.dockerList);
  });

  it('OCI image manifest and OCI index', async () => {
    const name = 'acme/oci';
    const amd = await pushImage(url, name, 'oci-amd64');
    const arm = await pushImage(url, name, 'oci-arm64');
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [
        { ...amd.descriptor, platform: { architecture: 'amd64', os: 'linux' } },
        { ...arm.descriptor, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ],
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    }));
    await pushManifest(url, name, '1.0', index, MEDIA.ociIndex);
    await expectManifest(name, '1.0', index, MEDIA.ociIndex);
    await expectManifest(name, amd.digest, amd.bytes, MEDIA.ociManifest);
  });

  it('an index may contain an index', async () => {
    const name = 'acme/nested';
    const image = await pushImage(url, name, 'nested');
    const inner = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [image.descriptor] }));
    const innerPushed = await pushManifest(url, name, sha256(inner), inner, MEDIA.ociIndex);
    const outer = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ mediaType: MEDIA.ociIndex, digest: innerPushed.digest, size: inner.length }],
    }));
    await pushManifest(url, name, 'outer', outer, MEDIA.ociIndex);
    await expectManifest(name, 'outer', outer, MEDIA.ociIndex);
  });

  it('an OCI artifact (artifactType + empty config) is accepted', async () => {
    const name = 'acme/artifact';
    const empty = Buffer.from('{}');
    const emptyDigest = await pushBlob(url, name, empty);
    assert.equal(emptyDigest, 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    const payload = await blob(name, 'helm chart bytes', 'application/vnd.cncf.helm.chart.content.v1.tar+gzip');
    const bytes = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      artifactType: 'application/vnd.example.thing.v1',
      config: { mediaType: MEDIA.ociEmpty, digest: emptyDigest, size: 2, data: 'e30=' },
      layers: [payload],
      annotations: { 'org.opencontainers.image.title': 'thing' },
    }));
    await pushManifest(url, name, 'thing', bytes, MEDIA.ociManifest);
    await expectManifest(name, 'thing', bytes, MEDIA.ociManifest);
    const cfg = await registryFetch(`${url}/v2/${name}/blobs/${emptyDigest}`);
    assert.equal(await cfg.text(), '{}');
  });

  it('a buildx-style index with an attestation manifest (platform unknown/unknown)', async () => {
    const name = 'acme/buildx';
    const image = await pushImage(url, name, 'buildx-image');
    const provenance = await blob(name, JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2' }), 'application/vnd.in-toto+json');
    const attConfig = await blob(name, JSON.stringify({ architecture: 'unknown', os: 'unknown', rootfs: { type: 'layers', diff_ids: [] } }), MEDIA.ociConfig);
    const attestation = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: attConfig,
      layers: [{ ...provenance, annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } }],
    }));
    const att = await pushManifest(url, name, sha256(attestation), attestation, MEDIA.ociManifest);
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [
        { ...image.descriptor, platform: { architecture: 'amd64', os: 'linux' } },
        {
          mediaType: MEDIA.ociManifest,
          digest: att.digest,
          size: attestation.length,
          annotations: { 'vnd.docker.reference.digest': image.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
          platform: { architecture: 'unknown', os: 'unknown' },
        },
      ],
    }));
    await pushManifest(url, name, 'latest', index, MEDIA.ociIndex);
    await expectManifest(name, 'latest', index, MEDIA.ociIndex);
    await expectManifest(name, att.digest, attestation, MEDIA.ociManifest);
  });

  it('a registry-cache index whose manifests[] entries are plain blobs', async () => {
    const name = 'acme/cache';
    const layer1 = await blob(name, 'cache layer 1', MEDIA.ociLayer);
    const layer2 = await blob(name, 'cache layer 2', 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    const cacheConfig = await blob(name, JSON.stringify({ layers: [], records: [] }), 'application/vnd.buildkit.cacheconfig.v0');
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [
        { ...layer1, annotations: { 'buildkit/createdat': '2026-01-01T00:00:00Z', 'containerd.io/uncompressed': sha256('u1') } },
        layer2,
        cacheConfig,
      ],
    }));
    await pushManifest(url, name, 'buildcache', index, MEDIA.ociIndex);
    await expectManifest(name, 'buildcache', index, MEDIA.ociIndex);

    // The cache blobs must exist: a cache index naming an unknown blob is refused.
    const missing = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA.ociIndex,
      manifests: [{ mediaType: 'application/vnd.buildkit.cacheconfig.v0', digest: sha256('no such cache config'), size: 3 }],
    }));
    await assertOciError(await putRaw(name, 'broken', missing, MEDIA.ociIndex), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('foreign (non-distributable) layers need not be in the registry', async () => {
    const name = 'acme/windows';
    const config = await blob(name, '{"os":"windows"}', MEDIA.dockerConfig);
    const bytes = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifest,
      config,
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: sha256('windows base'), size: 1234, urls: ['https://example.com/base'] }],
    }));
    await pushManifest(url, name, 'ltsc', bytes, MEDIA.dockerManifest);
    await expectManifest(name, 'ltsc', bytes, MEDIA.dockerManifest);
  });

  describe('rejected manifests', () => {
    it('Docker schema 1 is 400 MANIFEST_INVALID', async () => {
      const schema1 = JSON.stringify({ schemaVersion: 1, name: 'acme/app', tag: 'old', architecture: 'amd64', fsLayers: [], history: [] });
      await assertOciError(await putRaw('acme/app', 'old', schema1, 'application/vnd.docker.distribution.manifest.v1+json'), 400, 'MANIFEST_INVALID');
      await assertOciError(await putRaw('acme/app', 'old', schema1, 'application/vnd.docker.distribution.manifest.v1+prettyjws'), 400, 'MANIFEST_INVALID');
      await assertOciError(await putRaw('acme/app', 'old', schema1, 'application/json'), 400, 'MANIFEST_INVALID');
      await assertOciError(await registryFetch(`${url}/v2/acme/app/manifests/old`), 404, 'MANIFEST_UNKNOWN');
    });

    it('malformed JSON is 400 MANIFEST_INVALID', async () => {
      for (const body of ['{"schemaVersion":2,', 'not json', '', '[]', '"string"', '{"schemaVersion":2}', '{"schemaVersion":3,"config":{}}']) {
        await assertOciError(await putRaw('acme/app', 'bad', body, MEDIA.ociManifest), 400, 'MANIFEST_INVALID');
      }
      await assertOciError(await registryFetch(`${url}/v2/acme/app/manifests/bad`), 404, 'MANIFEST_UNKNOWN');
    });

    it('invalid descriptors are 400 MANIFEST_INVALID', async () => {
      const config = await blob('acme/app', '{"c":"desc"}', MEDIA.ociConfig);
      const bad = [
        { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { ...config, digest: 'sha256:xyz' }, layers: [] },
        { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { ...config, size: -1 }, layers: [] },
        { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { ...config, size: '2' }, layers: [] },
        { schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: {} },
        { schemaVersion: 2, mediaType: MEDIA.ociManifest, config },
        { schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [], annotations: { a: 1 } },
        { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: {} },
        { schemaVersion: 2, mediaType: 'application/vnd.example.unknown+json', config, layers: [] },
      ];
      for (const m of bad) {
        const mediaType = m.mediaType === MEDIA.ociIndex ? MEDIA.ociIndex : MEDIA.ociManifest;
        await assertOciError(await putRaw('acme/app', 'baddesc', JSON.stringify(m), mediaType), 400, 'MANIFEST_INVALID');
      }
    });

    it('a Content-Type that contradicts the body mediaType is 400 MANIFEST_INVALID', async () => {
      const config = await blob('acme/app', '{"c":"mismatch"}', MEDIA.ociConfig);
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [] });
      await assertOciError(await putRaw('acme/app', 'mismatch', body, MEDIA.dockerManifest), 400, 'MANIFEST_INVALID');
    });

    it('a manifest referencing a missing blob is 400 MANIFEST_BLOB_UNKNOWN', async () => {
      const config = await blob('acme/app', '{"c":"missing-layer"}', MEDIA.ociConfig);
      const missing = sha256('layer never pushed');
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [{ mediaType: MEDIA.ociLayer, digest: missing, size: 10 }] });
      const error = await assertOciError(await putRaw('acme/app', 'missing', body, MEDIA.ociManifest), 400, 'MANIFEST_BLOB_UNKNOWN');
      assert.deepEqual(error.detail, { digest: missing });
      const noConfig = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.ociConfig, digest: missing, size: 10 }, layers: [] });
      await assertOciError(await putRaw('acme/app', 'missing', noConfig, MEDIA.ociManifest), 400, 'MANIFEST_BLOB_UNKNOWN');
      await assertOciError(await registryFetch(`${url}/v2/acme/app/manifests/missing`), 404, 'MANIFEST_UNKNOWN');
    });

    it('a blob that exists only in another repository counts as missing', async () => {
      const elsewhere = await blob('acme/elsewhere', 'only elsewhere');
      const config = await blob('acme/app', '{"c":"elsewhere"}', MEDIA.ociConfig);
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [elsewhere] });
      await assertOciError(await putRaw('acme/app', 'elsewhere', body, MEDIA.ociManifest), 400, 'MANIFEST_BLOB_UNKNOWN');
    });

    it('an index referencing a missing child manifest is 400 MANIFEST_BLOB_UNKNOWN', async () => {
      const missing = sha256('child manifest never pushed');
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ mediaType: MEDIA.ociManifest, digest: missing, size: 100, platform: { architecture: 'amd64', os: 'linux' } }] });
      const error = await assertOciError(await putRaw('acme/app', 'idx', body, MEDIA.ociIndex), 400, 'MANIFEST_BLOB_UNKNOWN');
      assert.deepEqual(error.detail, { digest: missing });
      const list = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerList, manifests: [{ mediaType: MEDIA.dockerManifest, digest: missing, size: 100 }] });
      await assertOciError(await putRaw('acme/app', 'idx', list, MEDIA.dockerList), 400, 'MANIFEST_BLOB_UNKNOWN');
      await assertOciError(await registryFetch(`${url}/v2/acme/app/manifests/idx`), 404, 'MANIFEST_UNKNOWN');
    });

    it('a digest in the URL that does not match the body is 400 DIGEST_INVALID', async () => {
      const config = await blob('acme/app', '{"c":"wrong-digest"}', MEDIA.ociConfig);
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [] });
      const wrong = sha256(`${body} `);
      await assertOciError(await putRaw('acme/app', wrong, body, MEDIA.ociManifest), 400, 'DIGEST_INVALID');
      await assertOciError(await registryFetch(`${url}/v2/acme/app/manifests/${wrong}`), 404, 'MANIFEST_UNKNOWN');
      await assertOciError(await registryFetch(`${url}/v2/acme/app/manifests/${sha256(body)}`), 404, 'MANIFEST_UNKNOWN');
      await assertOciError(await putRaw('acme/app', sha512(`${body} `), body, MEDIA.ociManifest), 400, 'DIGEST_INVALID');
    });
  });

  describe('size limit', () => {
    async function paddedManifest(name: string, size: number): Promise<Buffer> {
      const config = await blob(name, '{"c":"big"}', MEDIA.ociConfig);
      const skeleton = (pad: string): string => JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [], annotations: { pad } });
      const bytes = Buffer.from(skeleton('x'.repeat(size - Buffer.byteLength(skeleton('')))));
      assert.equal(bytes.length, size);
      return bytes;
    }

    it('a manifest of exactly 4 MiB is accepted and served back byte for byte', async () => {
      const bytes = await paddedManifest('acme/big', 4 * MiB);
      await pushManifest(url, 'acme/big', 'four', bytes, MEDIA.ociManifest);
      await expectManifest('acme/big', 'four', bytes, MEDIA.ociManifest);
    });

    it('one byte more is 413, with Content-Length', async () => {
      const bytes = await paddedManifest('acme/big', 4 * MiB + 1);
      const res = await putRaw('acme/big', 'toobig', bytes, MEDIA.ociManifest);
      await assertOciError(res, 413, null);
      await assertOciError(await registryFetch(`${url}/v2/acme/big/manifests/toobig`), 404, 'MANIFEST_UNKNOWN');
    });

    it('one byte more is 413 with chunked transfer encoding too (the limit applies to bytes read)', async () => {
      const bytes = await paddedManifest('acme/big', 4 * MiB + 1);
      const res = await rawRequest(url, {
        method: 'PUT', path: '/v2/acme/big/manifests/toobig', body: bytes, chunked: true, headers: { 'Content-Type': MEDIA.ociManifest },
      });
      assertRawOciError(res, 413, null);
      await assertOciError(await registryFetch(`${url}/v2/acme/big/manifests/toobig`), 404, 'MANIFEST_UNKNOWN');
      // And the connection-level damage, if any, did not hurt the server.
      assert.equal((await registryFetch(`${url}/healthz`)).status, 200);
    });
  });

  describe('names and references in the URL', () => {
    it('an invalid tag is 400 to push and unknown (404) to read', async () => {
      const image = await pushImage(url, 'acme/tags', 'for-bad-tags');
      for (const tag of ['-leading-dash', '.leading-dot', 'a'.repeat(129), 'has+plus', 'has%20space', 'ta%2Fg']) {
        const put = await rawRequest(url, { method: 'PUT', path: `/v2/acme/tags/manifests/${tag}`, body: image.bytes, headers: { 'Content-Type': MEDIA.ociManifest } });
        assertRawOciError(put, 400, null);
        const get = await rawRequest(url, { method: 'GET', path: `/v2/acme/tags/manifests/${tag}` });
        assertRawOciError(get, 404, 'MANIFEST_UNKNOWN');
      }
      // The longest valid tag (128 characters) and every allowed character work.
      for (const tag of ['a'.repeat(128), '_under', 'Mixed.Case-1_2']) {
        await pushManifest(url, 'acme/tags', tag, image.bytes, MEDIA.ociManifest);
        await expectManifest('acme/tags', tag, image.bytes, MEDIA.ociManifest);
      }
    });

    it('a malformed digest reference is 400 DIGEST_INVALID', async () => {
      for (const ref of ['sha256:xyz', 'md5:d41d8cd98f00b204e9800998ecf8427e', `sha256:${'A'.repeat(64)}`, 'sha256:']) {
        await assertOciError(await registryFetch(`${url}/v2/acme/app/manifests/${ref}`), 400, 'DIGEST_INVALID');
      }
    });

    it('uppercase, traversal and single-component names are 400 NAME_INVALID (never 500)', async () => {
      const image = await pushImage(url, 'acme/ok', 'for-bad-names');
      const paths = [
        '/v2/Acme/app/manifests/x',
        '/v2/acme/App/manifests/x',
        '/v2/acme/../etc/manifests/x',
        '/v2/acme/%2e%2e/etc/manifests/x',
        '/v2/%2e%2e/%2e%2e/manifests/x',
        '/v2/app/manifests/x',
        '/v2/acme//app/manifests/x',
        '/v2/acme/app_/manifests/x',
        '/v2/acme/-app/manifests/x',
        `/v2/acme/${'a'.repeat(300)}/manifests/x`,
      ];
      for (const path of paths) {
        for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
          const res = await rawRequest(url, {
            method, path, body: method === 'PUT' ? image.bytes : undefined, headers: method === 'PUT' ? { 'Content-Type': MEDIA.ociManifest } : {},
          });
          assert.ok(res.status === 400 || res.status === 404, `${method} ${path}: ${res.status}`);
          if (method !== 'HEAD') assertRawOciError(res, 400, 'NAME_INVALID');
        }
      }
      // Nothing was created under any of those names.
      const catalog = (await (await registryFetch(`${url}/v2/_catalog?n=1000`)).json()) as { repositories: string[] };
      assert.ok(catalog.repositories.every((r) => /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$/.test(r)), catalog.repositories.join());
    });

    it('a deeper repository name (three components) works', async () => {
      const image = await pushImage(url, 'acme/team/app', 'deep', 'v1');
      await expectManifest('acme/team/app', 'v1', image.bytes, MEDIA.ociManifest);
    });
  });

  it('a manifest with a subject gets OCI-Subject in the PUT response, even when the subject is not in the registry', async () => {
    const name = 'acme/subject';
    const target = await pushImage(url, name, 'subject-target', 'target');
    const empty = await pushBlob(url, name, '{}');
    const sbom = await blob(name, 'sbom', 'application/spdx+json');
    const referrer = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA.ociManifest, artifactType: 'application/spdx+json',
      config: { mediaType: MEDIA.ociEmpty, digest: empty, size: 2 }, layers: [sbom], subject: target.descriptor,
    }));
    const res = await putRaw(name, sha256(referrer), referrer, MEDIA.ociManifest);
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get('oci-subject'), target.digest);

    const dangling = sha256('subject not pushed yet');
    const early = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA.ociManifest, artifactType: 'application/spdx+json',
      config: { mediaType: MEDIA.ociEmpty, digest: empty, size: 2 }, layers: [sbom],
      subject: { mediaType: MEDIA.ociManifest, digest: dangling, size: 123 },
    }));
    const res2 = await putRaw(name, sha256(early), early, MEDIA.ociManifest);
    assert.equal(res2.status, 201, await res2.text());
    assert.equal(res2.headers.get('oci-subject'), dangling);
    await expectManifest(name, sha256(early), early, MEDIA.ociManifest);
  });

  describe('deletes', () => {
    it('DELETE by tag is 202 and removes only the tag', async () => {
      const name = 'acme/deltag';
      const image = await pushImage(url, name, 'del-tag', 'v1');
      await pushManifest(url, name, 'v2', image.bytes, MEDIA.ociManifest);
      const del = await registryFetch(`${url}/v2/${name}/manifests/v1`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      await del.arrayBuffer();

      await assertOciError(await registryFetch(`${url}/v2/${name}/manifests/v1`), 404, 'MANIFEST_UNKNOWN');
      assert.equal((await registryFetch(`${url}/v2/${name}/manifests/v1`, { method: 'HEAD' })).status, 404);
      await expectManifest(name, image.digest, image.bytes, MEDIA.ociManifest);
      await expectManifest(name, 'v2', image.bytes, MEDIA.ociManifest);
      assert.deepEqual(await (await registryFetch(`${url}/v2/${name}/tags/list`)).json(), { name, tags: ['v2'] });
      await assertOciError(await registryFetch(`${url}/v2/${name}/manifests/v1`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
    });

    it('DELETE by digest is 202 and removes the manifest and every tag pointing at it', async () => {
      const name = 'acme/deldigest';
      const image = await pushImage(url, name, 'del-digest', 'a');
      await pushManifest(url, name, 'b', image.bytes, MEDIA.ociManifest);
      const other = await pushImage(url, name, 'other', 'c');

      const del = await registryFetch(`${url}/v2/${name}/manifests/${image.digest}`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      await del.arrayBuffer();

      for (const ref of [image.digest, 'a', 'b']) {
        await assertOciError(await registryFetch(`${url}/v2/${name}/manifests/${ref}`), 404, 'MANIFEST_UNKNOWN');
      }
      assert.deepEqual(await (await registryFetch(`${url}/v2/${name}/tags/list`)).json(), { name, tags: ['c'] });
      await expectManifest(name, 'c', other.bytes, MEDIA.ociManifest);
      await assertOciError(await registryFetch(`${url}/v2/${name}/manifests/${image.digest}`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
      // The blobs stay readable (they are unlinked only by blob DELETE or GC).
      assert.equal((await registryFetch(`${url}/v2/${name}/blobs/${image.config.digest}`, { method: 'HEAD' })).status, 200);
      // And the manifest can be pushed again.
      await pushManifest(url, name, 'a', image.bytes, MEDIA.ociManifest);
      await expectManifest(name, 'a', image.bytes, MEDIA.ociManifest);
    });

    it('DELETE in an unknown repository is 404', async () => {
      await assertOciError(await registryFetch(`${url}/v2/acme/never/manifests/latest`, { method: 'DELETE' }), 404, 'NAME_UNKNOWN');
      await assertOciError(await registryFetch(`${url}/v2/acme/never/manifests/${sha256('x')}`, { method: 'DELETE' }), 404, 'NAME_UNKNOWN');
    });
  });

  it('GET/HEAD in an unknown repository are 404 NAME_UNKNOWN; an unknown tag or digest in a known one is MANIFEST_UNKNOWN', async () => {
    const error = await assertOciError(await registryFetch(`${url}/v2/acme/unknown-repo/manifests/latest`), 404, 'NAME_UNKNOWN');
    assert.deepEqual(error.detail, { name: 'acme/unknown-repo' });
    await assertOciError(await registryFetch(`${url}/v2/acme/unknown-repo/manifests/${sha256('x')}`), 404, 'NAME_UNKNOWN');
    const head = await registryFetch(`${url}/v2/acme/unknown-repo/manifests/latest`, { method: 'HEAD' });
    assert.equal(head.status, 404);

    await pushImage(url, 'acme/known', 'known', 'v1');
    const e2 = await assertOciError(await registryFetch(`${url}/v2/acme/known/manifests/nope`), 404, 'MANIFEST_UNKNOWN');
    assert.deepEqual(e2.detail, { reference: 'nope' });
    await assertOciError(await registryFetch(`${url}/v2/acme/known/manifests/${sha256('nope')}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('a manifest is not visible from another repository', async () => {
    const image = await pushImage(url, 'acme/mine', 'mine', 'v1');
    await pushImage(url, 'acme/yours', 'yours', 'v1');
    await assertOciError(await registryFetch(`${url}/v2/acme/yours/manifests/${image.digest}`), 404, 'MANIFEST_UNKNOWN');
  });
});
