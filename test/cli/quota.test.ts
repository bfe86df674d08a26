// Storage quotas and the one storage figure, through the built CLI (`berth quota`, `berth usage recompute`), the
// REST stats and real skopeo and podman pushes: the figure counts each blob once per package and once per owner plus the
// manifests; a push over quota is refused with a message skopeo prints and leaves nothing visible; concurrent pushes
// near the limit (two replicas on PostgreSQL) never pass it, and a recompute finds the figure the pushes kept.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { runBuilt, type CliResult } from '../helpers/built-cli.js';
import { ClientError, createPodman, skopeoCopy } from '../helpers/clients.js';
import { MEDIA, pushBlob, pushManifest, registryFetch, sha256, useAuthorization, type Descriptor } from '../helpers/http.js';
import { writeImageLayout } from '../helpers/oci-image.js';

let berth: RunningBerth;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-quota-'));
  berth = await startBerth();
  useAuthorization(berth.authorization);
  await berth.admin(async (s) => {
    for (const org of ['figures', 'limited', 'race']) await s.accounts.createOrg(org, berth.user);
  });
});

after(async () => {
  await berth?.stop();
  await rm(work, { recursive: true, force: true });
});

/** The built `berth` on the server's data (and database, on PostgreSQL). */
function cli(...args: string[]): CliResult {
  return runBuilt([...args, '--data', berth.dataDir], { env: { ...process.env, ...berth.metadataEnv } });
}

function ok(r: CliResult): string {
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The owner's figure as `berth quota show OWNER --json` prints it. */
function storageOf(owner: string): { storage_bytes: number; quota_bytes: number | null; packages: number } {
  const [row] = JSON.parse(ok(cli('quota', 'show', owner, '--json'))) as { storage_bytes: number; quota_bytes: number | null; packages: number }[];
  return row!;
}

async function packageStats(owner: string, name: string): Promise<number> {
  const res = await berth.fetch(`/api/v3/berth/orgs/${owner}/packages/container/${name}/stats`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { size_in_bytes: number }).size_in_bytes;
}

async function tagDigest(name: string, tag: string): Promise<string | null> {
  const res = await berth.fetch(`/v2/${name}/manifests/${tag}`, { method: 'HEAD', headers: { accept: MEDIA.ociManifest } });
  return res.status === 200 ? res.headers.get('docker-content-digest') : null;
}

async function refusal(run: Promise<unknown>): Promise<string> {
  const err = await run.then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ClientError, 'the client should have failed');
  return err.stderr + err.stdout;
}

const blob = async (name: string, bytes: Buffer, mediaType: string): Promise<Descriptor> => ({ mediaType, digest: await pushBlob(berth.url, name, bytes), size: bytes.length });
const manifestOf = (config: Descriptor, layers: Descriptor[]): Buffer => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers }));
const configBytes = (seed: string): Buffer => Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed }));

