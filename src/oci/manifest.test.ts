import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../util/errors.js';
import { parseManifest } from './manifest.js';
import { MediaType } from './media-types.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const invalid = (err: unknown): boolean => isBerthError(err) && err.code === 'MANIFEST_INVALID';

const image = {
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('1'), size: 10 },
  layers: [
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('2'), size: 20 },
    { mediaType: MediaType.dockerForeignLayer, digest: d('3'), size: 30, urls: ['https://example.com/l'] },
  ],
};

test('an OCI image manifest lists config and distributable layers as required blobs', () => {
  const m = parseManifest(json(image), MediaType.ociManifest);
  assert.equal(m.kind, 'image');
  assert.deepEqual(m.blobs.map((b) => b.digest), [d('1'), d('2')]);
  assert.equal(m.artifactType, 'application/vnd.oci.image.config.v1+json');
});

test('media type comes from the body, else the Content-Type, else the shape', () => {
  const { mediaType: _, ...bare } = image;
  assert.equal(parseManifest(json(bare), MediaType.dockerManifest).mediaType, MediaType.dockerManifest);
  assert.equal(parseManifest(json(bare), undefined).mediaType, MediaType.ociManifest);
  assert.throws(() => parseManifest(json(image), MediaType.dockerManifest), invalid);
});

test('an artifact manifest keeps its artifactType and subject', () => {
  const m = parseManifest(json({
    ...image, artifactType: 'application/vnd.example.sbom', subject: { mediaType: MediaType.ociManifest, digest: d('9'), size: 5 },
  }), undefined);
  assert.equal(m.artifactType, 'application/vnd.example.sbom');
  assert.equal(m.subject?.digest, d('9'));
});

test('an index separates child manifests from cache blobs', () => {
  const m = parseManifest(json({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      { mediaType: MediaType.ociManifest, digest: d('4'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.buildkit.cacheconfig.v0', digest: d('5'), size: 1 },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('6'), size: 1 },
    ],
  }), undefined);
  assert.equal(m.kind, 'index');
  assert.deepEqual(m.children.map((c) => c.digest), [d('4')]);
  assert.deepEqual(m.blobs.map((c) => c.digest), [d('5'), d('6')]);
});

test('schema 1, bad JSON and bad descriptors are MANIFEST_INVALID', () => {
  for (const body of [
    Buffer.from('{not json'),
    json([]),
    json({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }),
    json({ ...image, schemaVersion: 3 }),
    json({ ...image, config: { mediaType: 'x', digest: 'sha256:zz', size: 1 } }),
    json({ ...image, config: { mediaType: 'x', digest: d('1'), size: -1 } }),
    json({ ...image, layers: 'nope' }),
    json({ ...image, annotations: { a: 1 } }),
    json({ schemaVersion: 2, mediaType: 'application/x-unknown' }),
  ]) {
    assert.throws(() => parseManifest(body, undefined), invalid, body.toString().slice(0, 60));
  }
  assert.throws(() => parseManifest(json(image), MediaType.dockerSchema1Signed), invalid);
});
