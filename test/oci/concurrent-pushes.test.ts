// 50 overlapping skopeo pushes of images that share their base layers, into 10 repositories, as a CI fleet pushing
// images built on one base does: skopeo checks each blob, mounts it from a repository it has seen it in
// (cross-repository mount) or uploads it, then puts the manifest. On PostgreSQL this ended in `deadlock detected`
// (40P01) 500s in mounts and upload commits (issue 11; the exact interleaving is forced in
// blob-link-races.test.ts). Every push must succeed, no request may get a 5xx, and the server must log no error.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { skopeoCopy } from '../helpers/clients.js';
import { waitFor } from '../helpers/raw-socket.js';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from '../helpers/oci-image.js';

const PUSHES = 50;
const REPOS = 10;
let berth: RunningBerth;
const work = mkdtempSync(join(tmpdir(), 'berth-load-'));

// info: the server logs one line per request, with its status.
before(async () => { berth = await startBerth({ env: { BERTH_LOG_LEVEL: 'info' } }); });
after(async () => {
  await berth.stop();
  rmSync(work, { recursive: true, force: true });
});

/**
 * One OCI layout holding `count` images (tags t0…): three shared base layers, plus a layer and a config of their
 * own. Written by hand so the base layers are the same bytes in every image.
 */
function writeLayout(dir: string, count: number): { tag: string }[] {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (bytes: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(dir, 'blobs', 'sha256', hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const base = [512 * 1024, 64 * 1024, 16 * 1024].map((n) => put(randomBytes(n)));
  const images = Array.from({ length: count }, (_, i) => {
    const layers = [...base, put(randomBytes(4096))];
    const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, i })));
    const manifest = put(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, ...config },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER_GZIP, ...l })),
    })));
    return { tag: `t${i}`, ...manifest };
  });
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: images.map((m) => ({ mediaType: OCI_MANIFEST, digest: m.digest, size: m.size, annotations: { 'org.opencontainers.image.ref.name': m.tag } })),
  }));
  return images;
}

test(`${PUSHES} concurrent skopeo pushes sharing base layers: all succeed, no 5xx, no error logged`, { timeout: 600_000 }, async (t) => {
  const layout = join(work, 'layout');
  const images = writeLayout(layout, PUSHES);
  const creds = `${berth.user}:${berth.token}`;
  const target = (i: number): string => `${berth.host}/acme/load-${i % REPOS}:${images[i]!.tag}`;
  // --digestfile: the digest of the manifest as skopeo pushed it (it may rewrite the layout's manifest).
  const digestFile = (i: number): string => join(work, `digest-${i}`);
  const results = await Promise.allSettled(images.map((image, i) =>
    skopeoCopy(`oci:${layout}:${image.tag}`, `docker://${target(i)}`, ['--digestfile', digestFile(i)], { creds })));

  const failed = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
  const readLog = () => {
    const lines = readFileSync(join(berth.dataDir, 'server.log'), 'utf8').split('\n');
    const requests = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; method?: string; route?: string; status?: number })
      .filter((l) => l.msg === 'request');
    return { lines, requests };
  };
  // The request line is written once the response has gone out, so the last pushes' lines can trail skopeo's exit
  // (a CI run saw 49 of 50): wait for the manifest PUTs to be logged, or fail below with what was logged.
  const manifestPuts = (): number => readLog().requests.filter((r) => r.method === 'PUT' && r.route === '/v2/<name>/manifests/<reference>').length;
  await waitFor(() => manifestPuts() >= PUSHES, 10_000, 'every manifest PUT to be logged').catch(() => {});
  const { lines, requests } = readLog();
  const serverErrors = requests.filter((r) => r.status! >= 500);
  const deadlocks = lines.filter((l) => /deadlock/i.test(l));
  const errors = lines.filter((l) => /"level":(50|60)/.test(l));
  assert.deepEqual(
    { failedPushes: failed.length, serverErrors: serverErrors.length, deadlockLines: deadlocks.length, errorLines: errors.length },
    { failedPushes: 0, serverErrors: 0, deadlockLines: 0, errorLines: 0 },
    `${failed.slice(0, 2).join('\n')}\n${[...deadlocks, ...errors].slice(0, 3).join('\n')}`,
  );
  // The load is what it claims: blobs were both uploaded and mounted across repositories.
  const count = (method: string, route: string, status: number): number =>
    requests.filter((r) => r.method === method && r.route === route && r.status === status).length;
  assert.ok(count('PUT', '/v2/<name>/blobs/uploads/<uuid>', 201) > 0, 'uploads committed');
  assert.ok(count('POST', '/v2/<name>/blobs/uploads/', 201) > 0, 'cross-repository mounts');
  assert.equal(count('PUT', '/v2/<name>/manifests/<reference>', 201), PUSHES);
  t.diagnostic(`${requests.length} requests: ${count('PUT', '/v2/<name>/blobs/uploads/<uuid>', 201)} uploads committed, `
    + `${count('POST', '/v2/<name>/blobs/uploads/', 201)} mounts, ${serverErrors.length} 5xx, ${deadlocks.length} deadlock lines`);

  // Every image reads back as pushed.
  for (const i of images.keys()) {
    const [repo, tag] = target(i).slice(berth.host.length + 1).split(':') as [string, string];
    const pushed = readFileSync(digestFile(i), 'utf8').trim();
    const res = await berth.fetch(`/v2/${repo}/manifests/${tag}`, { headers: { accept: `${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), pushed);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, pushed);
    for (const layer of (JSON.parse(body.toString()) as { layers: { digest: string }[] }).layers) {
      const blob = await berth.fetch(`/v2/${repo}/blobs/${layer.digest}`);
      assert.equal(blob.status, 200);
      assert.equal(`sha256:${createHash('sha256').update(Buffer.from(await blob.arrayBuffer())).digest('hex')}`, layer.digest);
    }
  }
});