test('one storage figure: distinct blobs plus manifests, a blob shared by two packages counted once for the owner', async () => {
  const layer = Buffer.alloc(3000, 5);
  const [c1, c2] = [configBytes('one'), configBytes('two')];
  const L1 = await blob('figures/one', layer, MEDIA.ociLayer);
  const L2 = await blob('figures/two', layer, MEDIA.ociLayer);
  const m1 = manifestOf(await blob('figures/one', c1, MEDIA.ociConfig), [L1]);
  const m2 = manifestOf(await blob('figures/two', c2, MEDIA.ociConfig), [L2]);
  await pushManifest(berth.url, 'figures/one', '1', m1, MEDIA.ociManifest);
  await pushManifest(berth.url, 'figures/two', '1', m2, MEDIA.ociManifest);
  // A second version of `one` with the same layer: the layer still counts once for the package.
  const m1b = manifestOf(await blob('figures/one', configBytes('one-b'), MEDIA.ociConfig), [L1]);
  await pushManifest(berth.url, 'figures/one', '2', m1b, MEDIA.ociManifest);

  const one = c1.length + configBytes('one-b').length + layer.length + m1.length + m1b.length;
  const two = c2.length + layer.length + m2.length;
  assert.equal(await packageStats('figures', 'one'), one);
  assert.equal(await packageStats('figures', 'two'), two);
  const owner = one + two - layer.length;
  assert.equal(storageOf('figures').storage_bytes, owner);
  assert.equal(storageOf('figures').packages, 2);

  // A deleted package leaves the owner's figure (the shared layer stays counted through `one`); a restore brings it back.
  assert.equal((await berth.fetch('/api/v3/orgs/figures/packages/container/two', { method: 'DELETE' })).status, 204);
  assert.equal(storageOf('figures').storage_bytes, one);
  assert.equal((await berth.fetch('/api/v3/orgs/figures/packages/container/two/restore', { method: 'POST' })).status, 204);
  assert.equal(storageOf('figures').storage_bytes, owner);
  // Deleting a version by digest on /v2 takes its config and manifest out, not the layer the other version keeps.
  assert.equal((await berth.fetch(`/v2/figures/one/manifests/${sha256(m1b)}`, { method: 'DELETE' })).status, 202);
  assert.equal(await packageStats('figures', 'one'), one - configBytes('one-b').length - m1b.length);

  const recomputed = ok(cli('usage', 'recompute', 'figures'));
  assert.match(recomputed, /^figures: \d+(\.\d+)? KiB \(no quota\)$/m);
  assert.doesNotMatch(recomputed, /was/, 'the incremental figure was already right');
});

test('a push over quota is refused with a message skopeo and podman print, and nothing of it becomes visible', async () => {
  const small = join(work, 'small');
  const big = join(work, 'big');
  const other = join(work, 'other');
  await writeImageLayout(small, { layers: [2048], tag: 'x' });
  const bigImage = await writeImageLayout(big, { layers: [64 * 1024], tag: 'x' });
  await writeImageLayout(other, { layers: [1024], tag: 'x' });
  const creds = `${berth.user}:${berth.token}`;
  const push = (layout: string, dest: string) => skopeoCopy(`oci:${layout}:x`, `docker://${berth.host}/${dest}`, [], { creds });

  await push(small, 'limited/app:small');
  const used = storageOf('limited').storage_bytes;
  assert.ok(used > 2048);
  assert.match(ok(cli('quota', 'set', 'limited', String(used + 16 * 1024))), /^quota of limited set to \d+(\.\d+)? KiB$/m);

  const refused = await refusal(push(big, 'limited/app:big'));
  assert.match(refused, /denied/i);
  assert.match(refused, /limited is over its storage quota: this push would make it \d+(\.\d+)? KiB used of \d+(\.\d+)? KiB; delete versions or ask an admin to raise it/);
  assert.equal(await tagDigest('limited/app', 'big'), null, 'the refused tag is absent');
  assert.equal((await berth.fetch(`/v2/limited/app/manifests/${bigImage.manifest.digest}`, { method: 'HEAD', headers: { accept: MEDIA.ociManifest } })).status, 404);
  assert.equal(storageOf('limited').storage_bytes, used, 'the figure did not move');

  // A package quota holds that package only.
  ok(cli('quota', 'clear', 'limited'));
  ok(cli('quota', 'set', 'limited/app', String(used + 16 * 1024)));
  assert.match(await refusal(push(big, 'limited/app:big')), /limited\/app is over its storage quota/);
  await push(big, 'limited/elsewhere:big');
  assert.equal(await tagDigest('limited/elsewhere', 'big'), bigImage.manifest.digest);
  const show = ok(cli('quota', 'show'));
  assert.match(show, /^limited\s+2\s+\S+ KiB\s+none\s*$/m);
  assert.match(show, /^\s+limited\/app\s+\S+ KiB\s+\S+ KiB\s+\d+%$/m);

  // An owner already over its quota gets no new blobs: refused at the upload, before any manifest.
  ok(cli('quota', 'set', 'limited', '1KiB'));
  const overUsed = storageOf('limited').storage_bytes;
  const atUpload = await refusal(push(other, 'limited/third:x'));
  assert.match(atUpload, /limited is over its storage quota: \d+(\.\d+)? KiB used of 1 KiB; delete versions or ask an admin to raise it/);
  assert.equal(await tagDigest('limited/third', 'x'), null);
  // Tagging content already stored adds nothing: allowed even over quota.
  await push(small, 'limited/app:again');
  assert.equal(storageOf('limited').storage_bytes, overUsed);
  // podman prints the refusal too (its blobs are mounted from limited/app; the new package's manifest is refused).
  const podman = createPodman();
  try {
    await podman.login(berth.host, berth.user, berth.token);
    await podman.run(['pull', '--tls-verify=false', `${berth.host}/limited/app:small`]);
    await podman.run(['tag', `${berth.host}/limited/app:small`, `${berth.host}/limited/fourth:x`]);
    const byPodman = await refusal(podman.run(['push', '--tls-verify=false', `${berth.host}/limited/fourth:x`]));
    assert.match(byPodman, /limited is over its storage quota: .*delete versions or ask an admin to raise it/);
    assert.equal(await tagDigest('limited/fourth', 'x'), null);
  } finally {
    await podman.cleanup();
  }

  ok(cli('quota', 'clear', 'limited'));
  await push(other, 'limited/third:x');
  assert.notEqual(await tagDigest('limited/third', 'x'), null);

  const bad = cli('quota', 'set', 'limited', 'lots');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /lots is not a size/);
  const nobody = cli('quota', 'set', 'nobody-here', '1GiB');
  assert.notEqual(nobody.status, 0);
  assert.match(nobody.stderr, /no user or organization named nobody-here/);
});

