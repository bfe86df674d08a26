import type { Readable } from 'node:stream';
import { LimitExceededError } from './hash-stream.js';

/**
 * Reads a small body (a manifest) into memory, refusing more than `limit` bytes. The only body Berth buffers:
 * blobs always stream.
 */
export async function readLimited(source: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      source.destroy();
      throw new LimitExceededError(limit);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}
