// A real S3 server for the tests: Ceph's RADOS Gateway, started by scripts/s3-ceph.sh (needs root). The test runner
// (scripts/run-tests.mjs) starts it once per run and exports S3_ENDPOINT + AWS_*; a test file run by hand without
// them starts it here (once, under a lock), exports the same variables in this process, and leaves it running for
// the next (`bash scripts/s3-ceph.sh stop`).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

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