test('concurrent pushes near the limit never pass it (two replicas on PostgreSQL), and a recompute agrees', async () => {
  // Every image the same size: distinct config and layer of fixed lengths, so exactly `fit` of them fit the quota.
  const images: Buffer[] = [];
  for (let i = 0; i < 8; i++) {
    const config = await blob('race/app', configBytes(`race-${i}`), MEDIA.ociConfig);
    const layer = await blob('race/app', Buffer.alloc(4000, i + 1), MEDIA.ociLayer);
    images.push(manifestOf(config, [layer]));
  }
  const each = configBytes('race-0').length + 4000 + images[0]!.length;
  assert.ok(images.every((m) => m.length === images[0]!.length));
  const fit = 3;
  ok(cli('quota', 'set', 'race', String(Math.floor(each * (fit + 0.5)))));

  const second = berth.backend === 'sqlite-fs' ? null : await startBerth({ dataDir: berth.dataDir });
  try {
    const urls = second ? [berth.url, second.url] : [berth.url];
    const results = await Promise.all(images.map(async (body, i) => {
      const res = await registryFetch(`${urls[i % urls.length]}/v2/race/app/manifests/v${i}`, { method: 'PUT', headers: { 'Content-Type': MEDIA.ociManifest }, body });
      const text = await res.text();
      if (res.status !== 201) {
        assert.equal(res.status, 403, text);
        assert.match(text, /"code":"DENIED".*race is over its storage quota/);
      }
      return res.status;
    }));
    assert.equal(results.filter((s) => s === 201).length, fit, `accepted: ${results.join(',')}`);
    const figure = storageOf('race');
    assert.equal(figure.storage_bytes, fit * each);
    assert.ok(figure.storage_bytes <= figure.quota_bytes!);
  } finally {
    await second?.stop();
  }
  const recomputed = ok(cli('usage', 'recompute'));
  assert.match(recomputed, /^race: \S+ KiB of \S+ KiB \(\d+%\)$/m);
  assert.doesNotMatch(recomputed, /was/, 'every owner\'s incremental figure was already right');
  assert.equal(storageOf('race').storage_bytes, fit * each);
});
