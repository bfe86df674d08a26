/**
 * The `--postgres-s3` part of the bench: Berth on PostgreSQL + S3 (Ceph's RADOS Gateway via scripts/s3-ceph.sh,
 * a throwaway PostgreSQL cluster as the tests make one), measured as one replica and as two replicas behind an
 * nginx round-robin: skopeo push and pull of the bench image, and manifest GETs with wrk. Everything runs on this
 * one machine, so a second replica adds no CPU: the figure to watch is that it does not lower throughput.
 */
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client,
} from '@aws-sdk/client-s3';
import { createDatabase } from '../test/helpers/postgres.js';
import { ensureS3, freshBucket, type S3Server } from '../test/helpers/s3.js';
import type { Cleanup } from './cleanup.js';
import { skopeoPull, skopeoPush, wrk } from './clients.js';
import { MANIFEST_MEDIA_TYPE, type BenchImage } from './image.js';
import { timed } from './measure.js';
import type { ScaleOutFigures, ScaleOutSetup } from './report.js';
import { authorization, startBerth, startCncfRegistry, startLoadBalancer, verifyManifest, type Server } from './servers.js';

const ROOT = new URL('..', import.meta.url).pathname;
const REPO = 'bench/big';
const TAG = '1';

interface Settings {
  readonly pushRuns: number;
  readonly pullRuns: number;
  readonly wrkSeconds: number;
}

/** One Berth cluster on a fresh database and bucket: its replicas and the address clients use. */
interface Cluster {
  readonly front: Server;
  readonly replicas: readonly Server[];
  readonly bucket: string;
  stop(): Promise<void>;
}

