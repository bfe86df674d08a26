import type { Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { digestAlgorithm, digestHex, makeDigest, type Digest } from '../oci/digest.js';
import type { BlobFile } from '../storage/blob-store.js';
import { newHash } from '../util/hash-stream.js';

/**
 * Verification of a full blob read while it is served (`storage.verifyOnRead`). The bytes are hashed as they go out
 * and the LAST piece is held back until the hash is known: on a mismatch it is never sent, so the client gets fewer
 * bytes than Content-Length and a cut connection — a failed download — never a complete, clean, wrong body.
 * Only whole-blob reads can be verified; a range is served unchecked.
 */

/** Called on a mismatch (`actual`: the digest of what was read, or what else was found) as the read fails. */
export type OnMismatch = (actual: string) => void;

class ReadCheck {
  readonly #digest: Digest;
  readonly #size: number;
  readonly #hash: Hash;
  bytes = 0;

  constructor(digest: Digest, size: number) {
    this.#digest = digest;
    this.#size = size;
    this.#hash = newHash(digestAlgorithm(digest));
  }

  add(chunk: Buffer): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
  }

  get complete(): boolean {
    return this.bytes >= this.#size;
  }

  /** At the end of the read: null when the bytes match the digest, else a description of what was read. */
  mismatch(): string | null {
    if (this.bytes !== this.#size) return `${this.bytes} bytes, not ${this.#size}`;
    const hex = this.#hash.digest('hex');
    return hex === digestHex(this.#digest) ? null : makeDigest(digestAlgorithm(this.#digest), hex);
  }
}

export class BlobMismatchError extends Error {
  constructor(readonly digest: Digest, readonly actual: string) {
    super(`stored blob ${digest} does not match its digest (read ${actual}); the download was cut off`);
    this.name = 'BlobMismatchError';
  }
}

/**
 * `file` (read sequentially from 0 by send-file.ts) checked as it is read: the read that reaches the end fails with
 * BlobMismatchError, before its bytes are sent, when the whole does not hash to `digest` (as does one that finds
 * the file shorter than `size`). A read out of sequence turns checking off.
 */
export function verifyingFile(file: BlobFile, digest: Digest, size: number, onMismatch: OnMismatch): BlobFile {
  const check = new ReadCheck(digest, size);
  let off = false;
  const fail = (actual: string): never => {
    onMismatch(actual);
    throw new BlobMismatchError(digest, actual);
  };
  return {
    async read(buffer, offset, length, position) {
      if (position !== check.bytes) off = true;
      const result = await file.read(buffer, offset, length, position);
      if (off) return result;
      if (result.bytesRead === 0 && !check.complete) return fail(check.mismatch()!);
      check.add(buffer.subarray(offset, offset + result.bytesRead));
      if (check.complete) {
        const actual = check.mismatch();
        if (actual !== null) return fail(actual);
      }
      return result;
    },
    close: () => file.close(),
  };
}

/** A pass-through that checks the whole stream against `digest`, holding back the last chunk until it is known. */
export class VerifyingStream extends Transform {
  readonly #check: ReadCheck;
  readonly #digest: Digest;
  readonly #size: number;
  readonly #onMismatch: OnMismatch;
  #held: Buffer | null = null;
  /**
   * Resolves when the first bytes are passed on (or the stream ends whole), rejects with the mismatch when it is
   * found before that — a blob of one chunk: then no response has begun, and the caller can answer an error.
   */
  readonly started: Promise<void>;
  #start!: { resolve: () => void; reject: (err: Error) => void };

  constructor(digest: Digest, size: number, onMismatch: OnMismatch) {
    super();
    this.#check = new ReadCheck(digest, size);
    this.#digest = digest;
    this.#size = size;
    this.#onMismatch = onMismatch;
    this.started = new Promise((resolve, reject) => { this.#start = { resolve, reject }; });
    this.started.catch(() => undefined);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#check.add(chunk);
    // Longer than the blob: never send more than Content-Length promised.
    if (this.#check.bytes > this.#size) return this.#fail(`more than ${this.#size} bytes`, done);
    const previous = this.#held;
    this.#held = chunk;
    if (previous) this.#start.resolve();
    done(null, previous ?? undefined);
  }

  override _flush(done: TransformCallback): void {
    const actual = this.#check.mismatch();
    if (actual !== null) return this.#fail(actual, done);
    this.#start.resolve();
    done(null, this.#held ?? undefined);
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    // The store's stream failed, or the consumer went away, before anything was passed on.
    this.#start.reject(err ?? new Error('the blob stream closed before its first bytes'));
    done(err);
  }

  #fail(actual: string, done: TransformCallback): void {
    this.#held = null;
    const err = new BlobMismatchError(this.#digest, actual);
    this.#start.reject(err);
    this.#onMismatch(actual);
    done(err);
  }
}
