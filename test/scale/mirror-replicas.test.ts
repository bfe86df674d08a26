// Single flight across replicas for the pull-through cache (issue 17): two Berth processes on one PostgreSQL
// database and one blob store mirror the CNCF registry; concurrent first pulls of one image through both make one
// upstream request per manifest and per blob (the upstream's access log says so), and every client gets the
// upstream's exact bytes.
//
// Replicas need PostgreSQL, so this file picks its backend itself (postgres-s3, or postgres-fs without an S3
// server; BERTH_SCALE_BACKEND overrides) whatever the runner's pass, and lives outside the backend matrix.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth, type TestBackend } from '../helpers/berth.js';
import { skopeoCopy } from '../helpers/clients.js';
import { writeImageLayout, type BuiltImage } from '../helpers/oci-image.js';
import { postgresBinDir } from '../helpers/postgres.js';
import { ensureS3 } from '../helpers/s3.js';
import { startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.js';

const hasPostgres = postgresBinDir() !== null || Boolean(process.env.BERTH_TEST_PG_ADMIN_URL);
const hasS3 = Boolean(process.env.S3_ENDPOINT) || spawnSync('sh', ['-c', 'command -v radosgw']).status === 0;
const backend = (process.env.BERTH_SCALE_BACKEND as TestBackend | undefined) ?? (hasS3 ? 'postgres-s3' : 'postgres-fs');
const skip = !hasPostgres ? 'replicas share a PostgreSQL database, and PostgreSQL is not installed: run scripts/install-test-deps.sh'
  : backend === 'sqlite-fs' ? 'replicas need PostgreSQL: SQLite is one process' : false;
/** Concurrent requests per replica for the manifest and for each blob. */
const CLIENTS = 5;
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

const work = mkdtempSync(join(tmpdir(), 'berth-mirror-replicas-'));
let upstream: UpstreamRegistry;
let a: RunningBerth;
let b: RunningBerth;
let image: BuiltImage;

before(async () => {
  if (skip) return;
  if (backend === 'postgres-s3') {
    const s3 = await ensureS3();
    process.env.AWS_ACCESS_KEY_ID ??= s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY ??= s3.secretAccessKey;
  }
  upstream = await startUpstreamRegistry();
  const passwordFile = join(work, 'upstream-password');
  writeFileSync(passwordFile, `${upstream.password}\n`);
  const env = {
    BERTH_MIRROR_UPSTREAMS_CNCF_URL: upstream.url, BERTH_MIRROR_UPSTREAMS_CNCF_USERNAME: upstream.username,
    BERTH_MIRROR_UPSTREAMS_CNCF_PASSWORD_FILE: passwordFile,
  };
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  a = await startBerth({ dataDir, backend, env });
  b = await startBerth({ dataDir, backend, env });
  const layout = join(work, 'big');
  image = await writeImageLayout(layout, { layers: [3_000_000, 2_000_000, 1_000_000], tag: 'v1' });
  await skopeoCopy(`oci:${layout}:v1`, `docker://${upstream.host}/library/big:v1`, [], { creds: upstream.creds });
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await upstream?.stop();
  rmSync(work, { recursive: true, force: true });
});

const sha256 = (bytes: ArrayBuffer): string => `sha256:${createHash('sha256').update(Buffer.from(bytes)).digest('hex')}`;

/** `CLIENTS` requests at once to each replica; every answer's body, by replica. */
async function together(path: string, headers: Record<string, string> = {}): Promise<string[]> {
  const one = async (replica: RunningBerth): Promise<string> => {
    const res = await replica.fetch(path, { headers });
    assert.equal(res.status, 200, `${path} on ${replica.host}: ${res.status}`);
    return sha256(await res.arrayBuffer());
  };
  return Promise.all([a, b].flatMap((replica) => Array.from({ length: CLIENTS }, () => one(replica))));
}

test('concurrent first pulls through two replicas fetch each manifest and blob from the upstream once', { skip }, async () => {
  const manifests = await together('/v2/cncf/library/big/manifests/v1', { Accept: ACCEPT });
  assert.deepEqual(new Set(manifests), new Set([image.manifest.digest]));
  assert.equal(upstream.served('GET', '/v2/library/big/manifests/v1'), 1, upstream.log());

  for (const blob of [image.config, ...image.layers]) {
    const bodies = await together(`/v2/cncf/library/big/blobs/${blob.digest}`);
    assert.deepEqual(new Set(bodies), new Set([blob.digest]));
    assert.equal(upstream.served('GET', `/v2/library/big/blobs/${blob.digest}`), 1, `${blob.digest} fetched more than once`);
  }
  // No lease left behind: each was released once its copy was stored.
  const leases = await a.query<{ name: string }>("select name from job_leases where name like 'mirror-fetch:%'");
  assert.deepEqual(leases, []);
});

test('a mirror an admin adds or deletes through one replica is followed by the other at once, without a restart', { skip }, async () => {
  // Added through replica a's services (as its /admin/mirrors form does), pulled through replica b.
  await a.admin((s) => s.mirror.upstreams.add({ namespace: 'added', url: upstream.url, username: upstream.username, password: upstream.password }));
  const res = await b.fetch('/v2/added/library/big/manifests/v1', { headers: { Accept: ACCEPT } });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('docker-content-digest'), image.manifest.digest);
  const listed = await b.fetch('/api/v3/berth/mirrors', { auth: `token ${b.token}` });
  assert.ok(((await listed.json()) as { namespace: string }[]).some((m) => m.namespace === 'added'));

  await a.admin((s) => s.mirror.eviction.remove('added', false));
  await a.admin((s) => s.mirror.upstreams.remove('added'));
  const asked = upstream.served('GET', '/v2/library/big/manifests/v1');
  assert.equal((await b.fetch('/v2/added/library/big/manifests/v1', { headers: { Accept: ACCEPT } })).status, 404);
  assert.equal(upstream.served('GET', '/v2/library/big/manifests/v1'), asked, 'b no longer pulls through it');
});
