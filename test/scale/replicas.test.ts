// Two Berth replicas on one PostgreSQL database and one blob store (a bucket on the test S3 server when there is
// one, else the shared filesystem directory), as behind a load balancer without sticky sessions: an upload session
// moves between them chunk by chunk, a token from one is good on the other, GC on one never loses what a push
// through the other needs, and real clients (skopeo, the Docker engine) push and pull through an nginx round-robin
// of the two.
//
// Replicas need PostgreSQL, so this file picks its backend itself (postgres-s3, or postgres-fs without an S3
// server; BERTH_SCALE_BACKEND overrides) whatever the runner's pass, and lives outside the runner's backend matrix
// so it runs once.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth, type TestBackend } from '../helpers/berth.js';
import { ClientError, docker, dockerLogin, skopeoCopy } from '../helpers/clients.js';
import { startDocker, type DockerDaemon } from '../helpers/daemons.js';
import { MEDIA, pushBlob, pushImage, pushManifest, registryFetch, sha256, useAuthorization } from '../helpers/http.js';
import { summarize, summarizeLayout, writeImageLayout } from '../helpers/oci-image.js';
import { postgresBinDir } from '../helpers/postgres.js';
import { freePort } from '../helpers/ports.js';
import { ensureS3 } from '../helpers/s3.js';

const hasPostgres = postgresBinDir() !== null || Boolean(process.env.BERTH_TEST_PG_ADMIN_URL);
const hasS3 = Boolean(process.env.S3_ENDPOINT) || spawnSync('sh', ['-c', 'command -v radosgw']).status === 0;
const backend = (process.env.BERTH_SCALE_BACKEND as TestBackend | undefined) ?? (hasS3 ? 'postgres-s3' : 'postgres-fs');
const skip = !hasPostgres ? 'replicas share a PostgreSQL database, and PostgreSQL is not installed: run scripts/install-test-deps.sh'
  : backend === 'sqlite-fs' ? 'replicas need PostgreSQL: SQLite is one process' : false;

const work = mkdtempSync(join(tmpdir(), 'berth-scale-'));
chmodSync(work, 0o755); // nginx workers run unprivileged
let a: RunningBerth;
let b: RunningBerth;
let lb: { url: string; host: string; accessLog: string; process: ChildProcess };


/** nginx round-robin over the replicas, streaming both ways, keeping the Host header (with its port). */
async function startLoadBalancer(port: number, upstreams: string[]): Promise<typeof lb> {
  const dir = join(work, 'nginx');
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const accessLog = join(dir, 'access.log');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, `
daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  log_format upstream '$request_method $uri $status $upstream_addr';
  access_log ${accessLog} upstream;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  upstream berth {
${upstreams.map((u) => `    server ${u};`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_read_timeout 300s;
    location / {
      proxy_pass http://berth;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }
  }
}
`);
  const child = spawn('nginx', ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  process.once('exit', () => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    try {
      if ((await fetch(`${url}/livez`)).ok) break;
    } catch { /* not listening yet */ }
    if (i > 100) throw new Error(`nginx did not come up: ${stderr}`);
    await sleep(50);
  }
  return { url, host: `127.0.0.1:${port}`, accessLog, process: child };
}

