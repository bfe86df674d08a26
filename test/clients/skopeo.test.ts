// skopeo (containers/image) against a running Berth: push, pull, raw manifests, multi-arch indexes, paginated tags,
// cross-repository mounts, delete by digest, and a push that a crash interrupts and a retry completes.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { ClientError, runTool, skopeoCopy, skopeoDelete, skopeoInspect, skopeoListTags } from '../helpers/clients.js';
import {
  OCI_INDEX, OCI_MANIFEST, readLayoutBlob, summarize, summarizeLayout, writeImageLayout, writeIndexLayout, type BuiltImage,
} from '../helpers/oci-image.js';

const SOURCE = 'https://github.com/acme/app';
let berth: RunningBerth;
let work: string;
let app: BuiltImage;
let appLayout: string;
/** `tester:TOKEN` (owner of acme, read/write/delete) for every client command. */
let creds: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-skopeo-'));
  // A tiny default page size, so `skopeo list-tags` must follow Link headers.
  berth = await startBerth({ env: { BERTH_REGISTRY_TAGS_PAGE_SIZE: '2' } });
  appLayout = join(work, 'app');
  app = await writeImageLayout(appLayout, {
    layers: [1024, 300_000], tag: '1.0', labels: { 'org.opencontainers.image.source': SOURCE }, annotations: { 'org.opencontainers.image.source': SOURCE },
  });
  creds = `${berth.user}:${berth.token}`;
  await skopeoCopy(`oci:${appLayout}:1.0`, `docker://${berth.host}/acme/app:1.0`, [], { creds });
});

after(async () => {
  await berth?.stop();
  await rm(work, { recursive: true, force: true });
  if (berth) await rm(berth.dataDir, { recursive: true, force: true });
});

/** fetch on /v2 with the seeded user's credentials (Basic user:token, as curl would). */
function v2(path: string, init?: RequestInit): Promise<Response> {
  return berth.fetch(`${berth.url}/v2/${path}`, init);
}

async function errorCode(res: Response): Promise<string | undefined> {
  return ((await res.json()) as { errors?: { code: string }[] }).errors?.[0]?.code;
}

test('skopeo pushes an OCI layout and pulls back the same manifest, config and layers', async () => {
  const out = join(work, 'app-out');
  await skopeoCopy(`docker://${berth.host}/acme/app:1.0`, `oci:${out}:1.0`, [], { creds });
  assert.deepEqual(await summarizeLayout(out, '1.0'), summarize(app));
  assert.deepEqual(await readLayoutBlob(out, app.manifest.digest), app.manifestBytes);

  const res = await v2(`acme/app/manifests/1.0`, { headers: { Accept: OCI_MANIFEST } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('docker-content-digest'), app.manifest.digest);
  assert.equal(res.headers.get('content-type'), OCI_MANIFEST);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), app.manifestBytes);
});

test('skopeo inspect --raw returns the pushed manifest bytes, and inspect sees labels and digest', async () => {
  const raw = await skopeoInspect(`docker://${berth.host}/acme/app:1.0`, { raw: true, creds });
  assert.equal(raw, app.manifestBytes.toString('utf8'));
  const info = JSON.parse(await skopeoInspect(`docker://${berth.host}/acme/app:1.0`, { creds })) as { Digest: string; Labels: Record<string, string>; Layers: string[] };
  assert.equal(info.Digest, app.manifest.digest);
  assert.deepEqual(info.Labels, { 'org.opencontainers.image.source': SOURCE });
  assert.deepEqual(info.Layers, app.layers.map((l) => l.digest));
  const config = await skopeoInspect(`docker://${berth.host}/acme/app:1.0`, { raw: true, config: true, creds });
  assert.equal(config, app.configBytes.toString('utf8'));
});

test('skopeo copy --all pushes a multi-arch index and pulls it back with every platform', async () => {
  const layout = join(work, 'multi');
  const built = await writeIndexLayout(layout, { layers: [2048, 4096], tag: '2.0' });
  await skopeoCopy(`oci:${layout}:2.0`, `docker://${berth.host}/acme/multi:2.0`, ['--all'], { creds });

  const raw = await skopeoInspect(`docker://${berth.host}/acme/multi:2.0`, { raw: true, creds });
  assert.equal(raw, built.indexBytes.toString('utf8'));
  const head = await v2('acme/multi/manifests/2.0', { method: 'HEAD', headers: { Accept: OCI_INDEX } });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('docker-content-digest'), built.index.digest);
  assert.equal(head.headers.get('content-type'), OCI_INDEX);

  const out = join(work, 'multi-out');
  await skopeoCopy(`docker://${berth.host}/acme/multi:2.0`, `oci:${out}:2.0`, ['--all'], { creds });
  const pulled = await summarizeLayout(out, '2.0');
  assert.deepEqual(pulled, summarize(built));
  assert.equal(pulled.manifests?.length, 2);
});

