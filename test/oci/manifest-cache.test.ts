// The manifest cache (src/db/change-bound-cache.ts, used by src/registry/manifest-service.ts): manifest GETs and HEADs answered from memory, never stale
// after a change this server committed, and only briefly after one another process committed (SQLite: 10 ms;
// PostgreSQL: the notification's delivery). Checked through berth_manifest_cache_lookups_total and the answers.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { MEDIA, assertOciError, pushImage, registryFetch, useAuthorization } from '../helpers/http.js';

const METRICS_TOKEN = 'manifest-cache-metrics-token';
const REPO = 'acme/cached';

describe('manifest cache', () => {
  let berth: RunningBerth;

  before(async () => {
    berth = await startBerth({ env: { BERTH_METRICS_TOKEN: METRICS_TOKEN } });
    useAuthorization(berth.authorization);
  });
  after(async () => {
    await berth.stop();
  });

  async function lookups(): Promise<Record<'hit' | 'miss' | 'bypass', number>> {
    const text = await (await berth.fetch('/metrics', { auth: `Bearer ${METRICS_TOKEN}` })).text();
    const count = (result: string): number => Number(new RegExp(`^berth_manifest_cache_lookups_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { hit: count('hit'), miss: count('miss'), bypass: count('bypass') };
  }

  /** GET (or HEAD) of a manifest: its status and Docker-Content-Digest. */
  async function pull(reference: string, method: 'GET' | 'HEAD' = 'GET'): Promise<{ status: number; digest: string | null; body: string }> {
    const res = await registryFetch(`${berth.url}/v2/${REPO}/manifests/${reference}`, { method, headers: { Accept: MEDIA.ociManifest } });
    return { status: res.status, digest: res.headers.get('docker-content-digest'), body: await res.text() };
  }

  /** Polls until `reference` answers `status`; returns how long that took. */
  async function until(reference: string, status: number, limitMs: number): Promise<number> {
    const start = Date.now();
    for (;;) {
      if ((await pull(reference)).status === status) return Date.now() - start;
      if (Date.now() - start > limitMs) assert.fail(`${reference} still not ${status} after ${limitMs} ms`);
      await sleep(5);
    }
  }

  it('repeated GETs and HEADs are answered from memory, with the bytes and headers the database holds', async () => {
    const image = await pushImage(berth.url, REPO, 'first', 'v1');
    const before = await lookups();
    for (let i = 0; i < 5; i++) {
      const got = await pull('v1');
      assert.equal(got.status, 200);
      assert.equal(got.digest, image.digest);
      assert.equal(got.body, image.bytes.toString());
      const head = await pull('v1', 'HEAD');
      assert.deepEqual([head.status, head.digest, head.body], [200, image.digest, '']);
    }
    const now = await lookups();
    assert.ok(now.hit - before.hit >= 8, `hits ${before.hit} → ${now.hit}`);
    assert.ok(now.miss - before.miss <= 2, `misses ${before.miss} → ${now.miss}`);
    assert.equal(now.bypass, 0);
  });

  it('a tag moved, a tag deleted and a manifest deleted on this server are seen by the very next GET', async () => {
    const a = await pushImage(berth.url, REPO, 'move-a', 'moving');
    assert.equal((await pull('moving')).digest, a.digest);
    assert.equal((await pull('moving')).digest, a.digest);
    const b = await pushImage(berth.url, REPO, 'move-b', 'moving');
    assert.equal((await pull('moving')).digest, b.digest);
    assert.equal((await pull('moving', 'HEAD')).digest, b.digest);
    assert.equal((await pull(a.digest)).status, 200, 'the untagged manifest stays pullable by digest');

    assert.equal((await registryFetch(`${berth.url}/v2/${REPO}/manifests/moving`, { method: 'DELETE' })).status, 202);
    await assertOciError(await registryFetch(`${berth.url}/v2/${REPO}/manifests/moving`, { headers: { Accept: MEDIA.ociManifest } }), 404, 'MANIFEST_UNKNOWN');
    assert.equal((await registryFetch(`${berth.url}/v2/${REPO}/manifests/${a.digest}`, { method: 'DELETE' })).status, 202);
    assert.equal((await pull(a.digest)).status, 404);
    assert.equal((await pull(a.digest, 'HEAD')).status, 404);
    assert.equal((await pull(b.digest)).status, 200);
  });

  it('a change committed by another process (SQL on the same database) is seen within a second at most', async () => {
    const c = await pushImage(berth.url, REPO, 'external', 'external');
    assert.equal((await pull('external')).digest, c.digest);
    assert.equal((await pull('external')).digest, c.digest);
    await berth.query('DELETE FROM tags WHERE name = ?', 'external');
    const tagMs = await until('external', 404, 1000);
    assert.equal((await pull(c.digest)).status, 200);
    await berth.query('UPDATE manifests SET deleted_at = ? WHERE digest = ?', Date.now(), c.digest);
    const deleteMs = await until(c.digest, 404, 1000);
    // On SQLite the server looks at most every 10 ms; the polls above sleep 5 ms between GETs.
    if (berth.backend === 'sqlite-fs') assert.ok(tagMs < 100 && deleteMs < 100, `${tagMs} ms, ${deleteMs} ms`);
  });

  it('PostgreSQL: while the listener is lost the cache is bypassed, and a change made meanwhile is seen once it listens again', async (t) => {
    if (berth.backend === 'sqlite-fs') return t.skip('PostgreSQL only');
    const d = await pushImage(berth.url, REPO, 'listener', 'listener');
    assert.equal((await pull('listener')).digest, d.digest);
    const bypassed = (await lookups()).bypass;
    const terminated = await berth.query<{ ok: boolean }>(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'");
    assert.equal(terminated.length, 1, 'one listener connection');
    // Lost before the listener reconnects (1 s): its notification never arrives.
    await berth.query('DELETE FROM tags WHERE name = ?', 'listener');
    assert.equal((await pull('listener')).status, 404, 'answered from the database while the listener is down');
    await sleep(1500);
    assert.equal((await pull('listener')).status, 404);
    assert.ok((await lookups()).bypass > bypassed, 'lookups bypassed the cache while the listener was lost');
    const e = await pushImage(berth.url, REPO, 'listener-again', 'listener');
    assert.equal((await pull('listener')).digest, e.digest);
    const hits = (await lookups()).hit;
    assert.equal((await pull('listener')).digest, e.digest);
    assert.ok((await lookups()).hit > hits, 'the cache answers again once the listener is back');
  });
});

describe('manifest cache under bookkeeping writes', () => {
  let berth: RunningBerth;

  before(async () => {
    // Every pull audited (a commit per GET) and download counts flushed every 50 ms: writes no cache reads.
    berth = await startBerth({ env: { BERTH_METRICS_TOKEN: METRICS_TOKEN, BERTH_AUDIT_PULLS: 'true', BERTH_STATS_FLUSH_INTERVAL: '50ms' } });
    useAuthorization(berth.authorization);
  });
  after(async () => {
    await berth.stop();
  });

  it('pulls audited and download counts flushed leave the cache as it was; a tag moved still shows at once', async () => {
    const metric = async (result: string): Promise<number> => {
      const text = await (await berth.fetch('/metrics', { auth: `Bearer ${METRICS_TOKEN}` })).text();
      return Number(new RegExp(`^berth_manifest_cache_lookups_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    };
    const get = async (reference: string): Promise<string | null> => {
      const res = await registryFetch(`${berth.url}/v2/${REPO}/manifests/${reference}`, { headers: { Accept: MEDIA.ociManifest } });
      await res.arrayBuffer();
      assert.equal(res.status, 200);
      return res.headers.get('docker-content-digest');
    };
    const image = await pushImage(berth.url, REPO, 'audited', 'v1');
    assert.equal(await get('v1'), image.digest);
    const [hits, misses] = [await metric('hit'), await metric('miss')];
    const audited = async (): Promise<number> => Number((await berth.query<{ n: number | string }>("SELECT count(*) AS n FROM audit_log WHERE action = 'package.pull'"))[0]!.n);
    const before = await audited();
    for (let i = 0; i < 6; i++) {
      assert.equal(await get('v1'), image.digest);
      await sleep(60); // a download flush commits meanwhile
    }
    assert.equal(await audited(), before + 6, 'each pull committed an audit row');
    const downloads = await berth.query<{ n: number | string }>('SELECT coalesce(sum(count), 0) AS n FROM downloads_daily');
    assert.ok(Number(downloads[0]!.n) >= 7, 'download counts were flushed');
    assert.equal(await metric('miss'), misses, 'no lookup missed');
    assert.ok((await metric('hit')) - hits >= 6);
    const moved = await pushImage(berth.url, REPO, 'audited-2', 'v1');
    assert.equal(await get('v1'), moved.digest, 'a push through this server still empties the cache at once');
  });
});
