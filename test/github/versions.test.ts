// GET …/packages/container/{name}/versions[/{id}]: one version per manifest digest (multi-arch children included,
// as on GHCR), tags in metadata, description and licence from annotations or labels, newest first, paginated.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { api, assertGithubError, createToken, pushIndex, pushLabelledImage } from '../helpers/github.js';
import { pushImage, useAuthorization } from '../helpers/http.js';

interface Version {
  id: number; name: string; url: string; html_url: string; package_html_url: string; created_at: string; updated_at: string;
  license?: string; description?: string; deleted_at?: string;
  metadata: { package_type: string; container: { tags: string[] } };
}

let berth: RunningBerth;
let amd64: string;
let arm64: string;
let index: string;
let labelled: string;
let plain: string;

before(async () => {
  berth = await startBerth();
  useAuthorization(berth.authorization);
  plain = (await pushImage(berth.url, 'acme/app', 'plain', 'old')).digest;
  await new Promise((r) => setTimeout(r, 5)); // distinct creation times for the ordering check
  labelled = (await pushLabelledImage(berth.url, 'acme/app', 'labelled', {
    reference: 'labelled',
    labels: { 'org.opencontainers.image.description': 'From the config labels', 'org.opencontainers.image.licenses': 'MIT' },
  })).digest;
  await new Promise((r) => setTimeout(r, 5));
  const a = await pushLabelledImage(berth.url, 'acme/app', 'amd64', { platform: { architecture: 'amd64', os: 'linux' } });
  const b = await pushLabelledImage(berth.url, 'acme/app', 'arm64', {
    platform: { architecture: 'arm64', os: 'linux' }, annotations: { 'org.opencontainers.image.description': 'arm64 child' },
  });
  amd64 = a.digest;
  arm64 = b.digest;
  await new Promise((r) => setTimeout(r, 5));
  index = await pushIndex(berth.url, 'acme/app', 'latest', [a.descriptor, b.descriptor], {
    'org.opencontainers.image.description': 'A multi-arch app', 'org.opencontainers.image.licenses': 'Apache-2.0',
  });
  // A second tag on the index.
  await pushIndex(berth.url, 'acme/app', '1.0', [a.descriptor, b.descriptor], {
    'org.opencontainers.image.description': 'A multi-arch app', 'org.opencontainers.image.licenses': 'Apache-2.0',
  });
});
after(() => berth.stop());