test('skopeo list-tags follows the Link header across pages and returns every tag in lexical order', async () => {
  const tags = ['v2', 'latest', 'v10', 'a', 'v1', 'b-1', '1.0'];
  for (const tag of tags) await skopeoCopy(`oci:${appLayout}:1.0`, `docker://${berth.host}/acme/tagged:${tag}`, [], { creds });
  const expected = [...tags].sort();

  assert.deepEqual(await skopeoListTags(`docker://${berth.host}/acme/tagged`, { creds }), expected);

  // The server really paginated: n=2 gives two tags and a next link, and walking the links yields them all.
  const seen: string[] = [];
  let next: string | null = '/v2/acme/tagged/tags/list?n=2';
  let pages = 0;
  while (next !== null) {
    const res: Response = await berth.fetch(new URL(next, berth.url).toString());
    assert.equal(res.status, 200);
    const body = (await res.json()) as { name: string; tags: string[] };
    assert.equal(body.name, 'acme/tagged');
    assert.ok(body.tags.length <= 2, `page ${pages} has ${body.tags.length} tags`);
    seen.push(...body.tags);
    pages++;
    const link = res.headers.get('link');
    if (pages === 1) assert.match(link ?? '', /^<\/v2\/acme\/tagged\/tags\/list\?n=2&last=[^>]+>; rel="next"$/);
    next = link === null ? null : /^<([^>]+)>/.exec(link)![1]!;
  }
  assert.deepEqual(seen, expected);
  assert.equal(pages, Math.ceil(tags.length / 2));

  // Without n, the configured default page size (2) applies.
  const first = await v2('acme/tagged/tags/list');
  assert.deepEqual(((await first.json()) as { tags: string[] }).tags, expected.slice(0, 2));
  assert.ok(first.headers.get('link'), 'default page carries a Link header');
});

test('skopeo copy to another repository on the same registry mounts the layers, and every blob is readable there', async () => {
  const blobs = [app.config, ...app.layers];
  for (const b of blobs) {
    const res = await v2(`acme/other/blobs/${b.digest}`, { method: 'HEAD' });
    assert.equal(res.status, 404, `${b.digest} is not in acme/other before the copy`);
  }
  // --debug shows whether skopeo mounted: its blob-info cache knows a repository here that has the layers (it
  // pushed them), so it must mount them rather than upload them again. Configs are always uploaded.
  const copy = await runTool('skopeo', [
    '--debug', '--insecure-policy', 'copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', creds, '--dest-creds', creds,
    `docker://${berth.host}/acme/app:1.0`, `docker://${berth.host}/acme/other:1.0`,
  ]);
  const mountLines = copy.stderr.split('\n').filter((l) => /Trying to mount|mount OK|mount failed/i.test(l));
  for (const layer of app.layers) {
    const attempt = new RegExp(`Trying to mount /v2/acme/other/blobs/uploads/\\?from=[^&"]+&mount=sha256%3A${layer.digest.slice('sha256:'.length)}`);
    assert.ok(mountLines.some((l) => attempt.test(l)), `skopeo tried no mount of ${layer.digest}:\n${mountLines.join('\n')}`);
  }
  assert.equal(mountLines.filter((l) => l.includes('... mount OK')).length, app.layers.length, mountLines.join('\n'));
  for (const b of blobs) {
    const res = await v2(`acme/other/blobs/${b.digest}`, { method: 'HEAD' });
    assert.equal(res.status, 200, `HEAD ${b.digest} in acme/other`);
    assert.equal(res.headers.get('docker-content-digest'), b.digest);
    assert.equal(res.headers.get('content-length'), String(b.size));
  }
  const manifest = await v2('acme/other/manifests/1.0', { method: 'HEAD', headers: { Accept: OCI_MANIFEST } });
  assert.equal(manifest.headers.get('docker-content-digest'), app.manifest.digest);
});

