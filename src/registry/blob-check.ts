import type { Digest } from '../oci/digest.js';
import { digestAlgorithm, digestHex, makeDigest } from '../oci/digest.js';
import type { BlobStore } from '../storage/blob-store.js';
import { newHash } from '../util/hash-stream.js';
import type { BlobProblem } from './blob-quarantine.js';

export type StoredBlobCheck =
  | { readonly ok: true }
  /** `actual`: the digest of the bytes read, or what else was found. */
  | { readonly ok: false; readonly problem: BlobProblem; readonly actual: string };

/**
 * Reads the stored bytes of `digest` whole and checks them against the digest and `size` (streamed: nothing held in
 * memory). `paced` is awaited after each chunk with its length: the scrub's rate limit, and where a run is
 * aborted. Errors other than a missing blob (a storage outage) are thrown: they say nothing about the bytes.
 */
export async function checkStoredBlob(
  store: BlobStore, digest: Digest, size: number, paced?: (bytes: number) => Promise<void>,
): Promise<StoredBlobCheck> {
  let stream;
  try {
    stream = await store.read(digest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, problem: 'missing', actual: 'no stored bytes' };
    throw err;
  }
  const hash = newHash(digestAlgorithm(digest));
  let bytes = 0;
  try {
    for await (const chunk of stream) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      if (paced) await paced((chunk as Buffer).length);
    }
  } finally {
    stream.destroy();
  }
  if (bytes !== size) return { ok: false, problem: 'corrupt', actual: `${bytes} bytes, not ${size}` };
  const hex = hash.digest('hex');
  return hex === digestHex(digest) ? { ok: true } : { ok: false, problem: 'corrupt', actual: makeDigest(digestAlgorithm(digest), hex) };
}
