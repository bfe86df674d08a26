import { stat, statfs } from 'node:fs/promises';
import type { Logger } from '../observability/logger.js';

/** A local directory Berth writes to: the filesystem blob store's root, the SQLite database's directory. */
export interface WatchedPath {
  /** What lives there, for people: "blob storage", "database". */
  readonly what: string;
  readonly path: string;
}

/** One filesystem under the threshold, as /healthz shows it (no paths: the endpoint is public). */
export interface LowSpace {
  readonly check: 'disk-space';
  readonly what: string;
  readonly freeBytes: number;
  readonly thresholdBytes: number;
  readonly message: string;
}

/**
 * Watches free space where Berth writes, so the operator hears about a filling disk before pushes fail with 507.
 * A path going under `thresholdBytes` is logged once at warn level (with its path), and again once it recovers.
 */
export class DiskSpace {
  readonly #paths: readonly WatchedPath[];
  readonly #thresholdBytes: number;
  readonly #log: Logger;
  readonly #low = new Set<string>();

  constructor(deps: { paths: readonly WatchedPath[]; thresholdBytes: number; log: Logger }) {
    this.#paths = deps.paths;
    this.#thresholdBytes = deps.thresholdBytes;
    this.#log = deps.log;
  }

  /**
   * Free and total bytes of each watched filesystem (for `berth_disk_*`), whatever the threshold. A directory that
   * cannot be read is left out: the requests that use it report it.
   */
  async usage(): Promise<{ what: string; path: string; freeBytes: number; sizeBytes: number }[]> {
    const result = [];
    for (const { what, path } of await this.#byFilesystem()) {
      const s = await statfs(path).catch(() => null);
      if (s) result.push({ what, path, freeBytes: s.bavail * s.bsize, sizeBytes: s.blocks * s.bsize });
    }
    return result;
  }

  /** The watched filesystems now under the threshold; logs changes since the last check. */
  async check(): Promise<LowSpace[]> {
    if (this.#thresholdBytes === 0) return [];
    const low: LowSpace[] = [];
    for (const { what, path, freeBytes } of await this.usage()) {
      const thresholdBytes = this.#thresholdBytes;
      if (freeBytes < thresholdBytes) {
        low.push({ check: 'disk-space', what, freeBytes, thresholdBytes, message: `low disk space for ${what}: ${mib(freeBytes)} free, under the storage.freeSpaceWarning of ${mib(thresholdBytes)}` });
        if (!this.#low.has(path)) {
          this.#low.add(path);
          this.#log.warn(
            { what, path, freeBytes, thresholdBytes },
            `low disk space for ${what} at ${path}: ${mib(freeBytes)} free (warning under ${mib(thresholdBytes)}); pushes fail with 507 when it runs out. `
            + 'Free space (berth gc --delete, delete unused packages) or grow the volume',
          );
        }
      } else if (this.#low.delete(path)) {
        this.#log.info({ what, path, freeBytes, thresholdBytes }, `disk space for ${what} at ${path} is back above the warning threshold`);
      }
    }
    return low;
  }

  /** One entry per filesystem (the database usually sits beside the blobs): "blob storage and database". */
  async #byFilesystem(): Promise<WatchedPath[]> {
    const groups = new Map<number, WatchedPath>();
    for (const p of this.#paths) {
      const dev = (await stat(p.path).catch(() => null))?.dev;
      if (dev === undefined) continue;
      const seen = groups.get(dev);
      groups.set(dev, seen ? { what: `${seen.what} and ${p.what}`, path: seen.path } : p);
    }
    return [...groups.values()];
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
