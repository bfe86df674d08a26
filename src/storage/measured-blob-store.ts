import type { Metrics } from '../observability/metrics.js';
import type { BlobStore } from './blob-store.js';

/**
 * A BlobStore decorator timing every operation of the store it wraps and counting its failures, by driver
 * (`berth_storage_operation_duration_seconds`, `berth_storage_errors_total`). Reads are timed until the stream is
 * open; listings are not timed (they run for as long as their consumer, GC or scrub, takes). Optional capabilities
 * stay optional: the decorator has one only when the wrapped store does, so callers keep choosing their path.
 */
export function measuredBlobStore(inner: BlobStore, driver: string, metrics: Metrics): BlobStore {
  const timed = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    let failed = true;
    try {
      const result = await run();
      failed = false;
      return result;
    } finally {
      metrics.observeStorage(driver, operation, (performance.now() - started) / 1000, failed);
    }
  };
  const store: BlobStore = {
    startUpload: (uploadId) => timed('start_upload', () => inner.startUpload(uploadId)),
    appendUpload: (uploadId, handle, offset, source) => timed('append_upload', () => inner.appendUpload(uploadId, handle, offset, source)),
    readUpload: (uploadId, handle) => timed('read_upload', () => inner.readUpload(uploadId, handle)),
    commitUpload: (uploadId, handle, digest) => timed('commit_upload', () => inner.commitUpload(uploadId, handle, digest)),
    abortUpload: (uploadId, handle) => timed('abort_upload', () => inner.abortUpload(uploadId, handle)),
    listUploads: () => inner.listUploads(),
    stat: (digest) => timed('stat', () => inner.stat(digest)),
    read: (digest, range) => timed('read', () => inner.read(digest, range)),
    delete: (digest) => timed('delete', () => inner.delete(digest)),
    list: () => inner.list(),
  };
  const optional: Partial<BlobStore> = {};
  if (inner.purgeAbandoned) {
    const purge = inner.purgeAbandoned.bind(inner);
    optional.purgeAbandoned = (before) => timed('purge_abandoned', () => purge(before));
  }
  if (inner.openFile) {
    const open = inner.openFile.bind(inner);
    optional.openFile = (digest) => timed('read', () => open(digest));
  }
  if (inner.redirectUrl) {
    const redirect = inner.redirectUrl.bind(inner);
    optional.redirectUrl = (digest) => timed('redirect_url', () => redirect(digest));
  }
  if (inner.close) optional.close = inner.close.bind(inner);
  return { ...store, ...optional };
}
