// Download statistics: every manifest GET (not HEAD) counts one pull of that version on that day; counts are
// buffered in memory and flushed to downloads_daily every BERTH_STATS_FLUSH_INTERVAL.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { MEDIA, assertOciError, pushBlob, pushImage, pushManifest, registryFetch, sha256, type PushedImage, useAuthorization } from '../helpers/http.js';

const FLUSH_MS = 200;

describe('OCI download counts', () => {
  let berth: RunningBerth;
  let url: string;

  before(async () => {
    berth = await startBerth({ env: { BERTH_STATS_FLUSH_INTERVAL: `${FLUSH_MS}ms` } });
    useAuthorization(berth.authorization);
    url = berth.url;
  });
  after(async () => {
    await berth.stop();
  });

  /** downloads_daily rows for `digest` in repository `name`, read from the server's own metadata database. */
  function counts(name: string, digest: string): Promise<Array<{ day: number; count: number }>> {
    return berth.query<{ day: number; count: number }>(`
        select d.day as day, d.count as count
        from downloads_daily d
        join manifests m on m.id = d.manifest_id
        join repositories r on r.id = m.repository_id
        where r.name = ? and m.digest = ?
        order by d.day`, name, digest);
  }

  async function total(name: string, digest: string): Promise<number> {
    return (await counts(name, digest)).reduce((sum, r) => sum + r.count, 0);
  }

  /** Waits until the total for `digest` reaches `expected` (a few flush intervals at most), then checks it stays. */
  async function expectTotal(name: string, digest: string, expected: number): Promise<void> {
    const deadline = Date.now() + 20 * FLUSH_MS;
    while (Date.now() < deadline && (await total(name, digest)) < expected) await sleep(FLUSH_MS / 4);
    // One more interval: nothing further (e.g. HEADs) may be added.
    await sleep(FLUSH_MS * 2);
    assert.equal(await total(name, digest), expected, `downloads of ${name}@${digest}`);
  }

  async function get(name: string, reference: string, method = 'GET'): Promise<void> {
    const res = await registryFetch(`${url}/v2/${name}/manifests/${reference}`, { method, headers: { Accept: `${MEDIA.ociManifest}, ${MEDIA.ociIndex}` } });
    assert.equal(res.status, 200, `${method} ${name}:${reference}`);
    await res.arrayBuffer();
  }

  let app: PushedImage;
  let other: PushedImage;

  before(async () => {
    app = await pushImage(url, 'acme/app', 'downloads app', 'v1');
    other = await pushImage(url, 'acme/app', 'downloads other', 'v2');
  });

  it('GETs by tag and by digest count toward the version, per day; HEADs do not', async () => {
    for (let i = 0; i < 3; i++) await get('acme/app', 'v1');
    for (let i = 0; i < 2; i++) await get('acme/app', app.digest);
    for (let i = 0; i < 4; i++) await get('acme/app', 'v1', 'HEAD');
    await get('acme/app', 'v2');

    await expectTotal('acme/app', app.digest, 5);
    await expectTotal('acme/app', other.digest, 1);
    const rows = await counts('acme/app', app.digest);
    assert.equal(rows.length, 1);
    const today = Math.floor(Date.now() / 86_400_000);
    assert.ok(rows[0]!.day === today || rows[0]!.day === today - 1, `day ${rows[0]!.day} vs today ${today}`);
  });

  it('a manifest that was only HEADed, and blob GETs, count nothing', async () => {
    const quiet = await pushImage(url, 'acme/app', 'only headed', 'quiet');
    for (let i = 0; i < 3; i++) await get('acme/app', 'quiet', 'HEAD');
    const blob = await registryFetch(`${url}/v2/acme/app/blobs/${quiet.config.digest}`);
    assert.equal(blob.status, 200);
    await blob.arrayBuffer();
    await sleep(FLUSH_MS * 3);
    assert.deepEqual(await counts('acme/app', quiet.digest), []);
  });

  it('failed GETs (unknown tag, unknown repository) count nothing and do not break the flush', async () => {
    await assertOciError(await registryFetch(`${url}/v2/acme/app/manifests/nope`), 404, 'MANIFEST_UNKNOWN');
    await assertOciError(await registryFetch(`${url}/v2/acme/none/manifests/v1`), 404, 'NAME_UNKNOWN');
    await get('acme/app', 'v2');
    await expectTotal('acme/app', other.digest, 2);
  });

  it('the same manifest in two repositories is counted separately', async () => {
    // Push the identical image bytes into a second repository.
    const { config, layers } = app;
    const configBody = await (await registryFetch(`${url}/v2/acme/app/blobs/${config.digest}`)).arrayBuffer();
    const layerBody = await (await registryFetch(`${url}/v2/acme/app/blobs/${layers[0]!.digest}`)).arrayBuffer();
    await pushBlob(url, 'acme/mirror', Buffer.from(configBody));
    await pushBlob(url, 'acme/mirror', Buffer.from(layerBody));
    await pushManifest(url, 'acme/mirror', 'v1', app.bytes, MEDIA.ociManifest);
    assert.equal(sha256(app.bytes), app.digest);

    await get('acme/mirror', 'v1');
    await get('acme/mirror', 'v1');
    await expectTotal('acme/mirror', app.digest, 2);
    await expectTotal('acme/app', app.digest, 5);
  });

  it('an index pull counts for the index itself', async () => {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [app.descriptor] }));
    const pushed = await pushManifest(url, 'acme/app', 'multi', index, MEDIA.ociIndex);
    await get('acme/app', 'multi');
    await expectTotal('acme/app', pushed.digest, 1);
  });

  it('counts buffered at shutdown are written by a graceful stop', async () => {
    const before = await total('acme/app', app.digest);
    // Slow the flush down so only the shutdown can write these.
    await berth.stop();
    const slow = await startBerth({ dataDir: berth.dataDir, env: { BERTH_STATS_FLUSH_INTERVAL: '1h' } });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await registryFetch(`${slow.url}/v2/acme/app/manifests/v1`);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
      await sleep(FLUSH_MS * 2);
      assert.equal(await total('acme/app', app.digest), before);
      await slow.stop();
      assert.equal(await total('acme/app', app.digest), before + 3);
    } finally {
      await slow.stop();
      await berth.restart();
      url = berth.url;
    }
  });

  it('deleting a manifest removes its counts', async () => {
    const doomed = await pushImage(url, 'acme/app', 'doomed', 'doomed');
    await get('acme/app', 'doomed');
    await expectTotal('acme/app', doomed.digest, 1);
    const del = await registryFetch(`${url}/v2/acme/app/manifests/${doomed.digest}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    assert.deepEqual(await counts('acme/app', doomed.digest), []);
  });
});
