import type { Readable } from 'node:stream';
import { LimitExceededError } from './hash-stream.js';

/**
 * Reads a small body (a manifest) into memory, refusing more than `limit` bytes. The only body Berth buffers:
 * blobs always stream.
 */
export async function readLimited(source: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Leaving the loop early must not destroy the request: that resets the socket and the client never sees the
  // 413. The error handler drains the rest of the body instead.
  for await (const chunk of source.iterator({ destroyOnReturn: false })) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new LimitExceededError(limit);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}