before(async () => {
  if (skip) return;
  if (backend === 'postgres-s3') {
    // The runner exports the S3 credentials only in a postgres-s3 pass; the admin helpers (seeding, gc) run in this
    // process, where the AWS SDK reads them from process.env.
    const s3 = await ensureS3();
    process.env.AWS_ACCESS_KEY_ID ??= s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY ??= s3.secretAccessKey;
  }
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  const lbPort = await freePort();
  // What replicas behind one address are configured with: the public URL (token service and realm, Locations)
  // is the load balancer's. Short job intervals, so both replicas contend for the job leases during the test.
  const env = {
    BERTH_SERVER_PUBLIC_URL: `http://127.0.0.1:${lbPort}`,
    BERTH_UPLOADS_PURGE_INTERVAL: '1s',
    BERTH_PACKAGES_PURGE_INTERVAL: '1s',
  };
  a = await startBerth({ dataDir, backend, env });
  b = await startBerth({ dataDir, backend, env });
  useAuthorization(a.authorization);
  lb = await startLoadBalancer(lbPort, [a.host, b.host]);
});
after(async () => {
  // Also after a failed or skipped start: whatever did start stops, the work directory goes.
  lb?.process.kill('SIGTERM');
  await Promise.all([a?.stop(), b?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

/** Where nginx's access log ends now, to read what a client does from here on with `balancedSince`. */
const accessLogEnd = (): number => statSync(lb.accessLog).size;

/**
 * The access-log lines written since `from` (`accessLogEnd()` taken before `what` began), after asserting that
 * both replicas served some of them and none was a server error.
 */
function balancedSince(from: number, what: string): string[] {
  const lines = readFileSync(lb.accessLog).subarray(from).toString('utf8').trim().split('\n').filter(Boolean);
  // `$upstream_addr` is the last field (nginx lists every upstream it tried; the last one answered). Docker first
  // tries TLS on the port, which nginx logs as `- - 400 -`: no upstream, not a server error.
  const served = new Set(lines.map((l) => l.split(' ').at(-1)));
  assert.ok(served.has(a.host) && served.has(b.host),
    `${what}: both upstreams used (A ${a.host}, B ${b.host}; saw ${[...served].join(', ')}) in:\n${lines.join('\n')}`);
  const errors = lines.filter((l) => / 5\d\d /.test(l));
  assert.deepEqual(errors, [], `${what}: no server errors`);
  return lines;
}

/** The path and query of an upload Location (absolute on the public URL, or relative), to send to any replica. */
const pathOf = (location: string | null): string => {
  assert.ok(location, 'a Location header');
  const u = new URL(location, 'http://placeholder');
  return `${u.pathname}${u.search}`;
};

describe(`two replicas on one PostgreSQL and one blob store (${backend})`, { skip }, () => {
  it('a chunked upload alternates between the replicas, completes on the other, and reads back from both', async () => {
    const name = 'acme/scale-chunked';
    const data = randomBytes(13 * 1024 * 1024 + 333);
    const digest = sha256(data);
    const start = await registryFetch(`${a.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202, await start.text());
    let location = pathOf(start.headers.get('location'));
    const replicas = [b, a];
    const chunk = 2 * 1024 * 1024 + 17; // under S3's 5 MiB part minimum: the driver carries the rest between replicas
    let offset = 0;
    let turn = 0;
    for (; offset < data.length; turn++) {
      const end = Math.min(offset + chunk, data.length) - 1;
      const replica = replicas[turn % 2]!;
      const res = await registryFetch(`${replica.url}${location}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${end}` },
        body: data.subarray(offset, end + 1),
      });
      assert.equal(res.status, 202, `PATCH ${turn} on ${replica === a ? 'A' : 'B'}: ${await res.text()}`);
      assert.equal(res.headers.get('range'), `0-${end}`);
      location = pathOf(res.headers.get('location'));
      offset = end + 1;
    }
    assert.ok(turn >= 6, `${turn} chunks`);
    // Completed on the replica that did not take the last chunk.
    const finisher = replicas[turn % 2]!;
    const put = await registryFetch(`${finisher.url}${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT' });
    assert.equal(put.status, 201, await put.text());
    assert.equal(put.headers.get('docker-content-digest'), digest);

    for (const replica of [a, b]) {
      const res = await registryFetch(`${replica.url}/v2/${name}/blobs/${digest}`);
      assert.equal(res.status, 200);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest, 'the whole blob, digest verified');
      const range = await registryFetch(`${replica.url}/v2/${name}/blobs/${digest}`, { headers: { range: 'bytes=5242000-5243999' } });
      assert.equal(range.status, 206);
      assert.ok(Buffer.from(await range.arrayBuffer()).equals(data.subarray(5242000, 5244000)), 'a range across a part boundary');
    }

    // A manifest pushed through A is served by B.
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const configDigest = await pushBlob(b.url, name, config);
    const manifest = await pushManifest(a.url, name, 'v1', {
      schemaVersion: 2, mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: config.length },
      layers: [{ mediaType: MEDIA.ociLayer, digest, size: data.length }],
    }, MEDIA.ociManifest);
    const pulled = await registryFetch(`${b.url}/v2/${name}/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
    assert.equal(pulled.status, 200);
    assert.ok(Buffer.from(await pulled.arrayBuffer()).equals(manifest.bytes), 'byte for byte');
  });

  it('a tag moved or deleted through one replica is seen by the other, whose manifest cache held the old answer', async () => {
    const name = 'acme/scale-moving';
    const push = async (seed: string): Promise<string> => (await pushImage(a.url, name, seed, 'latest')).digest;
    const onB = async (): Promise<{ status: number; digest: string | null }> => {
      const res = await registryFetch(`${b.url}/v2/${name}/manifests/latest`, { headers: { accept: MEDIA.ociManifest } });
      await res.arrayBuffer();
      return { status: res.status, digest: res.headers.get('docker-content-digest') };
    };
    /** B's answer once A's change has reached it: the notification is delivered on commit, so within milliseconds. */
    const settled = async (expected: { status: number; digest: string | null }): Promise<number> => {
      const start = Date.now();
      while (JSON.stringify(await onB()) !== JSON.stringify(expected)) {
        assert.ok(Date.now() - start < 2000, `B still answers the old ${JSON.stringify(await onB())}, expected ${JSON.stringify(expected)}`);
        await sleep(5);
      }
      return Date.now() - start;
    };
    const first = await push('first');
    assert.deepEqual(await onB(), { status: 200, digest: first });
    assert.deepEqual(await onB(), { status: 200, digest: first }, 'cached on B');
    const second = await push('second');
    const movedMs = await settled({ status: 200, digest: second });
    assert.equal((await registryFetch(`${a.url}/v2/${name}/manifests/latest`, { method: 'DELETE' })).status, 202);
    const deletedMs = await settled({ status: 404, digest: null });
    assert.ok(movedMs < 500 && deletedMs < 500, `seen on B after ${movedMs} ms and ${deletedMs} ms`);
  });

  it('a registry token issued by replica A\'s /token is accepted by replica B', async () => {
    const challenge = await fetch(`${b.url}/v2/`);
    assert.equal(challenge.status, 401);
    const service = /service="([^"]+)"/.exec(challenge.headers.get('www-authenticate') ?? '')?.[1];
    assert.equal(service, lb.host, 'both replicas name the load balancer as the service');
    const res = await fetch(`${a.url}/token?service=${service}&scope=repository:acme/scale-chunked:pull`, { headers: { authorization: a.authorization } });
    assert.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    for (const replica of [b, a]) {
      const tags = await fetch(`${replica.url}/v2/acme/scale-chunked/tags/list`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(tags.status, 200, `on ${replica === a ? 'A' : 'B'}`);
      assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, ['v1']);
    }
    const push = await fetch(`${b.url}/v2/acme/scale-chunked/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.ok([401, 403].includes(push.status), `and only for what it grants (pull): push got ${push.status}`);
  });

  it('gc on replica A while pushes go through replica B loses nothing', async () => {
    const shared = randomBytes(300 * 1024);
    const sharedDigest = sha256(shared);
    let stop = false;
    let runs = 0;
    let freed = 0;
    // Replica A's operator runs `berth gc --delete` over and over (the same code, in this process, on A's settings).
    const collector = (async () => {
      while (!stop) {
        const report = await a.admin((s) => s.gc.run({ dryRun: false, graceMs: 3_600_000 }));
        freed += report.blobs;
        runs++;
      }
    })();
    try {
      for (let i = 0; i < 12; i++) {
        const name = `acme/scale-gc-${i}`;
        // Through B: an image whose first layer is the blob gc deleted (or is deleting) after the last round.
        const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, round: i }));
        const own = randomBytes(64 * 1024);
        const blobs = [await pushBlob(b.url, name, config), await pushBlob(b.url, name, shared), await pushBlob(b.url, name, own)];
        const manifest = await pushManifest(b.url, name, 'v1', {
          schemaVersion: 2, mediaType: MEDIA.ociManifest,
          config: { mediaType: MEDIA.ociConfig, digest: blobs[0], size: config.length },
          layers: [
            { mediaType: MEDIA.ociLayer, digest: blobs[1], size: shared.length },
            { mediaType: MEDIA.ociLayer, digest: blobs[2], size: own.length },
          ],
        }, MEDIA.ociManifest);
        // Pulled back through A: everything there, digests verified.
        const got = await registryFetch(`${a.url}/v2/${name}/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
        assert.equal(got.status, 200, `round ${i}: manifest`);
        assert.equal(sha256(Buffer.from(await got.arrayBuffer())), manifest.digest);
        for (const d of blobs) {
          const res = await registryFetch(`${a.url}/v2/${name}/blobs/${d}`);
          assert.equal(res.status, 200, `round ${i}: blob ${d}`);
          assert.equal(sha256(Buffer.from(await res.arrayBuffer())), d, `round ${i}: bytes of ${d} intact`);
        }
        // Then make it all garbage again: manifest and links gone, so gc deletes the shared blob while the next
        // round pushes it again.
        assert.equal((await registryFetch(`${a.url}/v2/${name}/manifests/${manifest.digest}`, { method: 'DELETE' })).status, 202);
        for (const d of blobs) assert.equal((await registryFetch(`${a.url}/v2/${name}/blobs/${d}`, { method: 'DELETE' })).status, 202);
      }
      // The last round's blobs are gone once gc catches up; the shared one is pushed again and must read back whole.
      await pushBlob(b.url, 'acme/scale-gc-final', shared);
    } finally {
      stop = true;
      await collector;
    }
    assert.ok(runs > 3, `gc ran concurrently (${runs} runs)`);
    assert.ok(freed > 0, 'and did delete blobs meanwhile');
    const res = await registryFetch(`${a.url}/v2/acme/scale-gc-final/blobs/${sharedDigest}`);
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sharedDigest);
  });

  it('the cluster-wide jobs run under leases held by one of the replicas', async () => {
    // Both replicas tick every second; whichever holds a lease runs that job, the other stands by.
    await sleep(2_500);
    const leases = await a.query<{ name: string; holder: string }>('select name, holder from job_leases order by name');
    for (const job of ['purge-deleted-packages', 'purge-uploads']) assert.ok(leases.some((l) => l.name === job), `a lease row for ${job}`);
    for (const l of leases) assert.match(l.holder, /^replica-[0-9a-f]{16}$/);
  });

  it('skopeo pushes and pulls an image through an nginx round-robin of the two replicas', async () => {
    const layout = join(work, 'layout');
    const built = await writeImageLayout(layout, { layers: [6 * 1024 * 1024, 512 * 1024, 1024], tag: 'v1' });
    const creds = `${a.user}:${a.token}`;
    const before = accessLogEnd();
    await skopeoCopy(`oci:${layout}:v1`, `docker://${lb.host}/acme/scale-lb:v1`, [], { creds });
    const pulled = join(work, 'pulled');
    await skopeoCopy(`docker://${lb.host}/acme/scale-lb:v1`, `oci:${pulled}:v1`, [], { creds });
    assert.deepEqual(await summarizeLayout(pulled, 'v1'), summarize(built), 'pulled back digest for digest');

    // Both replicas served the clients' requests (token, uploads, manifests, blobs).
    const lines = balancedSince(before, 'skopeo push and pull');
    assert.ok(lines.some((l) => /^(PATCH|PUT) \/v2\/acme\/scale-lb\/blobs\/uploads\//.test(l)), 'uploads went through the balancer');
  });

  // Its own dockerd (temp dir, vfs, no networking setup), started here rather than in before() so the other tests
  // do not wait for it; generous timeout for a loaded 2-core machine, where dockerd alone may take a minute.
  it('docker logs in, builds, pushes, removes and pulls back an image through the round-robin', { timeout: 15 * 60_000 }, async () => {
    const daemon: DockerDaemon = await startDocker();
    try {
      await dockerRoundTrip(daemon);
    } catch (err) {
      // What dockerd said explains most client failures ("connection refused", token errors, pull retries).
      const log = daemon.log();
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- dockerd log (tail) ---\n${log.slice(-4000)}`, { cause: err });
    } finally {
      await daemon.stop();
    }
  });
});

interface DockerImage {
  Id: string;
  RepoDigests: string[];
  RootFS: { Layers: string[] };
}

async function inspectImage(daemon: DockerDaemon, ref: string): Promise<DockerImage> {
  const out = await docker(daemon, ['image', 'inspect', ref]);
  return (JSON.parse(out.stdout) as DockerImage[])[0]!;
}

async function dockerRoundTrip(daemon: DockerDaemon): Promise<void> {
  const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
  const name = 'acme/scale-docker';
  const ref = `${lb.host}/${name}:1`;
  // As a user would, against the balancer's address: Docker trusts plain HTTP on 127.0.0.0/8, and the token realm
  // the replicas announce is the balancer's public URL too.
  await dockerLogin(daemon, lb.host, a.user, a.token);

  // FROM scratch with two COPY layers (no base image, no network): a larger one, so its upload is a real stream.
  const context = join(work, 'docker-context');
  mkdirSync(context);
  const big = randomBytes(4 * 1024 * 1024 + 5);
  const small = randomBytes(32 * 1024);
  writeFileSync(join(context, 'big'), big);
  writeFileSync(join(context, 'small'), small);
  writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY big /big\nCOPY small /small\nLABEL org.opencontainers.image.title=scale\n');
  // The classic builder: BuildKit would need its own daemon-side setup and is not what is under test.
  await docker(daemon, ['build', '-t', ref, context], { env: { DOCKER_BUILDKIT: '0' } });
  const built = await inspectImage(daemon, ref);
  assert.equal(built.RootFS.Layers.length, 2, 'two layers built');

  const beforePush = accessLogEnd();
  const push = await docker(daemon, ['push', ref]);
  const digest = /digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(push.stdout)?.[1];
  assert.ok(digest, `no digest in docker push output:\n${push.stdout}`);
  const pushLines = balancedSince(beforePush, 'docker push');
  assert.ok(pushLines.some((l) => /^(PATCH|PUT) \/v2\/acme\/scale-docker\/blobs\/uploads\//.test(l)), 'uploads went through the balancer');
  assert.ok(pushLines.some((l) => /^PUT \/v2\/acme\/scale-docker\/manifests\/1 201 /.test(l)), 'the manifest went through the balancer');

  // Each replica, asked directly, has exactly that manifest, pointing at the image's config (its id) and layers.
  for (const [label, replica] of [['A', a], ['B', b]] as const) {
    const res = await registryFetch(`${replica.url}/v2/${name}/manifests/1`, { headers: { accept: `${DOCKER_MANIFEST}, ${MEDIA.ociManifest}` } });
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, `manifest on ${label}: ${body.toString('utf8')}`);
    assert.equal(res.headers.get('docker-content-digest'), digest, `manifest digest on ${label}`);
    assert.equal(sha256(body), digest, `manifest bytes on ${label}`);
    const manifest = JSON.parse(body.toString('utf8')) as { config: { digest: string }; layers: { digest: string; size: number }[] };
    assert.equal(manifest.config.digest, built.Id, `config on ${label} is the image id`);
    assert.equal(manifest.layers.length, 2, `layers on ${label}`);
    for (const blob of [manifest.config, ...manifest.layers]) {
      const got = await registryFetch(`${replica.url}/v2/${name}/blobs/${blob.digest}`);
      assert.equal(got.status, 200, `blob ${blob.digest} on ${label}`);
      assert.equal(sha256(Buffer.from(await got.arrayBuffer())), blob.digest, `bytes of ${blob.digest} on ${label}`);
    }
  }

  await docker(daemon, ['rmi', ref]);
  await assert.rejects(docker(daemon, ['image', 'inspect', ref]), ClientError, 'the image is gone before the pull');

  const beforePull = accessLogEnd();
  const pull = await docker(daemon, ['pull', ref]);
  assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
  const pullLines = balancedSince(beforePull, 'docker pull');
  assert.ok(pullLines.some((l) => /^GET \/v2\/acme\/scale-docker\/blobs\/sha256:/.test(l)), 'blobs came through the balancer');
  const pulled = await inspectImage(daemon, ref);
  assert.equal(pulled.Id, built.Id, 'the same image id');
  assert.deepEqual(pulled.RepoDigests, [`${lb.host}/${name}@${digest}`]);
  assert.deepEqual(pulled.RootFS.Layers, built.RootFS.Layers, 'the same layer diff ids');

  // The layers unpacked to the very bytes built into them.
  const container = (await docker(daemon, ['create', ref, '/big'])).stdout.trim();
  try {
    for (const [file, bytes] of [['big', big], ['small', small]] as const) {
      const out = join(work, `docker-copied-${file}`);
      await docker(daemon, ['cp', `${container}:/${file}`, out]);
      assert.ok(readFileSync(out).equals(bytes), `/${file} intact`);
    }
  } finally {
    await docker(daemon, ['rm', container]);
  }
}
