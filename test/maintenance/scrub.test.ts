// berth scrub: stored blobs damaged behind Berth's back (bytes overwritten, file or object deleted) are found,
// reported with the repositories using them, quarantined (404 for GET/HEAD, no mount, no manifest referencing them),
// and repaired by a push of the image; a scrub resumes from what earlier ones verified, and keeps to its rate.
import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { skopeoCopy } from '../helpers/clients.js';
import { assertOciError, pushBlob, registryFetch, sha256, useAuthorization } from '../helpers/http.js';
import { OCI_MANIFEST, readLayoutBlob, summarize, summarizeLayout, writeImageLayout, type BuiltImage } from '../helpers/oci-image.js';
import { corruptStoredBlob, deleteStoredBlob } from '../helpers/stored-blobs.js';

const ROOT = new URL('../..', import.meta.url).pathname;
let berth: RunningBerth;
let work: string;
let creds: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-scrub-'));
  berth = await startBerth();
  useAuthorization(berth.authorization);
  creds = `${berth.user}:${berth.token}`;
});

after(async () => {
  await berth?.stop();
  await rm(work, { recursive: true, force: true });
});

interface ScrubRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `berth scrub` as an operator runs it: a separate process on the server's data directory (and database, bucket). */
function scrub(...args: string[]): ScrubRun {
  const r = spawnSync(process.execPath, [builtCli(), 'scrub', '--data', berth.dataDir, ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...berth.metadataEnv },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface JsonReport {
  checked: number;
  bytes: number;
  seconds: number;
  complete: boolean;
  problems: { digest: string; size: number; problem: string; actual: string; quarantine: string; repositories: string[] }[];
  released: string[];
  errors: unknown[];
}

function scrubJson(...args: string[]): { status: number | null; report: JsonReport } {
  const r = scrub('--json', ...args);
  assert.ok(r.status === 0 || r.status === 3, `berth scrub failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return { status: r.status, report: JSON.parse(r.stdout) as JsonReport };
}

async function pushLayout(name: string, spec: { layers: number[] }): Promise<{ layout: string; image: BuiltImage }> {
  const layout = join(work, name.replace('/', '-'));
  const image = await writeImageLayout(layout, { ...spec, tag: '1' });
  await skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/${name}:1`, [], { creds });
  return { layout, image };
}

function blobUrl(name: string, digest: string): string {
  return `${berth.url}/v2/${name}/blobs/${digest}`;
}

test('a corrupted layer: berth scrub reports it (exit 3), GET/HEAD 404, no mount, no manifest; a skopeo push repairs it', async () => {
  const { layout, image } = await pushLayout('acme/scrubbed', { layers: [2048, 300_000] });
  const layer = image.layers[1]!;
  await corruptStoredBlob(berth, layer.digest);

  const { status, report } = scrubJson();
  assert.equal(status, 3, 'non-zero exit: corruption found');
  assert.equal(report.complete, true);
  assert.equal(report.checked, 3, 'the config and the two layers');
  assert.deepEqual(report.problems.map((p) => [p.digest, p.problem, p.quarantine, p.repositories]), [[layer.digest, 'corrupt', 'now', ['acme/scrubbed']]]);
  assert.notEqual(report.problems[0]!.actual, layer.digest);
  assert.equal(report.problems[0]!.size, layer.size);

  // The human report, from a second run: still corrupt, quarantined earlier, and the same exit code.
  const human = scrub();
  assert.equal(human.status, 3, human.stderr);
  assert.match(human.stdout, new RegExp(`CORRUPT  ${layer.digest} .* quarantined earlier; read sha256:[0-9a-f]{64}; used by acme/scrubbed`));
  assert.match(human.stdout, /1 corrupt or missing blob: GET\/HEAD answer 404/);

  // Never served again: clients see it as absent and push it again.
  assert.equal((await registryFetch(blobUrl('acme/scrubbed', layer.digest), { method: 'HEAD' })).status, 404);
  await assertOciError(await registryFetch(blobUrl('acme/scrubbed', layer.digest)), 404, 'BLOB_UNKNOWN');
  const put = await registryFetch(`${berth.url}/v2/acme/scrubbed/manifests/again`, {
    method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: image.manifestBytes,
  });
  await assertOciError(put, 400, 'MANIFEST_BLOB_UNKNOWN');
  const mount = await registryFetch(`${berth.url}/v2/acme/elsewhere/blobs/uploads/?mount=${layer.digest}&from=acme/scrubbed`, { method: 'POST' });
  assert.equal(mount.status, 202, 'no mount of a quarantined blob: an upload session instead');
  await registryFetch(new URL(mount.headers.get('location')!, berth.url).toString(), { method: 'DELETE' });

  // A push of the image uploads the layer again; its commit replaces the corrupt bytes and releases it.
  await skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/acme/scrubbed:1`, [], { creds });
  const res = await registryFetch(blobUrl('acme/scrubbed', layer.digest));
  assert.equal(res.status, 200);
  assert.equal(sha256(Buffer.from(await res.arrayBuffer())), layer.digest);
  const out = join(work, 'scrubbed-out');
  await skopeoCopy(`docker://${berth.host}/acme/scrubbed:1`, `oci:${out}:1`, [], { creds });
  assert.deepEqual(await summarizeLayout(out, '1'), summarize(image));
  assert.deepEqual(await readLayoutBlob(out, layer.digest), await readLayoutBlob(layout, layer.digest));

  const clean = scrub();
  assert.equal(clean.status, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /no corrupt or missing blobs/);
});

test('a deleted layer: reported missing and quarantined; the push of the image puts it back', async () => {
  const { layout, image } = await pushLayout('acme/missing', { layers: [4096] });
  const layer = image.layers[0]!;
  await deleteStoredBlob(berth, layer.digest);
  // Today's clients would never re-upload it: HEAD said 200 until the scrub.
  assert.equal((await registryFetch(blobUrl('acme/missing', layer.digest), { method: 'HEAD' })).status, 200);

  const run = scrub();
  assert.equal(run.status, 3, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`MISSING  ${layer.digest} .* quarantined now; no stored bytes; used by acme/missing`));
  assert.equal((await registryFetch(blobUrl('acme/missing', layer.digest), { method: 'HEAD' })).status, 404);

  await skopeoCopy(`oci:${layout}:1`, `docker://${berth.host}/acme/missing:1`, [], { creds });
  const res = await registryFetch(blobUrl('acme/missing', layer.digest));
  assert.equal(res.status, 200);
  assert.equal(sha256(Buffer.from(await res.arrayBuffer())), layer.digest);
});

test('--dry-run reports without quarantining; an upload of the right bytes restores a quarantined blob', async () => {
  const bytes = randomBytes(5000);
  const digest = await pushBlob(berth.url, 'acme/dry', bytes);
  await corruptStoredBlob(berth, digest);
  const dry = scrubJson('--dry-run');
  assert.equal(dry.status, 3);
  assert.deepEqual(dry.report.problems.map((p) => [p.digest, p.quarantine]), [[digest, 'dry-run']]);
  assert.equal((await registryFetch(blobUrl('acme/dry', digest), { method: 'HEAD' })).status, 200, 'a dry run changes nothing');

  const full = scrubJson();
  assert.deepEqual(full.report.problems.map((p) => [p.digest, p.quarantine]), [[digest, 'now']]);
  assert.equal((await registryFetch(blobUrl('acme/dry', digest), { method: 'HEAD' })).status, 404);
  // A monolithic POST, as a client pushes a blob it was told is absent.
  await pushBlob(berth.url, 'acme/dry', bytes);
  const res = await registryFetch(blobUrl('acme/dry', digest));
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
});

test('a scrub records what it verified: --older-than continues with what no scrub checked within that time', async () => {
  // Every blob so far as if pushed two hours ago and never scrubbed; one more pushed now.
  await berth.query('update blobs set created_at = created_at - ?, checked_at = null', 2 * 3_600_000);
  const { n } = (await berth.query<{ n: number }>('select count(*) as n from blobs'))[0]!;
  await pushBlob(berth.url, 'acme/fresh', randomBytes(3000));

  const first = scrubJson('--older-than', '1h');
  assert.equal(first.report.checked, Number(n), 'the aged blobs, not the one its upload verified minutes ago');
  assert.equal(scrubJson('--older-than', '1h').report.checked, 0, 'each was recorded as verified');
});

test('--rate bounds the read rate', async () => {
  await pushBlob(berth.url, 'acme/rate', randomBytes(1024 * 1024));
  await pushBlob(berth.url, 'acme/rate', randomBytes(1024 * 1024));
  const { report } = scrubJson('--rate', '1MiB');
  assert.ok(report.bytes >= 2 * 1024 * 1024, `read ${report.bytes} bytes`);
  // A lower bound only: a loaded machine makes it slower, never faster.
  assert.ok(report.seconds >= report.bytes / (1024 * 1024) - 0.5, `${report.bytes} bytes at 1 MiB/s took ${report.seconds} s`);
});
