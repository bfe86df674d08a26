// Write transactions racing each other on PostgreSQL (READ COMMITTED): a cross-repository mount and an upload
// commit of the same blob into the same repository, a mount racing GC deleting the blob, and a manifest push that
// loses a real deadlock and must be retried, not answered with a 500. Each interleaving is forced
// (test/helpers/pg-locks.ts), not hoped for.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, testBackend, type RunningBerth } from '../helpers/berth.js';
import { pushBlob, pushImage, registryFetch, sha256, useAuthorization } from '../helpers/http.js';
import { holdLocks, lockWaiters, until } from '../helpers/pg-locks.js';

const skip = testBackend() === 'sqlite-fs' ? 'SQLite runs one transaction at a time: the interleavings need PostgreSQL' : false;
let berth: RunningBerth;

before(async () => {
  if (skip) return;
  berth = await startBerth();
  useAuthorization(berth.authorization);
});
after(async () => { if (!skip) await berth.stop(); });

const waiters = (): Promise<number> => lockWaiters(berth.metadataUrl);

test('a mount and an upload commit of the same blob into the same repository both succeed (no deadlock)', { skip }, async () => {
  const bytes = randomBytes(4096);
  const digest = await pushBlob(berth.url, 'acme/race-src', bytes);
  await pushBlob(berth.url, 'acme/race-dst', randomBytes(64));
  // An upload of the same bytes into acme/race-dst, written but not committed yet.
  const start = await registryFetch(`${berth.url}/v2/acme/race-dst/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  const patch = await registryFetch(new URL(start.headers.get('location')!, berth.url), { method: 'PATCH', body: bytes });
  assert.equal(patch.status, 202);
  const location = new URL(patch.headers.get('location')!, berth.url);
  location.searchParams.set('digest', digest);

  // The blob row busy, as another commit of the same layer or GC holds it: the commit and the mount queue behind.
  const holder = await holdLocks(berth.metadataUrl, (c) => c.query('select digest from blobs where digest = $1 for update', [digest]));
  let commit: Promise<Response> | undefined;
  let mount: Promise<Response> | undefined;
  try {
    commit = registryFetch(location, { method: 'PUT' });
    await until('the commit to wait for the blob row', async () => (await waiters()) >= 1);
    mount = registryFetch(`${berth.url}/v2/acme/race-dst/blobs/uploads/?mount=${digest}&from=acme/race-src`, { method: 'POST' });
    await until('the mount to wait too', async () => (await waiters()) >= 2);
  } finally {
    await holder.release();
  }
  const [committed, mounted] = await Promise.all([commit!, mount!]);
  assert.equal(committed.status, 201, `commit: ${await committed.text()}`);
  assert.equal(mounted.status, 201, `mount: ${await mounted.text()}`);
  const res = await registryFetch(`${berth.url}/v2/acme/race-dst/blobs/${digest}`);
  assert.equal(res.status, 200);
  assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest);
});

test('a mount racing gc deleting its blob answers 202 (upload it), not 500, and the upload then works', { skip }, async () => {
  const bytes = randomBytes(4096);
  const digest = await pushBlob(berth.url, 'acme/gc-mount-src', bytes);
  // Unreferenced and old: exactly what gc (grace 0) collects.
  await berth.query('update repository_blobs set created_at = 0 where digest = ?', digest);

  // The mount has found its source and is creating the target repository; a first push of the same name holds
  // the name, so the mount waits there while gc unlinks and deletes the blob.
  const holder = await holdLocks(berth.metadataUrl, (c) => c.query(
    "insert into repositories (name, owner, created_at, updated_at) values ('acme/gc-mount-dst', 'acme', 0, 0)"));
  let mount: Promise<Response> | undefined;
  try {
    mount = registryFetch(`${berth.url}/v2/acme/gc-mount-dst/blobs/uploads/?mount=${digest}&from=acme/gc-mount-src`, { method: 'POST' });
    await until('the mount to wait for the repository name', async () => (await waiters()) >= 1);
    const report = await berth.admin((s) => s.gc.run({ dryRun: false, graceMs: 0 }));
    assert.ok(report.blobs >= 1, 'gc deleted the blob');
  } finally {
    // Rolled back, as a push that failed: the mount goes on and creates the repository itself.
    await holder.release('rollback');
  }
  const res = await mount!;
  assert.equal(res.status, 202, `the blob is gone: the mount falls back to an upload session (${await res.clone().text()})`);
  const location = new URL(res.headers.get('location')!, berth.url);
  location.searchParams.set('digest', digest);
  const put = await registryFetch(location, { method: 'PUT', body: bytes });
  assert.equal(put.status, 201, await put.text());
  const back = await registryFetch(`${berth.url}/v2/acme/gc-mount-dst/blobs/${digest}`);
  assert.equal(back.status, 200);
  assert.equal(sha256(Buffer.from(await back.arrayBuffer())), digest);
});

test('a manifest push chosen as a deadlock victim is retried: the client gets 201', { skip }, async () => {
  const name = 'acme/deadlock-victim';
  const first = await pushImage(berth.url, name, 'victim-1', 'v1');
  const [repo] = await berth.query<{ id: number }>('select id from repositories where name = ?', name);
  // Another writer that takes the tag row, then the repository row: the reverse of a push's order.
  const other = await holdLocks(berth.metadataUrl, (c) => c.query('select name from tags where repository_id = $1 for update', [repo!.id]));
  let put: Promise<Response> | undefined;
  try {
    const manifest = { ...first.manifest, annotations: { again: 'yes' } };
    put = registryFetch(`${berth.url}/v2/${name}/manifests/v1`, {
      method: 'PUT', headers: { 'content-type': String(first.manifest.mediaType) }, body: JSON.stringify(manifest),
    });
    // The push holds the repository row and waits for the tag; the other writer now wants the repository row:
    // a deadlock, and PostgreSQL aborts the push, which waited longest.
    await until('the push to wait for the tag row', async () => (await waiters()) >= 1);
    await other.query('update repositories set updated_at = updated_at where id = $1', [repo!.id]);
  } finally {
    await other.release();
  }
  const res = await put!;
  assert.equal(res.status, 201, await res.text());
  const log = readFileSync(join(berth.dataDir, 'server.log'), 'utf8');
  assert.doesNotMatch(log, /"level":50/, 'nothing logged as an error');
});

test('an upload commit of a blob gc is about to delete: gc keeps it, and the blob stays whole and readable', { skip }, async () => {
  const name = 'acme/gc-commit-race';
  const bytes = randomBytes(8192);
  const digest = await pushBlob(berth.url, name, bytes);
  // Unreferenced and old: gc (grace 0) unlinks it and deletes it.
  await berth.query('update repository_blobs set created_at = 0 where digest = ?', digest);
  // The same bytes again, uploaded but not committed.
  const start = await registryFetch(`${berth.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
  const patch = await registryFetch(new URL(start.headers.get('location')!, berth.url), { method: 'PATCH', body: bytes });
  assert.equal(patch.status, 202);
  const location = new URL(patch.headers.get('location')!, berth.url);
  location.searchParams.set('digest', digest);

  // A reader holds the blob row (KEY SHARE): gc has unlinked the blob and its DELETE waits for the row. The commit's
  // upsert (NO KEY UPDATE) does not conflict with the reader, so it links the blob meanwhile. When the reader lets
  // go, gc's DELETE goes ahead on the row it found, and the foreign key check (which sees the committed link) must
  // refuse it: gc keeps the blob.
  const holder = await holdLocks(berth.metadataUrl, (c) => c.query('select digest from blobs where digest = $1 for key share', [digest]));
  let gc: Promise<unknown> | undefined;
  let commit: Promise<Response> | undefined;
  try {
    gc = berth.admin((s) => s.gc.run({ dryRun: false, graceMs: 0 }));
    await until('gc to wait for the blob row', async () => (await waiters()) >= 1);
    let done = false;
    commit = registryFetch(location, { method: 'PUT' }).finally(() => { done = true; });
    // (A commit taking a stronger lock would queue behind gc instead: then gc deletes first and the commit puts
    // the bytes back; the blob is whole either way, but gc does not keep it.)
    await until('the commit to finish, or to wait', async () => done || (await waiters()) >= 2);
  } finally {
    await holder.release();
  }
  const committed = await commit!;
  assert.equal(committed.status, 201, await committed.text());
  await gc;
  assert.equal((await berth.query('select digest from blobs where digest = ?', digest)).length, 1, 'gc kept the blob the commit linked');
  const back = await registryFetch(`${berth.url}/v2/${name}/blobs/${digest}`);
  assert.equal(back.status, 200);
  assert.equal(sha256(Buffer.from(await back.arrayBuffer())), digest, 'the bytes are whole');
  assert.deepEqual(await berth.query('select digest from blob_deletions'), [], 'no tombstone left');
});
