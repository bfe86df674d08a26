// PostgreSQL going away under load: its connections terminated (pg_terminate_backend), the server stopped and
// started, restarted (pg_ctl restart, as an operator or a failover does). Berth must not exit (the pg pool's
// `error` event once killed it with 57P01); while the database is away every surface answers 503 in its own shape
// with Retry-After, /healthz 503 and /livez 200; when it is back the same process serves again. Pushes run all
// along from clients that retry a 503 and resume an upload from the offset the server reports, as docker does; at
// the end everything pushed reads back, and nothing half-written is visible.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startBerth, testBackend, type RunningBerth } from '../helpers/berth.js';
import { MEDIA, sha256 } from '../helpers/http.js';
import { until } from '../helpers/pg-locks.js';
import { postgresCluster, type PostgresControl } from '../helpers/postgres.js';

const skip = testBackend() === 'sqlite-fs' ? 'the embedded SQLite database cannot go away: the outage needs PostgreSQL' : false;
let berth: RunningBerth;
let control: PostgresControl;

before(async () => {
  if (skip) return;
  const cluster = await postgresCluster();
  if (!cluster.control) throw new Error('this test stops and starts PostgreSQL: it needs its own cluster (unset BERTH_TEST_PG_ADMIN_URL)');
  control = cluster.control;
  berth = await startBerth();
});
after(async () => {
  if (skip) return;
  await control.start().catch(() => undefined); // if a failed assertion left it stopped
  await berth.stop();
});

/** Every response the pushing clients got, by status. */
const seen = new Map<number, number>();
/** 503 answers that lacked Retry-After or the OCI UNAVAILABLE body; 5xx answers other than 503. */
const wrong: string[] = [];
let progress = 0;

interface Reply { readonly status: number; readonly headers: Headers; readonly text: string }

/** One request of a pushing client: a 503 is checked, counted and retried after a pause; anything else returned. */
async function call(what: string, path: string, init: RequestInit = {}): Promise<Reply> {
  for (;;) {
    let reply: Reply;
    try {
      const res = await berth.fetch(path, init);
      reply = { status: res.status, headers: res.headers, text: await res.text() };
    } catch (err) {
      // The process exiting would show up here (connection refused): the test fails on it below.
      wrong.push(`${what}: no response (${(err as Error).message})`);
      throw err;
    }
    seen.set(reply.status, (seen.get(reply.status) ?? 0) + 1);
    if (reply.status !== 503) {
      if (reply.status >= 500) wrong.push(`${what}: ${reply.status} ${reply.text}`);
      return reply;
    }
    if (!reply.headers.get('retry-after') || !/"code":"UNAVAILABLE"/.test(reply.text)) wrong.push(`${what}: 503 without Retry-After or UNAVAILABLE: ${reply.text}`);
    await sleep(100);
    if (init.body) return reply; // a body cannot be sent twice: the caller resumes from the server's offset
  }
}

/** Uploads `bytes` into `repo` in three PATCHes; after a failed PATCH it asks the server for the offset and resumes. */
async function uploadBlob(repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const start = await call('start upload', `/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202, start.text);
  let location = start.headers.get('location')!;
  let offset = 0;
  const step = Math.ceil(bytes.length / 3);
  while (offset < bytes.length) {
    const chunk = bytes.subarray(offset, Math.min(offset + step, bytes.length));
    const res = await call('patch', location, { method: 'PATCH', body: chunk, headers: { 'content-range': `${offset}-${offset + chunk.length - 1}` } });
    if (res.status === 202) {
      location = res.headers.get('location')!;
      offset += chunk.length;
      continue;
    }
    assert.equal(res.status, 503, `patch at ${offset}: ${res.status} ${res.text}`);
    // The session survives: it says how far it got (only acknowledged bytes count) and the upload goes on from there.
    const status = await call('upload status', location);
    assert.equal(status.status, 204, `upload status after a failed PATCH: ${status.status}`);
    // `0-0` is an empty session (the reference implementation's way; chunks here are never one byte).
    const end = Number(/^0-(\d+)$/.exec(status.headers.get('range') ?? '')?.[1]);
    offset = end === 0 ? 0 : end + 1;
  }
  const put = await call('commit', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT' });
  if (put.status !== 201) {
    // A 503 may have come after the commit went through (the answer was lost, not the blob): then the session is
    // gone and the blob is there. Otherwise commit again.
    const head = await call('head blob', `/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
    if (head.status !== 200) {
      const again = await call('commit again', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT' });
      assert.equal(again.status, 201, `commit again: ${again.status}`);
    }
  }
  progress++;
  return digest;
}

interface Pushed { repo: string; tag: string; manifest: Buffer; blobs: Buffer[] }

async function pushImage(repo: string, tag: string, base: Buffer): Promise<Pushed> {
  const own = randomBytes(256 * 1024 + Math.floor(Math.random() * 1024));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, tag }));
  const blobs = [config, base, own];
  for (const b of blobs) await uploadBlob(repo, b);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: sha256(config), size: config.length },
    layers: [base, own].map((b) => ({ mediaType: MEDIA.ociLayer, digest: sha256(b), size: b.length })),
  }));
  const res = await call('manifest', `/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': MEDIA.ociManifest } });
  // A manifest body can be sent again (it is small and ours): retry it like any request.
  let status = res.status;
  while (status === 503) {
    status = (await call('manifest again', `/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': MEDIA.ociManifest } })).status;
  }
  assert.equal(status, 201, `manifest ${repo}:${tag}`);
  progress++;
  return { repo, tag, manifest, blobs };
}

