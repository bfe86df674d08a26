// The org.opencontainers.image.source label or annotation of a push links the package to its source (as on ghcr.io).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { MEDIA, pushBlob, pushImage, pushManifest, useAuthorization } from '../helpers/http.js';

describe('package source link', () => {
  let berth: RunningBerth;
  before(async () => {
    berth = await startBerth();
    useAuthorization(berth.authorization);
  });
  after(async () => berth.stop());

  async function sourceOf(name: string): Promise<string | null> {
    const [row] = await berth.query<{ source_url: string | null }>('select source_url from repositories where name = ?', name);
    return row!.source_url;
  }

  it('is read from the image config labels (docker build --label)', async () => {
    const config = Buffer.from(JSON.stringify({
      architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] },
      config: { Labels: { 'org.opencontainers.image.source': 'https://git.example.com/acme/labelled' } },
    }));
    const layer = Buffer.from('layer');
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: await pushBlob(berth.url, 'acme/labelled', config), size: config.length },
      layers: [{ mediaType: MEDIA.ociLayer, digest: await pushBlob(berth.url, 'acme/labelled', layer), size: layer.length }],
    }));
    await pushManifest(berth.url, 'acme/labelled', '1', manifest, MEDIA.ociManifest);
    assert.equal(await sourceOf('acme/labelled'), 'https://git.example.com/acme/labelled');
  });

  it('is read from manifest annotations, is kept by later pushes, and ignores non-URLs', async () => {
    await pushImage(berth.url, 'acme/annotated', 'a', 'v1', { annotations: { 'org.opencontainers.image.source': 'https://git.example.com/acme/first' } });
    await pushImage(berth.url, 'acme/annotated', 'b', 'v2', { annotations: { 'org.opencontainers.image.source': 'https://git.example.com/acme/second' } });
    assert.equal(await sourceOf('acme/annotated'), 'https://git.example.com/acme/first');
    await pushImage(berth.url, 'acme/odd', 'c', 'v1', { annotations: { 'org.opencontainers.image.source': 'javascript:alert(1)' } });
    assert.equal(await sourceOf('acme/odd'), null);
  });
});
