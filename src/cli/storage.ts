import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { openBlobStore } from '../app/create-app.js';
import { loadConfig, type Config } from '../config/config.js';
import { sqlitePath } from '../db/connect.js';
import { sqliteFiles } from '../db/wal-guard.js';
import { makeDigest, type Digest } from '../oci/digest.js';
import type { BlobStore, UploadHandle } from '../storage/blob-store.js';
import { withDataOptions } from './admin-context.js';

/** `berth storage check`: exercises the configured blob store the way a push and a pull do. */
export function storageCommand(): Command {
  const storage = new Command('storage').description('Blob storage operations');
  storage.addCommand(withDataOptions(new Command('check'))
    .description('Verify the configured blob store: write access, a multi-part upload over 10 MiB, commit, stat, range read, delete')
    .addHelpText('after', `
Writes one random test blob (about 11 MiB) and deletes it again; real blobs are never touched.
Prints one line per check with its duration; exit code 1 when any check fails.

Examples:
  berth storage check --config /etc/berth/berth.yaml
  BERTH_STORAGE_DRIVER=s3 BERTH_STORAGE_S3_BUCKET=berth berth storage check`)
    .action(async (opts: { data?: string; config?: string }) => {
      const config = loadConfig({ file: opts.config, overrides: { dataDir: opts.data } });
      process.stdout.write(`storage driver: ${config.storage.driver}\n`);
      for (const line of await whereDataLives(config)) process.stdout.write(`${line}\n`);
      const ok = await checkStorage(config.storage, (line) => process.stdout.write(`${line}\n`));
      process.stdout.write(ok ? 'storage check passed\n' : 'storage check FAILED\n');
      if (!ok) process.exitCode = 1;
    }));
  return storage;
}

/** Where the blobs and the metadata database live (the SQLite files with their roles), with free space. */
async function whereDataLives(config: Config): Promise<string[]> {
  // Of the filesystem the path is (or will be) on: the nearest directory that exists.
  const free = async (path: string): Promise<string> => {
    for (let dir = path; ; dir = dirname(dir)) {
      const s = await statfs(dir).catch(() => null);
      if (s) return ` (${(s.bavail * s.bsize / 1024 ** 3).toFixed(1)} GiB free)`;
      if (dir === dirname(dir)) return '';
    }
  };
  const lines = [config.storage.driver === 'fs' ? `blob storage: ${config.storage.fs.root}${await free(config.storage.fs.root)}` : `blob storage: bucket ${config.storage.s3!.bucket}`];
  if (/^postgres(ql)?:\/\//.test(config.metadata.url)) {
    const url = new URL(config.metadata.url);
    lines.push(`metadata database: PostgreSQL ${url.host}${url.pathname}`);
  } else {
    const files = sqliteFiles(sqlitePath(config.metadata.url));
    lines.push(
      `metadata database: SQLite ${files.database}${await free(dirname(files.database))}`,
      `  write-ahead log: ${files.wal} (recent commits live only here until a checkpoint)`,
      `  shared memory:   ${files.shm}`,
      '  keep the three together (back them up together) and never delete the -wal or -shm file while Berth runs',
    );
  }
  return lines;
}

/** Appends of uneven sizes, none a multiple of S3's 5 MiB minimum part, totalling more than 10 MiB. */
const CHUNKS = [1024, 4 * 1024 * 1024, 3 * 1024 * 1024 + 7, 4 * 1024 * 1024 + 1];

/** Runs the checks in order, reporting each; stops at the first failure and cleans up. True when all passed. */
export async function checkStorage(storageConfig: Config['storage'], report: (line: string) => void): Promise<boolean> {
  const chunks = CHUNKS.map((n) => randomBytes(n));
  const all = Buffer.concat(chunks); // the check's own ~11 MiB of test data, kept to compare reads against
  const digest = makeDigest('sha256', createHash('sha256').update(all).digest('hex'));
  const uploadId = randomUUID();
  let store: BlobStore | undefined;
  let handle: UploadHandle | undefined;
  let committed = false;

  const step = async (label: string, fn: () => Promise<string | void>): Promise<boolean> => {
    const started = performance.now();
    try {
      const note = await fn();
      report(`ok    ${label} (${Math.round(performance.now() - started)} ms)${note ? `: ${note}` : ''}`);
      return true;
    } catch (err) {
      report(`FAIL  ${label} (${Math.round(performance.now() - started)} ms): ${(err as Error).message}`);
      return false;
    }
  };

  let size = 0;
  const passed = await step('open the blob store', async () => { store = await openBlobStore(storageConfig); })
    && await step('write access: start an upload and append 1 KiB', async () => {
      handle = await store!.startUpload(uploadId);
      ({ handle, size } = await store!.appendUpload(uploadId, handle, 0, Readable.from([chunks[0]!])));
      if (size !== chunks[0]!.length) throw new Error(`size after the first append is ${size}, expected ${chunks[0]!.length}`);
    })
    && await step(`multi-append upload to ${(all.length / 1024 / 1024).toFixed(1)} MiB`, async () => {
      for (const chunk of chunks.slice(1)) {
        // In pieces, as request bodies arrive.
        const pieces = Array.from({ length: Math.ceil(chunk.length / 65536) }, (_, i) => chunk.subarray(i * 65536, (i + 1) * 65536));
        ({ handle, size } = await store!.appendUpload(uploadId, handle!, size, Readable.from(pieces)));
      }
      if (size !== all.length) throw new Error(`upload size is ${size}, expected ${all.length}`);
      return `${CHUNKS.length} appends`;
    })
    && await step('read the upload back and hash it', async () => {
      const got = await hashStream(await store!.readUpload(uploadId, handle!));
      if (got !== digest) throw new Error(`the upload hashes to ${got}, expected ${digest}`);
    })
    && await step('commit the upload as a blob', async () => {
      await store!.commitUpload(uploadId, handle!, digest);
      committed = true;
    })
    && await step('stat the blob', async () => {
      const stat = await store!.stat(digest);
      if (!stat) throw new Error('the committed blob is not found');
      if (stat.size !== all.length) throw new Error(`stat says ${stat.size} bytes, expected ${all.length}`);
    })
    && await step('range read across an append boundary', async () => {
      const start = chunks[0]!.length + chunks[1]!.length - 1000;
      const end = start + 4095;
      const got = await collect(await store!.read(digest, { start, end }));
      if (!got.equals(all.subarray(start, end + 1))) throw new Error(`bytes ${start}-${end} differ from what was written (${got.length} bytes read)`);
    })
    && await step('read the whole blob and verify its digest', async () => {
      const got = await hashStream(await store!.read(digest));
      if (got !== digest) throw new Error(`the blob hashes to ${got}, expected ${digest}`);
    })
    && await step('delete the blob and the upload', async () => {
      await store!.delete(digest);
      committed = false;
      await store!.abortUpload(uploadId, handle!);
      handle = undefined;
      if (await store!.stat(digest)) throw new Error('the blob is still there after delete');
    });

  if (!passed && store) {
    // Best effort: leave nothing of the check behind.
    if (committed) await store.delete(digest).catch(() => {});
    if (handle) await store.abortUpload(uploadId, handle).catch(() => {});
  }
  store?.close?.();
  return passed;
}

async function hashStream(stream: Readable): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return makeDigest('sha256', hash.digest('hex'));
}

/** A range read is small (4 KiB), so it is collected to compare. */
async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}