export async function measureScaleOut(
  settings: Settings, image: BenchImage, work: string, cleanup: Cleanup, progress: (message: string) => void,
): Promise<ScaleOutFigures> {
  progress('postgres-s3: starting PostgreSQL and the S3 server (Ceph RGW)');
  const s3 = await startS3(cleanup);
  const client = s3Client(s3);
  cleanup.add('close S3 client', () => client.destroy());
  const postgres = spawnSync('sh', ['-c', 'ls /usr/lib/postgresql | sort -n | tail -1'], { encoding: 'utf8' }).stdout.trim();

  let clusters = 0;
  const startCluster = async (replicas: 1 | 2): Promise<Cluster> => {
    const n = ++clusters;
    const bucket = freshBucket();
    const env = {
      BERTH_METADATA_URL: await createDatabase(),
      BERTH_STORAGE_DRIVER: 's3', BERTH_STORAGE_S3_ENDPOINT: s3.endpoint, BERTH_STORAGE_S3_BUCKET: bucket,
      BERTH_STORAGE_S3_REGION: s3.region, BERTH_STORAGE_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region,
    };
    const first = await startBerth(join(work, `pg-s3-${n}-a`), cleanup, { env, name: 'Berth (postgres-s3)' });
    const all = [first];
    if (replicas === 2) all.push(await startBerth(join(work, `pg-s3-${n}-b`), cleanup, { env, credentials: first.credentials, name: 'Berth (postgres-s3)' }));
    const front = replicas === 2 ? await startLoadBalancer(join(work, `pg-s3-${n}-lb`), all, cleanup) : first;
    return {
      front, replicas: all, bucket,
      async stop() {
        if (front !== first) await front.stop();
        for (const r of all) await r.stop();
        await dropBucket(client, bucket);
        await Promise.all(all.map((r) => rm(r.dataDir, { recursive: true, force: true })));
      },
    };
  };

  // Pushes into fresh clusters (empty bucket, new port: skopeo cannot mount from its cache), alternating which
  // setup goes first; the last cluster of each stays up for the pulls and the request rates.
  const setups = [1, 2] as const;
  const pushSeconds: number[][] = [[], []];
  const kept: Cluster[] = [];
  for (let run = 1; run <= settings.pushRuns; run++) {
    const order = run % 2 === 1 ? [0, 1] : [1, 0];
    for (const k of order) {
      const cluster = await startCluster(setups[k]!);
      progress(`postgres-s3: skopeo push → ${setups[k]} replica${k === 1 ? 's behind nginx' : ''} (run ${run}/${settings.pushRuns})`);
      const { seconds } = await timed(() => skopeoPush(image.dir, image.tag, `${cluster.front.host}/${REPO}:${TAG}`, cluster.front.credentials));
      await verifyManifest(cluster.front, REPO, TAG, image.manifestDigest);
      pushSeconds[k]!.push(seconds);
      if (run === settings.pushRuns) kept[k] = cluster;
      else await cluster.stop();
    }
  }
  const pullSeconds: number[][] = [[], []];
  const pulled = join(work, 'pg-s3-pulled');
  for (let i = 0; i < settings.pullRuns; i++) {
    for (const k of [0, 1]) {
      progress(`postgres-s3: skopeo pull ← ${setups[k]} replica${k === 1 ? 's behind nginx' : ''} (run ${i + 1}/${settings.pullRuns})`);
      const { seconds } = await timed(() => skopeoPull(`${kept[k]!.front.host}/${REPO}:${TAG}`, pulled, 'bench', kept[k]!.front.credentials));
      pullSeconds[k]!.push(seconds);
      await rm(pulled, { recursive: true, force: true });
    }
  }

  // Request rates: one replica directly, the same replica alone behind nginx (what the proxy hop costs), and
  // both replicas behind nginx.
  const [one, two] = kept as [Cluster, Cluster];
  const oneBehindNginx = await startLoadBalancer(join(work, 'pg-s3-lb-one'), one.replicas, cleanup);
  const rate = async (label: string, front: Server): Promise<ScaleOutSetup['manifestGet']> => {
    progress(`postgres-s3: manifest GET with wrk → ${label} (${settings.wrkSeconds} s)`);
    const auth = await authorization(front, `repository:${REPO}:pull`);
    const url = `${front.url}/v2/${REPO}/manifests/${TAG}`;
    const headers = { Accept: MANIFEST_MEDIA_TYPE, ...auth };
    // Unmeasured first: connection pools, the JIT and PostgreSQL's caches warm up alike for every setup.
    await wrk(url, { threads: 2, connections: 32, seconds: 2, headers });
    return wrk(url, { threads: 2, connections: 32, seconds: settings.wrkSeconds, headers });
  };
  const direct = await rate('1 replica', one.front);
  progress(`postgres-s3: authenticated GET /v2/ with wrk → 1 replica (${settings.wrkSeconds} s)`);
  const ping = await wrk(`${one.front.url}/v2/`, { threads: 2, connections: 32, seconds: settings.wrkSeconds, headers: await authorization(one.front, `repository:${REPO}:pull`) });
  const viaNginx = await rate('1 replica behind nginx', oneBehindNginx);
  const both = await rate('2 replicas behind nginx', two.front);
  await oneBehindNginx.stop();
  await one.stop();
  await two.stop();
  const cncf = await measureCncfOnS3(settings, image, work, s3, client, cleanup, progress);
  return {
    metadata: `PostgreSQL ${postgres} (throwaway cluster, fsync off)`,
    storage: `Ceph RGW at ${s3.endpoint}`,
    oneReplica: { pushSeconds: pushSeconds[0]!, pullSeconds: pullSeconds[0]!, manifestGet: direct, manifestGetBehindNginx: viaNginx, ping },
    twoReplicas: { pushSeconds: pushSeconds[1]!, pullSeconds: pullSeconds[1]!, manifestGet: both },
    cncf,
  };
}

/**
 * The anchor on the same storage: the CNCF registry with its S3 driver on a fresh bucket of the same Ceph RGW per
 * push (it keeps its metadata, tags and links, as objects in the bucket; Berth keeps them in PostgreSQL), then pulls
 * and manifest GETs from the last one, with the same settings as Berth's (no auth: it has none configured).
 */
