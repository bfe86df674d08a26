import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js';
import { blobStoreContract } from './blob-store-contract.js';

blobStoreContract('fs', async () => {
  const store = new FsBlobStore(mkdtempSync(join(tmpdir(), 'berth-fs-')));
  await store.init();
  return store;
});
