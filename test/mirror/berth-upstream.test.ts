// A Berth mirroring another Berth, which speaks Docker token auth (401 challenge → realm → bearer JWT per repository
// scope): with credentials for a private package and anonymously for a public one; tokens are cached, not fetched
// per request; the mirror's own readers are chosen by mirror.access.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { skopeoCopy } from '../helpers/clients.js';
import { assertOciError } from '../helpers/http.js';
import { summarize, summarizeLayout, writeImageLayout } from '../helpers/oci-image.js';

let upstream: RunningBerth;
let mirror: RunningBerth;
let work: string;
let readToken: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-mirror-berth-'));
  // Info level: its request lines show how often the mirror asked /token.
  upstream = await startBerth({ env: { BERTH_LOG_LEVEL: 'info' } });
  readToken = await upstream.admin(async (s) => (await s.tokens.create({
    userId: (await s.accounts.getUser(upstream.user)).id, note: 'mirror', scopes: ['read:packages'], expiresAt: null,
  })).token);
  mirror = await startBerth({
    env: {
      BERTH_MIRROR_UPSTREAMS_UP_URL: upstream.url,
      BERTH_MIRROR_UPSTREAMS_UP_USERNAME: upstream.user,
      BERTH_MIRROR_UPSTREAMS_UP_PASSWORD: readToken,
      BERTH_MIRROR_UPSTREAMS_ANON_URL: upstream.url,
      // Anyone may pull through this instance's mirrors.
      BERTH_MIRROR_ACCESS: 'public',
    },
  });
});

after(async () => {
  await mirror?.stop();
  await upstream?.stop();
  await rm(work, { recursive: true, force: true });
});

/** An anonymous client's bearer token from the mirror's /token, as docker gets one after the 401 challenge. */
async function anonymous(repository: string): Promise<string> {
  const res = await fetch(`${mirror.url}/token?service=${encodeURIComponent(mirror.host)}&scope=repository:${repository}:pull`);
  assert.equal(res.status, 200);
  return `Bearer ${(await res.json() as { token: string }).token}`;
}

function tokenRequests(): number {
  return upstream.logLines().filter((l) => l.msg === 'request' && l.route === '/token').length;
}

test('a private package pulls through with the mirror\'s token credentials; the realm is asked once per repository', async () => {
  const layout = join(work, 'private');
  const built = await writeImageLayout(layout, { layers: [30_000, 5000], tag: '1' });
  await skopeoCopy(`oci:${layout}:1`, `docker://${upstream.host}/acme/private-app:1`, [], { creds: `${upstream.user}:${upstream.token}` });
  const before = tokenRequests();

  // Anonymous client (mirror.access public), the mirror signs in upstream.
  const out = join(work, 'private-out');
  await skopeoCopy(`docker://${mirror.host}/up/acme/private-app:1`, `oci:${out}:1`);
  assert.deepEqual(await summarizeLayout(out, '1'), summarize(built));
  // Manifest, config and two layers: one token for repository:acme/private-app:pull, reused until it expires. The
  // upstream writes its log through a buffer flushed every 250 ms: wait for the line on a busy machine.
  for (let waited = 0; tokenRequests() - before < 1 && waited < 5000; waited += 100) await sleep(100);
  assert.equal(tokenRequests() - before, 1);

  // The same package without credentials: the upstream does not show it (404 there, as for a missing package).
  const auth = await anonymous('anon/acme/private-app');
  await assertOciError(await mirror.fetch('/v2/anon/acme/private-app/manifests/1', { auth }), 404, 'NAME_UNKNOWN');
});

test('a public package pulls through anonymously (an anonymous token from the realm)', async () => {
  const layout = join(work, 'public');
  const built = await writeImageLayout(layout, { layers: [12_000], tag: '2' });
  await skopeoCopy(`oci:${layout}:2`, `docker://${upstream.host}/acme/public-app:2`, [], { creds: `${upstream.user}:${upstream.token}` });
  await upstream.admin((s) => s.packages.setVisibility('acme/public-app', 'public'));

  const auth = await anonymous('anon/acme/public-app');
  const res = await mirror.fetch('/v2/anon/acme/public-app/manifests/2', {
    auth, headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(res.status, 200);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, built.manifest.digest);
  assert.equal(res.headers.get('docker-content-digest'), built.manifest.digest);
  const layer = await mirror.fetch(`/v2/anon/acme/public-app/blobs/${built.layers[0]!.digest}`, { auth });
  assert.equal(layer.status, 200);
  assert.equal(`sha256:${createHash('sha256').update(Buffer.from(await layer.arrayBuffer())).digest('hex')}`, built.layers[0]!.digest);
  // Cached now: the same blob again comes from the cache (Range works on it like on any stored blob).
  const part = await mirror.fetch(`/v2/anon/acme/public-app/blobs/${built.layers[0]!.digest}`, { auth, headers: { Range: 'bytes=0-9' } });
  assert.equal(part.status, 206);
});