/** Pushers each pushing images one after the other until told to stop. */
function startPushers(count: number, prefix: string): { stop(): Promise<Pushed[]> } {
  let stopping = false;
  const base = randomBytes(512 * 1024);
  const runs = Array.from({ length: count }, async (_, p) => {
    const done: Pushed[] = [];
    for (let i = 0; !stopping; i++) done.push(await pushImage(`acme/${prefix}-${p}`, `v${i}`, base));
    return done;
  });
  return {
    async stop() {
      stopping = true;
      return (await Promise.all(runs)).flat();
    },
  };
}

const alive = (): boolean => {
  try {
    process.kill(berth.pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Waits until the pushers made `steps` more steps (blobs or manifests), so the next blow lands mid-push. */
async function afterProgress(steps: number): Promise<void> {
  const target = progress + steps;
  await until(`${steps} more push steps`, async () => progress >= target, 120_000);
}

async function terminateBackends(): Promise<number> {
  const db = new URL(berth.metadataUrl).pathname.slice(1);
  const admin = new pg.Client({ connectionString: (await postgresCluster()).adminUrl });
  await admin.connect();
  try {
    const res = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [db]);
    return res.rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

async function checkEverything(pushed: Pushed[]): Promise<void> {
  assert.ok(alive(), 'the server process is still the same, alive');
  assert.deepEqual(wrong, [], 'no 500s, no 503 without its body and Retry-After, no connection refused');
  for (const image of pushed) {
    const res = await berth.fetch(`/v2/${image.repo}/manifests/${image.tag}`, { headers: { accept: MEDIA.ociManifest } });
    assert.equal(res.status, 200, `${image.repo}:${image.tag}`);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(image.manifest));
    for (const b of image.blobs) {
      const blob = await berth.fetch(`/v2/${image.repo}/blobs/${sha256(b)}`);
      assert.equal(blob.status, 200);
      assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), sha256(b));
    }
  }
  // Nothing half-visible: every blob the database knows has its whole bytes in the blob store.
  const store = await berth.blobStore();
  for (const { digest, size } of await berth.query<{ digest: string; size: number }>('select digest, size from blobs')) {
    const hash = createHash('sha256');
    let n = 0;
    for await (const chunk of await store.read(digest as never)) {
      hash.update(chunk as Buffer);
      n += (chunk as Buffer).length;
    }
    assert.equal(`sha256:${hash.digest('hex')}`, digest, `blob ${digest} is whole`);
    assert.equal(n, size);
  }
  store.close?.();
}

test('connections terminated (pg_terminate_backend) in the middle of concurrent pushes: 503s, then pushes go on', { skip, timeout: 600_000 }, async () => {
  const pushers = startPushers(4, 'terminated');
  for (let i = 0; i < 3; i++) {
    await afterProgress(4);
    assert.ok((await terminateBackends()) > 0, 'the server had connections to terminate');
  }
  await afterProgress(4);
  await checkEverything(await pushers.stop());
});

test('PostgreSQL stopped, then started, then restarted in the middle of concurrent pushes: every surface answers 503, then serves again', { skip, timeout: 600_000 }, async () => {
  const before = new Map(seen);
  const pushers = startPushers(4, 'stopped');
  await afterProgress(4);
  await control.stop();
  try {
    // The pushers hit the outage too.
    await until('a pusher to get a 503', async () => (seen.get(503) ?? 0) > (before.get(503) ?? 0), 60_000);
    const v2 = await berth.fetch('/v2/acme/stopped-0/manifests/v0');
    assert.equal(v2.status, 503);
    assert.match(v2.headers.get('retry-after') ?? '', /^\d+$/);
    const oci = await v2.json() as { errors: { code: string; message: string }[] };
    assert.equal(oci.errors[0]!.code, 'UNAVAILABLE');
    assert.match(oci.errors[0]!.message, /database is unreachable.*retry/);

    const upload = await berth.fetch('/v2/acme/stopped-0/blobs/uploads/', { method: 'POST' });
    assert.equal(upload.status, 503);
    assert.equal((await upload.json() as { errors: { code: string }[] }).errors[0]!.code, 'UNAVAILABLE');

    const token = await berth.fetch('/token?service=berth&scope=repository:acme/stopped-0:pull');
    assert.equal(token.status, 503);
    assert.ok(token.headers.get('retry-after'));
    assert.equal((await token.json() as { errors: { code: string }[] }).errors[0]!.code, 'UNAVAILABLE');

    const api = await berth.fetch('/api/v3/orgs/acme/packages?package_type=container', { auth: `Bearer ${berth.token}` });
    assert.equal(api.status, 503);
    assert.ok(api.headers.get('retry-after'));
    const github = await api.json() as { message: string; documentation_url: string };
    assert.match(github.message, /database is unreachable/);
    assert.equal(typeof github.documentation_url, 'string');

    const page = await berth.fetch('/', { auth: null });
    assert.equal(page.status, 503);
    assert.ok(page.headers.get('retry-after'));
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /database is unreachable/);

    assert.equal((await berth.fetch('/healthz')).status, 503, 'not ready');
    assert.equal((await berth.fetch('/livez')).status, 200, 'alive');
    assert.ok(alive());
  } finally {
    await control.start();
  }
  await until('/healthz to answer 200 again', async () => (await berth.fetch('/healthz')).status === 200, 60_000);
  await afterProgress(4);
  await control.restart();
  await afterProgress(4);
  await checkEverything(await pushers.stop());
  assert.ok((seen.get(503) ?? 0) > 0, 'the outage was seen by the clients');
});
