// Berth-only statistics under /api/v3/berth/…: downloads (total, per day) and size (distinct blobs), per package
// and per version. GitHub's package and version objects stay free of them (see contract.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { api, assertGithubError, createToken, pushIndex } from '../helpers/github.js';
import { MEDIA, pushBlob, pushManifest, registryFetch, useAuthorization, type Descriptor } from '../helpers/http.js';

interface Stats {
  package_id: number; version_id?: number; name: string; size_in_bytes: number; version_count?: number;
  downloads: { total: number; daily: { date: string; count: number }[] };
}

let berth: RunningBerth;
const sizes = { c1: 0, c2: 0, layer: 0, manifests: 0 };
let a: Descriptor;
let b: Descriptor;
let index: string;
const ids = new Map<string, number>();

before(async () => {
  berth = await startBerth();
  useAuthorization(berth.authorization);
  const c1 = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const c2 = Buffer.from('{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const layer = Buffer.alloc(1000, 7);
  Object.assign(sizes, { c1: c1.length, c2: c2.length, layer: layer.length });
  const blob = async (bytes: Buffer, mediaType: string): Promise<Descriptor> => ({ mediaType, digest: await pushBlob(berth.url, 'acme/app', bytes), size: bytes.length });
  const shared = await blob(layer, MEDIA.ociLayer);
  const manifest = async (config: Descriptor, tag: string, platform: { architecture: string; os: string }): Promise<Descriptor> => {
    const body = { schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [shared] };
    const pushed = await pushManifest(berth.url, 'acme/app', tag, body, MEDIA.ociManifest);
    return { mediaType: MEDIA.ociManifest, digest: pushed.digest, size: pushed.bytes.length, platform };
  };
  a = await manifest(await blob(c1, MEDIA.ociConfig), 'amd64', { architecture: 'amd64', os: 'linux' });
  b = await manifest(await blob(c2, MEDIA.ociConfig), 'arm64', { architecture: 'arm64', os: 'linux' });
  index = await pushIndex(berth.url, 'acme/app', 'latest', [a, b]);
  const indexBytes = (await registryFetch(`${berth.url}/v2/acme/app/manifests/${index}`, { method: 'HEAD', headers: { Accept: MEDIA.ociIndex } })).headers.get('content-length');
  sizes.manifests = a.size + b.size + Number(indexBytes);
  for (const v of (await api<{ id: number; name: string }[]>(berth, '/v3/orgs/acme/packages/container/app/versions')).body) ids.set(v.name, v.id);
  for (let i = 0; i < 3; i++) await (await registryFetch(`${berth.url}/v2/acme/app/manifests/amd64`, { headers: { Accept: MEDIA.ociManifest } })).arrayBuffer();
  await (await registryFetch(`${berth.url}/v2/acme/app/manifests/latest`, { headers: { Accept: MEDIA.ociIndex } })).arrayBuffer();
});
after(() => berth.stop());

const today = (): string => new Date().toISOString().slice(0, 10);

describe('Berth-only statistics', () => {
  it('gives a package\'s downloads and storage (each distinct blob once, plus the manifests)', async () => {
    const res = await api<Stats>(berth, '/v3/berth/orgs/acme/packages/container/app/stats');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.name, 'app');
    assert.equal(res.body.version_count, 3);
    assert.equal(res.body.size_in_bytes, sizes.c1 + sizes.c2 + sizes.layer + sizes.manifests);
    assert.equal(res.body.downloads.total, 4, 'counted right away: no wait for the periodic flush');
    assert.deepEqual(res.body.downloads.daily, [{ date: today(), count: 4 }]);
  });

  it('gives a version\'s downloads and size; an index counts its children\'s blobs', async () => {
    const amd = await api<Stats>(berth, `/v3/berth/orgs/acme/packages/container/app/versions/${ids.get(a.digest)}/stats`);
    assert.equal(amd.status, 200, amd.text);
    assert.equal(amd.body.version_id, ids.get(a.digest));
    assert.equal(amd.body.name, a.digest);
    assert.equal(amd.body.size_in_bytes, sizes.c1 + sizes.layer);
    assert.equal(amd.body.downloads.total, 3);
    const idx = await api<Stats>(berth, `/v3/berth/orgs/acme/packages/container/app/versions/${ids.get(index)}/stats`);
    assert.equal(idx.body.size_in_bytes, sizes.c1 + sizes.c2 + sizes.layer);
    assert.equal(idx.body.downloads.total, 1);
    const arm = await api<Stats>(berth, `/v3/berth/orgs/acme/packages/container/app/versions/${ids.get(b.digest)}/stats`);
    assert.deepEqual(arm.body.downloads, { total: 0, daily: [] });
  });

  it('is served in the user forms too, with the same access rules as the package', async () => {
    assert.equal((await api(berth, '/v3/berth/users/acme/packages/container/app/stats')).status, 404, 'acme is no user');
    await berth.admin((s) => s.accounts.createUser({ login: 'outsider' }));
    const outsider = `Bearer ${await createToken(berth, 'outsider', ['read:packages'])}`;
    assertGithubError(await api(berth, '/v3/berth/orgs/acme/packages/container/app/stats', { auth: outsider }), 404, 'Package not found.');
    assertGithubError(await api(berth, '/v3/berth/orgs/acme/packages/container/app/stats', { auth: null }), 401, 'Requires authentication');
    assertGithubError(await api(berth, '/v3/berth/orgs/acme/packages/container/app/versions/99999/stats'), 404, 'Package version not found.');
    await berth.admin((s) => s.packages.setVisibility('acme/app', 'public'));
    assert.equal((await api(berth, '/v3/berth/orgs/acme/packages/container/app/stats', { auth: outsider })).status, 200);
  });
});
