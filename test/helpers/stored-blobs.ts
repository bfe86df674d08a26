// Damage done to a running Berth's stored blobs behind its back, as a failing disk, a careless operator or a broken
// object store would: bytes overwritten in place, or the blob deleted. fs: the file under the data directory; s3:
// the object, through the S3 API.
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningBerth } from './berth.js';
import { s3Client } from './s3.js';

/** Flips `count` bytes of the stored blob `digest` starting at `offset`; its size stays the same. */
export async function corruptStoredBlob(berth: RunningBerth, digest: string, offset = 100, count = 4): Promise<void> {
  const bucket = berth.metadataEnv.BERTH_STORAGE_S3_BUCKET;
  if (!bucket) {
    const fh = await open(blobPath(berth, digest), 'r+');
    try {
      const buf = Buffer.alloc(count);
      const { bytesRead } = await fh.read(buf, 0, count, offset);
      if (bytesRead !== count) throw new Error(`blob ${digest} is shorter than ${offset + count} bytes`);
      for (let i = 0; i < count; i++) buf[i] = buf[i]! ^ 0xff;
      await fh.write(buf, 0, count, offset);
    } finally {
      await fh.close();
    }
    return;
  }
  const client = await s3Client();
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: blobKey(digest) }));
    const body = Buffer.from(await res.Body!.transformToByteArray());
    if (body.length < offset + count) throw new Error(`blob ${digest} is shorter than ${offset + count} bytes`);
    for (let i = offset; i < offset + count; i++) body[i] = body[i]! ^ 0xff;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: blobKey(digest), Body: body, ContentLength: body.length }));
  } finally {
    client.destroy();
  }
}

/** Deletes the stored bytes of `digest` (the database still has the blob). */
export async function deleteStoredBlob(berth: RunningBerth, digest: string): Promise<void> {
  const bucket = berth.metadataEnv.BERTH_STORAGE_S3_BUCKET;
  if (!bucket) {
    await rm(blobPath(berth, digest));
    return;
  }
  const client = await s3Client();
  try {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: blobKey(digest) }));
  } finally {
    client.destroy();
  }
}

function blobKey(digest: string): string {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return `blobs/${algorithm}/${hex.slice(0, 2)}/${hex}`;
}

/** The file of `digest` under a filesystem-backed Berth's data directory. */
export function blobPath(berth: RunningBerth, digest: string): string {
  return join(berth.dataDir, 'storage', blobKey(digest));
}
