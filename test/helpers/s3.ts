// A real S3 server for the tests: Ceph's RADOS Gateway, started by scripts/s3-ceph.sh (needs root). The test runner
// (scripts/run-tests.mjs) starts it once per run and exports S3_ENDPOINT + AWS_*; a test file run by hand without
// them starts it here (once, under a lock), exports the same variables in this process, and leaves it running for
// the next (`bash scripts/s3-ceph.sh stop`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './ports.js';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface S3Server {
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

let server: Promise<S3Server> | undefined;

/** The S3 server of this test run: from S3_ENDPOINT/AWS_* when set, else Ceph RGW on 127.0.0.1:7480. */
export function ensureS3(): Promise<S3Server> {
  server ??= findOrStart();
  return server;
}

/** A bucket name no other test process or server uses (the driver creates it on first use). */
export function freshBucket(): string {
  return `berth-test-${randomBytes(6).toString('hex')}`;
}

/**
 * The environment that points a Berth process at S3 with a fresh bucket, as the `postgres-s3` backend set needs:
 * BERTH_STORAGE_* plus the credentials the SDK picks up from AWS_*.
 */
export async function s3BerthEnv(bucket: string): Promise<Record<string, string>> {
  const s3 = await ensureS3();
  return {
    BERTH_STORAGE_DRIVER: 's3',
    BERTH_STORAGE_S3_ENDPOINT: s3.endpoint,
    BERTH_STORAGE_S3_BUCKET: bucket,
    BERTH_STORAGE_S3_REGION: s3.region,
    BERTH_STORAGE_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: s3.region,
    // The SDK warns once per process that its 2027 releases will need Node 22; Berth supports Node 20 until then.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** A client of the test S3 server, for what tests do behind Berth's back; `destroy()` it when done. */
export async function s3Client(): Promise<S3Client> {
  const s3 = await ensureS3();
  return new S3Client({
    endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Total size of the objects under `prefix` in `bucket` (e.g. a server's upload scratch pieces). */
export async function objectBytes(bucket: string, prefix: string): Promise<number> {
  const client = await s3Client();
  try {
    let total = 0;
    let ContinuationToken: string | undefined;
    do {
      const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken }));
      for (const o of res.Contents ?? []) total += o.Size ?? 0;
      ContinuationToken = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return total;
  } finally {
    client.destroy();
  }
}

async function findOrStart(): Promise<S3Server> {
  const fromEnv = (env: NodeJS.ProcessEnv): S3Server => ({
    endpoint: env.S3_ENDPOINT!,
    region: env.AWS_REGION ?? 'us-east-1',
    accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'TESTACCESSKEY',
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'TESTSECRETKEY0123456789',
  });
  if (process.env.S3_ENDPOINT) return fromEnv(process.env);
  const cephDir = process.env.CEPH_DIR ?? '/tmp/s3lab/ceph';
  const port = process.env.RGW_PORT ?? '7480';
  // Under a lock, so test files started together do not each (re)start the cluster; a running one is reused.
  // -o: the daemons the script starts must not inherit the lock's descriptor, or they hold it for their lifetime
  // and every later run waits forever.
  const r = spawnSync('flock', ['-o', '/tmp/berth-s3-ceph.lock', 'bash', '-c',
    `curl -sf -o /dev/null http://127.0.0.1:${port}/ && [ -f "${cephDir}/s3.env" ] || bash scripts/s3-ceph.sh start`,
  ], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`cannot start Ceph RGW (scripts/s3-ceph.sh start, needs root and radosgw):\n${r.stdout}\n${r.stderr}`);
  // Into this process's environment, as the test runner would have put them: code under test that opens the
  // blob store here (startBerth's seeding, RunningBerth.blobStore) takes its credentials from the SDK chain.
  for (const m of readFileSync(`${cephDir}/s3.env`, 'utf8').matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]!] ??= m[2]!;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return fromEnv(process.env);
}

export interface S3Gateway {
  /** `http://127.0.0.1:PORT`: the same buckets and objects as the shared endpoint, through another process. */
  readonly endpoint: string;
  /** SIGKILL, as a crash or a pulled cable would: in-flight requests are cut, new connections refused. */
  kill(): Promise<void>;
  /** Starts it again on the same port; resolves when it answers. */
  start(): Promise<void>;
}

/**
 * A second RADOS Gateway of the test Ceph cluster, on a port of its own, that a test may kill and start again
 * without touching the shared one (other test processes use that). Null when there is no local Ceph cluster (an
 * S3_ENDPOINT elsewhere, or radosgw not installed).
 */
export async function startGateway(): Promise<S3Gateway | null> {
  await ensureS3();
  const conf = join(process.env.CEPH_DIR ?? '/tmp/s3lab/ceph', 'ceph.conf');
  if (!existsSync(conf) || spawnSync('sh', ['-c', 'command -v radosgw']).status !== 0) return null;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'berth-rgw-'));
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const kill = async (): Promise<void> => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGKILL');
    });
  };
  const start = async (): Promise<void> => {
    // Its own name, pid file, admin socket and log, so nothing clashes with the shared gateway (client.rgw.a).
    child = spawn('radosgw', [
      '-f', '-c', conf, '-n', `client.rgw.test${port}`,
      '--rgw-frontends', `beast endpoint=127.0.0.1:${port}`, '--rgw-dns-name', 'localhost', '--ms-mon-client-mode', 'crc',
      '--rgw-data', dir, '--pid-file', join(dir, 'rgw.pid'), '--admin-socket', join(dir, 'rgw.asok'), '--log-file', join(dir, 'rgw.log'),
    ], { stdio: 'ignore' });
    const started = child;
    for (let i = 0; ; i++) {
      if (started.exitCode !== null) throw new Error(`radosgw exited (${started.exitCode}); see ${dir}/rgw.log`);
      try {
        if ((await fetch(endpoint)).ok) return;
      } catch { /* not listening yet */ }
      if (i > 600) throw new Error(`radosgw on ${endpoint} did not answer within 60 s; see ${dir}/rgw.log`);
      await sleep(100);
    }
  };
  process.once('exit', () => {
    child?.kill('SIGKILL');
    if (!process.env.BERTH_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return { endpoint, kill, start };
}
