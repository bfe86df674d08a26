import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat, truncate, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { digestAlgorithm, digestHex, makeDigest, type Digest } from '../../oci/digest.js';
import type { BlobFile, BlobStat, BlobStore, UploadHandle } from '../blob-store.js';

/**
 * Local filesystem layout under `root`:
 *   uploads/<uploadId>                 in-progress upload data (scratch; never readable as a blob)
 *   blobs/<algorithm>/<ab>/<hex>       committed blobs, content-addressed; created (or replaced) only as a hard
 *                                      link to a complete, fsynced upload
 * A crash before the link leaves scratch data only (purged later); after it, a complete, fsynced blob.
 */
export class FsBlobStore implements BlobStore {
  readonly #uploads: string;
  readonly #blobs: string;

  constructor(root: string) {
    this.#uploads = join(root, 'uploads');
    this.#blobs = join(root, 'blobs');
  }

  /** Directories 0700 and files 0600 (blobs are links of upload files): private images stay private to local users. */
  async init(): Promise<void> {
    await mkdir(this.#uploads, { recursive: true, mode: 0o700 });
    await mkdir(this.#blobs, { recursive: true, mode: 0o700 });
  }

  async startUpload(uploadId: string): Promise<UploadHandle> {
    const fh = await open(this.#uploadPath(uploadId), 'wx', 0o600);
    await fh.close();
    return {};
  }

  async appendUpload(uploadId: string, handle: UploadHandle, offset: number, source: Readable): Promise<{ handle: UploadHandle; size: number }> {
    const path = this.#uploadPath(uploadId);
    // Writing at `offset` (not appending) makes a retried chunk overwrite whatever a failed attempt left behind.
    // A process killed mid-write never ran the catch below: drop its unacknowledged tail first, or a shorter resumed
    // upload keeps those bytes and fails SIZE_INVALID at commit.
    await truncate(path, offset);
    const out = createWriteStream(path, { flags: 'r+', start: offset });
    try {
      await pipeline(source, out);
      const fh = await open(path, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      // Drop partial bytes so the scratch file always ends at the last acknowledged offset.
      await truncate(path, offset).catch(() => undefined);
      throw err;
    }
    return { handle, size: offset + out.bytesWritten };
  }

  async readUpload(uploadId: string): Promise<Readable> {
    return createReadStream(this.#uploadPath(uploadId));
  }

  async commitUpload(uploadId: string, _handle: UploadHandle, digest: Digest): Promise<void> {
    const from = this.#uploadPath(uploadId);
    const to = this.#blobPath(digest);
    const dir = join(to, '..');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const fh = await open(from, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    // A hard link is atomic: readers see no blob or the whole blob (a copy already there is replaced). The
    // scratch name stays until abortUpload, so the caller can put the bytes back if GC removed them meanwhile.
    // The age GC judges orphan files by starts now, not at the upload's last write (see GarbageCollector). An
    // existing file may be deleted by a GC between the link and the touch: then link again.
    for (let attempt = 1; ; attempt++) {
      await linkOver(from, to);
      const now = new Date();
      const touched = await utimes(to, now, now).then(() => true, (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT' || attempt >= 5) throw err;
        return false;
      });
      if (touched) break;
    }
    await syncDir(dir);
  }

  async abortUpload(uploadId: string): Promise<void> {
    await rm(this.#uploadPath(uploadId), { force: true });
  }

  async *listUploads(): AsyncIterable<{ uploadId: string; modifiedAt: number }> {
    for (const name of await readdir(this.#uploads)) {
      const s = await stat(join(this.#uploads, name)).catch(() => null);
      if (s) yield { uploadId: name, modifiedAt: s.mtimeMs };
    }
  }

  async stat(digest: Digest): Promise<BlobStat | null> {
    const s = await stat(this.#blobPath(digest)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    return s ? { digest, size: s.size, modifiedAt: s.mtimeMs } : null;
  }

  async read(digest: Digest, range?: { start: number; end: number }): Promise<Readable> {
    const path = this.#blobPath(digest);
    // Open first so a missing blob fails here rather than as a stream error after headers went out.
    const fh = await open(path, 'r');
    // Large reads: each chunk is a thread-pool round trip, and 4 MiB chunks serve at nginx's pace (see bench/).
    return fh.createReadStream(range ? { start: range.start, end: range.end, highWaterMark: READ_CHUNK } : { highWaterMark: READ_CHUNK });
  }

  async openFile(digest: Digest): Promise<BlobFile> {
    const handle = await open(this.#blobPath(digest), 'r');
    try {
      // The inode and its change time name the bytes: a blob replaced (an upload repairing a quarantined one) is a
      // new link, and bytes changed in place change the time, so blocks read before are never served for them.
      const st = await handle.stat({ bigint: true });
      return {
        read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
        close: () => handle.close(),
        shared: { key: `${digest}@${st.dev}:${st.ino}:${st.ctimeNs}`, size: Number(st.size) },
      };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async delete(digest: Digest): Promise<void> {
    await rm(this.#blobPath(digest), { force: true });
  }

  async *list(): AsyncIterable<BlobStat> {
    for (const algorithm of await readdirOrEmpty(this.#blobs)) {
      if (algorithm !== 'sha256' && algorithm !== 'sha512') continue;
      for (const prefix of await readdirOrEmpty(join(this.#blobs, algorithm))) {
        for (const hex of await readdirOrEmpty(join(this.#blobs, algorithm, prefix))) {
          const s = await stat(join(this.#blobs, algorithm, prefix, hex)).catch(() => null);
          if (s?.isFile()) yield { digest: makeDigest(algorithm, hex), size: s.size, modifiedAt: s.mtimeMs };
        }
      }
    }
  }

  #uploadPath(uploadId: string): string {
    // Upload ids are generated by Berth (UUIDs) and validated at the edge; never a path from a client.
    return join(this.#uploads, uploadId);
  }

  #blobPath(digest: Digest): string {
    const hex = digestHex(digest);
    return join(this.#blobs, digestAlgorithm(digest), hex.slice(0, 2), hex);
  }
}

const READ_CHUNK = 4 * 1024 * 1024;

/**
 * Hard-links `from` at `to`, replacing a file already there: that copy may be corrupt (a scrub quarantined it) and
 * an upload of the verified bytes must repair it. Linked under a scratch name, then renamed over `to`: rename is
 * atomic, so readers see the old file or the new one, each whole, and a reader holding the old one open keeps it.
 * A crash in between leaves the scratch name in uploads/, purged like any orphan scratch data; touched first so
 * that purge never takes it for old.
 */
async function linkOver(from: string, to: string): Promise<void> {
  const staged = `${from}.commit-${randomBytes(4).toString('hex')}`;
  const now = new Date();
  await utimes(from, now, now);
  await link(from, staged);
  try {
    await rename(staged, to);
  } catch (err) {
    await rm(staged, { force: true });
    throw err;
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}
