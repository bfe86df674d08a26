// A full disk under the embedded default, on real small filesystems (tmpfs; needs root): pushes get 507 Insufficient
// Storage with a message saying what to do, the log has the original ENOSPC/SQLITE_FULL error (not the "cannot
// rollback" that hid it), a failed commit leaves no blob file behind, /healthz and the log warn about low space,
// everything committed stays readable, and pushes work again once space is freed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { queryMetadata, startBerth, type RunningBerth } from '../helpers/berth.js';
import { ClientError, createPodman, skopeoCopy, type Podman } from '../helpers/clients.js';
import { summarize, summarizeLayout, writeImageLayout } from '../helpers/oci-image.js';

// Lower case: podman names an image pulled from an OCI layout after its path.
const work = join(tmpdir(), `berth-disk-full-${randomBytes(6).toString('hex')}`);
mkdirSync(work);
const mounts: string[] = [];
const servers: RunningBerth[] = [];
let podman: Podman | undefined;
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

after(async () => {
  await podman?.cleanup();
  for (const s of servers) await s.stop();
  for (const m of mounts.reverse()) execFileSync('umount', [m]);
  await rm(work, { recursive: true, force: true });
});

function tmpfs(name: string, size: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

/** Writes a file until the filesystem refuses more (ENOSPC), leaving `leave` bytes when given. */
async function fill(path: string, leave = 0): Promise<void> {
  const fh = await open(path, 'a');
  try {
    if (leave > 0) {
      const { statfs } = await import('node:fs/promises');
      const s = await statfs(path);
      const size = s.bavail * s.bsize - leave;
      if (size > 0) await fh.write(Buffer.alloc(size));
      return;
    }
    for (const chunk of [1024 * 1024, 4096, 1]) {
      for (;;) {
        const ok = await fh.write(Buffer.alloc(chunk)).then(() => true, (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOSPC') return false;
          throw err;
        });
        if (!ok) break;
      }
    }
  } finally {
    await fh.close();
  }
}

interface LogLine { level: number; msg: string; err?: { code?: string; message?: string }; path?: string }

/** The first log line of the server matching `match`, waiting for it (the log arrives through a pipe). */
async function logLine(berth: RunningBerth, match: (l: LogLine) => boolean, what: string): Promise<LogLine> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = (berth.logLines() as unknown as LogLine[]).find(match);
    if (found) return found;
    if (Date.now() > deadline) assert.fail(`no log line: ${what}\n${berth.serverLog()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function skopeoFails(src: string, dest: string, creds: string): Promise<string> {
  const err = await skopeoCopy(src, dest, [], { creds }).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ClientError, `skopeo copy to ${dest} should have failed`);
  return err.stderr;
}

/** Blob files in the fs store whose digest has no row: what a failed commit must not leave behind. */
function orphanBlobFiles(storageRoot: string, rows: string[]): string[] {
  const known = new Set(rows);
  const dir = join(storageRoot, 'blobs', 'sha256');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((prefix) => readdirSync(join(dir, prefix)).map((hex) => `sha256:${hex}`)).filter((d) => !known.has(d));
}

test('a full blob filesystem: 507 through skopeo and curl, the ENOSPC in the log, a low-space warning, and pushes again once space is freed', async () => {
  // The blobs and the database on the small filesystem; the data directory (the test helper's server.log) is not.
  const mnt = tmpfs('data-fs', '48m');
  const storageRoot = join(mnt, 'storage');
  const url = `sqlite:${join(mnt, 'berth.db')}`;
  const berth = await startBerth({
    backend: 'sqlite-fs',
    env: { BERTH_METADATA_URL: url, BERTH_STORAGE_FS_ROOT: storageRoot, BERTH_LOG_LEVEL: 'info', BERTH_STORAGE_FREE_SPACE_WARNING: '16MiB' },
  });
  servers.push(berth);
  const creds = `${berth.user}:${berth.token}`;
  const first = await writeImageLayout(join(work, 'first'), { layers: [1024 * 1024, 200_000] });
  await skopeoCopy(`oci:${join(work, 'first')}`, `docker://${berth.host}/acme/first:1`, [], { creds });
  assert.equal(((await (await berth.fetch('/healthz')).json()) as { warnings?: unknown[] }).warnings, undefined, 'no warning with space to spare');

  // A layer larger than the whole filesystem: the PATCH that streams it hits ENOSPC.
  await writeImageLayout(join(work, 'huge'), { layers: [64 * 1024 * 1024] });
  const stderr = await skopeoFails(`oci:${join(work, 'huge')}`, `docker://${berth.host}/acme/huge:1`, creds);
  // skopeo (like docker and podman) prints no body of a 5xx response, only its status line.
  assert.match(stderr, /received unexpected HTTP status: 507 Insufficient Storage/);
  const enospc = await logLine(berth, (l) => l.level === 50 && l.err?.code === 'ENOSPC', 'the original ENOSPC error');
  assert.match(enospc.msg, /storage is full/);
  // podman streams the layer chunked with `Connection: close`: the server must read the rest of the body rather
  // than close on it, or the client reports a broken pipe instead of the 507 (it did, about one push in three).
  podman = createPodman();
  await podman.run(['pull', `oci:${join(work, 'huge')}`]);
  const local = (await podman.run(['images', '-q'])).stdout.trim().split('\n')[0]!;
  await podman.login(berth.host, berth.user, berth.token);
  for (let i = 0; i < 3; i++) {
    const err = await podman.run(['push', '--tls-verify=false', local, `${berth.host}/acme/huge:1`]).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof ClientError, 'podman push fails');
    assert.match(err.stderr, /Error: writing blob: uploading layer chunked: received unexpected HTTP status: 507 Insufficient Storage/);
  }

  // Nearly full: /healthz still answers 200 (reads work) and says why it worries; the log names the path.
  const filler = join(mnt, 'filler');
  await fill(filler, 4 * 1024 * 1024);
  const health = await berth.fetch('/healthz');
  assert.equal(health.status, 200);
  const report = await health.json() as { status: string; warnings: { check: string; what: string; freeBytes: number; message: string }[] };
  assert.equal(report.status, 'ok');
  assert.equal(report.warnings.length, 1, JSON.stringify(report));
  assert.equal(report.warnings[0]!.check, 'disk-space');
  assert.equal(report.warnings[0]!.what, 'blob storage and database');
  assert.ok(report.warnings[0]!.freeBytes < 16 * 1024 * 1024);
  assert.match(report.warnings[0]!.message, /low disk space/);
  assert.ok(!JSON.stringify(report).includes(mnt), 'no server paths on the public endpoint');
  const warning = await logLine(berth, (l) => l.level === 40 && /low disk space/.test(l.msg), 'a low-space warning');
  assert.equal(warning.path, storageRoot);

  // Completely full: a monolithic upload gets the OCI error body with the message for people.
  await fill(filler);
  const blob = randomBytes(1024 * 1024);
  const res = await berth.fetch(`/v2/acme/full/blobs/uploads/?digest=${sha(blob)}`, {
    method: 'POST', body: blob, headers: { 'content-type': 'application/octet-stream' },
  });
  assert.equal(res.status, 507);
  const body = await res.json() as { errors: { code: string; message: string }[] };
  assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
  assert.match(body.errors[0]!.message, /storage is full/);
  assert.match(body.errors[0]!.message, /free disk space \(berth gc --delete/);
  const second = await writeImageLayout(join(work, 'second'), { layers: [300_000] });
  assert.match(await skopeoFails(`oci:${join(work, 'second')}`, `docker://${berth.host}/acme/second:1`, creds), /507 Insufficient Storage/);
  assert.ok(!berth.serverLog().includes('cannot rollback'), 'the real error is not masked');

  // No blob file of a failed push is left for GC.
  const rows = (await queryMetadata<{ digest: string }>(url, 'select digest from blobs', [])).map((r) => r.digest);
  assert.deepEqual(orphanBlobFiles(storageRoot, rows), []);

  // Space freed: the same process pushes again, and what was committed before is intact.
  await rm(filler);
  await skopeoCopy(`oci:${join(work, 'second')}`, `docker://${berth.host}/acme/second:1`, [], { creds });
  await skopeoCopy(`docker://${berth.host}/acme/first:1`, `oci:${join(work, 'first-back')}`, [], { creds });
  assert.deepEqual(await summarizeLayout(join(work, 'first-back')), summarize(first));
  assert.equal(((await (await berth.fetch('/healthz')).json()) as { warnings?: unknown[] }).warnings, undefined);
});