async function measureCncfOnS3(
  settings: Settings, image: BenchImage, work: string, s3: S3Server, client: S3Client, cleanup: Cleanup, progress: (message: string) => void,
): Promise<ScaleOutSetup> {
  const start = async (run: number): Promise<{ server: Server; bucket: string }> => {
    const bucket = freshBucket();
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const server = await startCncfRegistry(join(work, `cncf-s3-${run}`), cleanup, {
      s3: { endpoint: s3.endpoint, region: s3.region, bucket, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    return { server, bucket };
  };
  const stop = async (c: { server: Server; bucket: string }): Promise<void> => {
    await c.server.stop();
    await dropBucket(client, c.bucket);
    await rm(c.server.dataDir, { recursive: true, force: true });
  };
  const pushSeconds: number[] = [];
  let kept: { server: Server; bucket: string } | null = null;
  for (let run = 1; run <= settings.pushRuns; run++) {
    const c = await start(run);
    progress(`postgres-s3: skopeo push → CNCF registry on the same S3 (run ${run}/${settings.pushRuns})`);
    const { seconds } = await timed(() => skopeoPush(image.dir, image.tag, `${c.server.host}/${REPO}:${TAG}`, null));
    await verifyManifest(c.server, REPO, TAG, image.manifestDigest);
    pushSeconds.push(seconds);
    if (run === settings.pushRuns) kept = c;
    else await stop(c);
  }
  const { server } = kept!;
  const pullSeconds: number[] = [];
  const pulled = join(work, 'cncf-s3-pulled');
  for (let i = 0; i < settings.pullRuns; i++) {
    progress(`postgres-s3: skopeo pull ← CNCF registry on the same S3 (run ${i + 1}/${settings.pullRuns})`);
    const { seconds } = await timed(() => skopeoPull(`${server.host}/${REPO}:${TAG}`, pulled, 'bench', null));
    pullSeconds.push(seconds);
    await rm(pulled, { recursive: true, force: true });
  }
  progress(`postgres-s3: manifest GET with wrk → CNCF registry on the same S3 (${settings.wrkSeconds} s)`);
  const url = `${server.url}/v2/${REPO}/manifests/${TAG}`;
  const headers = { Accept: MANIFEST_MEDIA_TYPE };
  await wrk(url, { threads: 2, connections: 32, seconds: 2, headers });
  const manifestGet = await wrk(url, { threads: 2, connections: 32, seconds: settings.wrkSeconds, headers });
  await stop(kept!);
  return { pushSeconds, pullSeconds, manifestGet };
}

/** The test S3 server: S3_ENDPOINT when set, else Ceph RGW, started here (and stopped at the end) if not running. */
async function startS3(cleanup: Cleanup): Promise<S3Server> {
  const running = process.env.S3_ENDPOINT !== undefined
    || spawnSync('curl', ['-sf', '-o', '/dev/null', `http://127.0.0.1:${process.env.RGW_PORT ?? '7480'}/`]).status === 0;
  const s3 = await ensureS3();
  if (!running) cleanup.add('stop Ceph RGW', () => { spawnSync('bash', [join(ROOT, 'scripts/s3-ceph.sh'), 'stop'], { stdio: 'ignore' }); });
  return s3;
}

function s3Client(s3: S3Server): S3Client {
  return new S3Client({
    endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    // Ceph RGW 16 does not know the SDK's default CRC checksums (scripts/s3-ceph.sh).
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Removes a run's bucket with everything in it (a gigabyte per push), so runs do not fill the test S3 server. */
async function dropBucket(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (page.Contents ?? []).map((o) => o.Key!).filter(Boolean);
    if (keys.length === 0) break;
    for (const Key of keys) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
  }
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const u of uploads.Uploads ?? []) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }));
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}
