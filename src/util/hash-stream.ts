import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * A pass-through that feeds every byte into a hash and counts them, so a blob is hashed while it streams to
 * storage and never held in memory. The hash is supplied by the caller, so a chunked upload can keep one running
 * hash across PATCH requests (or a copy of it, to discard when a chunk fails).
 */
export class HashingStream extends Transform {
  readonly hash: Hash;
  bytes = 0;
  readonly #limit: number;

  constructor(hash: Hash, limit = Number.POSITIVE_INFINITY) {
    super();
    this.hash = hash;
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.#limit) {
      done(new LimitExceededError(this.#limit));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }
}

export class LimitExceededError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
    this.name = 'LimitExceededError';
  }
}

export function newHash(algorithm: 'sha256' | 'sha512'): Hash {
  return createHash(algorithm);
}