test('a full database filesystem: the commit fails with 507 and SQLITE_FULL in the log, its blob file is taken back, and the upload completes once space is freed', async () => {
  const dbMnt = tmpfs('db-fs', '8m');
  const url = `sqlite:${join(dbMnt, 'berth.db')}`;
  const berth = await startBerth({ backend: 'sqlite-fs', env: { BERTH_METADATA_URL: url, BERTH_LOG_LEVEL: 'info', BERTH_STORAGE_FREE_SPACE_WARNING: '0' } });
  servers.push(berth);
  const creds = `${berth.user}:${berth.token}`;

  const before = await writeImageLayout(join(work, 'before'), { layers: [100_000] });
  await skopeoCopy(`oci:${join(work, 'before')}`, `docker://${berth.host}/acme/before:1`, [], { creds });

  // An upload session with all its bytes acknowledged, then the database's disk fills up before the commit.
  const blob = randomBytes(256 * 1024);
  const start = await berth.fetch('/v2/acme/dbfull/blobs/uploads/', { method: 'POST' });
  assert.equal(start.status, 202);
  const location = start.headers.get('location')!;
  const patch = await berth.fetch(location, { method: 'PATCH', body: blob, headers: { 'content-range': `0-${blob.length - 1}` } });
  assert.equal(patch.status, 202);
  // An empty log, so the commit's frames need new blocks (a log wrapped round would rewrite old ones).
  const [checkpoint] = await queryMetadata<{ busy: number }>(url, 'pragma wal_checkpoint(TRUNCATE)', []);
  assert.equal(checkpoint!.busy, 0);
  const filler = join(dbMnt, 'filler');
  await fill(filler);

  const put = await berth.fetch(`${location}${location.includes('?') ? '&' : '?'}digest=${sha(blob)}`, { method: 'PUT' });
  assert.equal(put.status, 507, await put.clone().text());
  const body = await put.json() as { errors: { code: string; message: string }[] };
  assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
  assert.match(body.errors[0]!.message, /storage is full/);
  await logLine(berth, (l) => l.level === 50 && l.err?.code === 'SQLITE_FULL', 'the original SQLITE_FULL error');
  assert.ok(!berth.serverLog().includes('cannot rollback'), 'the real error is not masked by a failed ROLLBACK');
  const hex = sha(blob).slice('sha256:'.length);
  assert.ok(!existsSync(join(berth.dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex)), 'the failed commit took its blob file back');
  const image = await writeImageLayout(join(work, 'dbfull'), { layers: [100_000] });
  assert.match(await skopeoFails(`oci:${join(work, 'dbfull')}`, `docker://${berth.host}/acme/dbfull:1`, creds), /507 Insufficient Storage/);

  // What was committed can still be pulled, token and all.
  await skopeoCopy(`docker://${berth.host}/acme/before:1`, `oci:${join(work, 'before-back')}`, [], { creds });
  assert.deepEqual(await summarizeLayout(join(work, 'before-back')), summarize(before));

  await rm(filler);
  const retry = await berth.fetch(`${location}${location.includes('?') ? '&' : '?'}digest=${sha(blob)}`, { method: 'PUT' });
  assert.equal(retry.status, 201, await retry.text());
  const back = Buffer.from(await (await berth.fetch(`/v2/acme/dbfull/blobs/${sha(blob)}`)).arrayBuffer());
  assert.ok(back.equals(blob));
  await skopeoCopy(`oci:${join(work, 'dbfull')}`, `docker://${berth.host}/acme/dbfull:1`, [], { creds });
  await skopeoCopy(`docker://${berth.host}/acme/dbfull:1`, `oci:${join(work, 'dbfull-back')}`, [], { creds });
  assert.deepEqual(await summarizeLayout(join(work, 'dbfull-back')), summarize(image));
});