test('POST ?mount=&from= links an existing blob with 201, and an unknown one falls back to an upload session', async () => {
  const layer = app.layers[1]!;
  assert.equal((await v2(`acme/other2/blobs/${layer.digest}`, { method: 'HEAD' })).status, 404);

  const res = await v2(`acme/other2/blobs/uploads/?mount=${layer.digest}&from=acme/app`, { method: 'POST' });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get('docker-content-digest'), layer.digest);
  assert.equal(res.headers.get('location'), `/v2/acme/other2/blobs/${layer.digest}`);

  const head = await v2(`acme/other2/blobs/${layer.digest}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(layer.size));
  const body = Buffer.from(await (await v2(`acme/other2/blobs/${layer.digest}`)).arrayBuffer());
  assert.deepEqual(body, await readLayoutBlob(appLayout, layer.digest));

  // Spec: a mount the registry cannot perform starts an ordinary upload session (202) instead.
  const missing = `sha256:${'0'.repeat(64)}`;
  const fallback = await v2(`acme/other2/blobs/uploads/?mount=${missing}&from=acme/app`, { method: 'POST' });
  assert.equal(fallback.status, 202);
  assert.match(fallback.headers.get('location') ?? '', /^\/v2\/acme\/other2\/blobs\/uploads\/[0-9a-f-]{36}$/);
});

test('skopeo delete by digest removes the manifest and its tags', async () => {
  const layout = join(work, 'doomed');
  const doomed = await writeImageLayout(layout, { layers: [512], tag: 'x' });
  await skopeoCopy(`oci:${layout}:x`, `docker://${berth.host}/acme/doomed:x`, [], { creds });
  assert.equal((await v2(`acme/doomed/manifests/${doomed.manifest.digest}`)).status, 200);

  await skopeoDelete(`docker://${berth.host}/acme/doomed@${doomed.manifest.digest}`, { creds });

  const byDigest = await v2(`acme/doomed/manifests/${doomed.manifest.digest}`, { headers: { Accept: OCI_MANIFEST } });
  assert.equal(byDigest.status, 404);
  assert.equal(await errorCode(byDigest), 'MANIFEST_UNKNOWN');
  const byTag = await v2('acme/doomed/manifests/x', { headers: { Accept: OCI_MANIFEST } });
  assert.equal(byTag.status, 404);
  assert.equal(await errorCode(byTag), 'MANIFEST_UNKNOWN');
  await assert.rejects(skopeoInspect(`docker://${berth.host}/acme/doomed:x`, { raw: true, creds }), ClientError);
});

test('a push cut off by a server crash fails, a retry completes, and no partial blob is ever readable', async () => {
  // Its own Berth: this test SIGKILLs the server.
  const crashy = await startBerth();
  const crashyCreds = `${crashy.user}:${crashy.token}`;
  const layout = join(work, 'big');
  try {
    const big = await writeImageLayout(layout, { layers: [4096, 200 * 1024 * 1024], tag: 'big' });
    const bigLayer = big.layers[1]!;
    const ref = `docker://${crashy.host}/acme/big:1`;
    const first = skopeoCopy(`oci:${layout}:big`, ref, [], { creds: crashyCreds }).then(() => 'completed', (err: unknown) => err);

    // Kill once the server has durably received part of the big layer.
    const deadline = Date.now() + 60_000;
    for (;;) {
      if ((await crashy.scratchBytes()) > 16 * 1024 * 1024) break;
      assert.ok(Date.now() < deadline, 'the big layer upload never reached 16 MiB');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await crashy.kill();
    await crashy.restart();

    const outcome = await first;
    assert.ok(outcome instanceof ClientError, `the interrupted push should fail, got ${String(outcome)}`);
    const partial = await crashy.fetch(`/v2/acme/big/blobs/${bigLayer.digest}`, { method: 'HEAD' });
    assert.equal(partial.status, 404, 'a half-uploaded layer must not be visible');

    await skopeoCopy(`oci:${layout}:big`, ref, [], { creds: crashyCreds });
    const out = join(work, 'big-out');
    await skopeoCopy(ref, `oci:${out}:big`, [], { creds: crashyCreds });
    assert.deepEqual(await summarizeLayout(out, 'big'), summarize(big));
    await rm(out, { recursive: true, force: true });

    // Every committed blob's content matches its name; the big layer is among them.
    const store = await crashy.blobStore();
    const stored: string[] = [];
    for await (const blob of store.list()) {
      const hash = createHash('sha256');
      for await (const chunk of await store.read(blob.digest)) hash.update(chunk as Buffer);
      assert.equal(`sha256:${hash.digest('hex')}`, blob.digest, `content of ${blob.digest}`);
      stored.push(blob.digest);
    }
    assert.ok(stored.includes(bigLayer.digest), 'big layer is stored');
  } finally {
    await crashy.stop();
    await rm(layout, { recursive: true, force: true });
    await rm(crashy.dataDir, { recursive: true, force: true });
  }
});