describe('package versions', () => {
  it('lists every manifest as a version, newest first, with its tags', async () => {
    const res = await api<Version[]>(berth, '/v3/orgs/acme/packages/container/app/versions');
    assert.equal(res.status, 200, res.text);
    const byName = new Map(res.body.map((v) => [v.name, v]));
    assert.deepEqual(new Set(res.body.map((v) => v.name)), new Set([plain, labelled, amd64, arm64, index]));
    assert.equal(res.body[0]!.name, index, 'the index, pushed last, comes first');
    assert.equal(res.body.at(-1)!.name, plain, 'the first push comes last');
    assert.deepEqual(byName.get(index)!.metadata, { package_type: 'container', container: { tags: ['1.0', 'latest'] } });
    assert.deepEqual(byName.get(amd64)!.metadata.container.tags, [], 'multi-arch children are untagged versions');
    assert.deepEqual(byName.get(plain)!.metadata.container.tags, ['old']);
    const ids = res.body.map((v) => v.id);
    assert.deepEqual([...ids].sort((x, y) => y - x), ids, 'ids (manifest ids) descend with the push order');
    const pkg = await api<{ version_count: number }>(berth, '/v3/orgs/acme/packages/container/app');
    assert.equal(pkg.body.version_count, 5);
  });

  it('takes description and licence from the index annotations, the manifest annotations or the config labels', async () => {
    const byName = new Map((await api<Version[]>(berth, '/v3/orgs/acme/packages/container/app/versions')).body.map((v) => [v.name, v]));
    assert.equal(byName.get(index)!.description, 'A multi-arch app');
    assert.equal(byName.get(index)!.license, 'Apache-2.0');
    assert.equal(byName.get(labelled)!.description, 'From the config labels');
    assert.equal(byName.get(labelled)!.license, 'MIT');
    assert.equal(byName.get(arm64)!.description, 'arm64 child');
    assert.ok(!('license' in byName.get(arm64)!));
    assert.ok(!('description' in byName.get(plain)!) && !('license' in byName.get(plain)!), 'absent when there is no label');
  });

  it('builds version URLs pointing at Berth itself', async () => {
    const [v] = (await api<Version[]>(berth, '/v3/orgs/acme/packages/container/app/versions?per_page=1')).body;
    assert.equal(v!.url, `${berth.url}/api/v3/orgs/acme/packages/container/app/versions/${v!.id}`);
    assert.equal(v!.html_url, `${berth.url}/orgs/acme/packages/container/app/${v!.id}`);
    assert.equal(v!.package_html_url, `${berth.url}/orgs/acme/packages/container/package/app`);
    assert.match(v!.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('paginates newest first with Link headers', async () => {
    const first = await api<Version[]>(berth, '/v3/orgs/acme/packages/container/app/versions?per_page=2');
    assert.deepEqual(first.body.map((v) => v.name).slice(0, 1), [index]);
    const base = `${berth.url}/api/v3/orgs/acme/packages/container/app/versions?per_page=2`;
    assert.equal(first.headers.get('link'), `<${base}&page=2>; rel="next", <${base}&page=3>; rel="last"`);
    const third = await api<Version[]>(berth, '/v3/orgs/acme/packages/container/app/versions?per_page=2&page=3');
    assert.deepEqual(third.body.map((v) => v.name), [plain]);
    const all = [...first.body, ...(await api<Version[]>(berth, '/v3/orgs/acme/packages/container/app/versions?per_page=2&page=2')).body, ...third.body];
    assert.equal(new Set(all.map((v) => v.id)).size, 5, 'pages do not overlap');
  });

  it('filters by state (active by default; deleted lists nothing yet); other states are 422', async () => {
    assert.equal((await api<Version[]>(berth, '/v3/orgs/acme/packages/container/app/versions?state=active')).body.length, 5);
    assert.deepEqual((await api<Version[]>(berth, '/v3/orgs/acme/packages/container/app/versions?state=deleted')).body, []);
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/app/versions?state=gone'), 422, /"gone" is not a valid state/);
  });

  it('gets one version by id, 404 for an unknown or foreign id', async () => {
    const list = (await api<Version[]>(berth, '/v3/orgs/acme/packages/container/app/versions')).body;
    const one = await api<Version>(berth, `/v3/orgs/acme/packages/container/app/versions/${list[1]!.id}`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.body, list[1]);
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/app/versions/999999'), 404, 'Package version not found.');
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/app/versions/abc'), 404, 'Package version not found.');
    await pushImage(berth.url, 'acme/other', 'other', 'v1');
    const foreign = (await api<Version[]>(berth, '/v3/orgs/acme/packages/container/other/versions')).body[0]!;
    assertGithubError(await api(berth, `/v3/orgs/acme/packages/container/app/versions/${foreign.id}`), 404, 'Package version not found.');
  });

  it('hides the versions of a private package from those who cannot read it', async () => {
    await berth.admin((s) => s.accounts.createUser({ login: 'outsider' }));
    const token = await createToken(berth, 'outsider', ['read:packages']);
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/app/versions', { auth: `Bearer ${token}` }), 404, 'Package not found.');
    assertGithubError(await api(berth, '/v3/orgs/acme/packages/container/app/versions/1', { auth: `Bearer ${token}` }), 404, 'Package not found.');
    await berth.admin((s) => s.packages.setVisibility('acme/app', 'public'));
    assert.equal((await api<Version[]>(berth, '/v3/orgs/acme/packages/container/app/versions', { auth: `Bearer ${token}` })).body.length, 5);
  });
});
