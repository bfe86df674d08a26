// An upstream answering 429 Too Many Requests (Docker Hub's pull limit), injected by a small proxy in front of the CNCF
// registry: cached tags are served as they are, the upstream is left alone for its Retry-After, and what is not
// cached fails with 503 and that Retry-After.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { skopeoCopy } from '../helpers/clients.js';
import { summarize, summarizeLayout, writeImageLayout } from '../helpers/oci-image.js';
import { startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.js';

let upstream: UpstreamRegistry;
let proxy: Server;
let berth: RunningBerth;
let work: string;
/** While set, the proxy answers every request 429 with this Retry-After (seconds) and counts them. */
let throttle: number | null = null;
let throttled = 0;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-mirror-429-'));
  upstream = await startUpstreamRegistry();
  const target = new URL(upstream.url);
  proxy = createServer((req, res) => {
    if (throttle !== null) {
      throttled++;
      req.resume();
      res.writeHead(429, { 'Retry-After': String(throttle), 'Content-Type': 'application/json' });
      res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"pull rate limit"}]}');
      return;
    }
    const forward = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  berth = await startBerth({
    env: {
      BERTH_MIRROR_UPSTREAMS_HUB_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      BERTH_MIRROR_UPSTREAMS_HUB_USERNAME: upstream.username,
      BERTH_MIRROR_UPSTREAMS_HUB_PASSWORD: upstream.password,
      BERTH_MIRROR_TAG_TTL: '0s',
    },
  });
});

after(async () => {
  await berth?.stop();
  await new Promise((resolve) => proxy?.close(resolve));
  await upstream?.stop();
  await rm(work, { recursive: true, force: true });
});

test('429 upstream: cached tags still pull, the upstream is not asked again within its Retry-After, uncached content is 503', async () => {
  const layout = join(work, 'image');
  const built = await writeImageLayout(layout, { layers: [25_000], tag: '1' });
  await skopeoCopy(`oci:${layout}:1`, `docker://${upstream.host}/library/app:1`, [], { creds: upstream.creds });
  await skopeoCopy(`oci:${layout}:1`, `docker://${upstream.host}/library/other:1`, [], { creds: upstream.creds });
  const creds = `${berth.user}:${berth.token}`;
  await skopeoCopy(`docker://${berth.host}/hub/library/app:1`, `oci:${join(work, 'first')}:1`, [], { creds });

  // An hour: the hold cannot run out during the test, however slow the machine.
  throttle = 3600;
  const out = join(work, 'again');
  await skopeoCopy(`docker://${berth.host}/hub/library/app:1`, `oci:${out}:1`, [], { creds });
  assert.deepEqual(await summarizeLayout(out, '1'), summarize(built));
  // The revalidation HEAD met the 429; since then Berth held off.
  assert.equal(throttled, 1);
  await skopeoCopy(`docker://${berth.host}/hub/library/app:1`, `oci:${join(work, 'third')}:1`, [], { creds });
  const uncached = await berth.fetch('/v2/hub/library/other/manifests/1');
  assert.equal(uncached.status, 503);
  assert.ok(Number(uncached.headers.get('retry-after')) > 3000, `Retry-After ${uncached.headers.get('retry-after')}`);
  const error = (await uncached.json() as { errors: { code: string; message: string }[] }).errors[0]!;
  assert.equal(error.code, 'UNAVAILABLE');
  assert.match(error.message, /is unavailable and hub\/library\/other:1 is not cached yet \(.*429.*\)/);
  assert.equal(throttled, 1, 'no request reached the upstream while it asked us to wait');
});
