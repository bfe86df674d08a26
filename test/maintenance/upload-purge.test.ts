import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';

let berth: RunningBerth;

before(async () => {
  berth = await startBerth({ env: { BERTH_UPLOADS_EXPIRE_AFTER: '2s', BERTH_UPLOADS_PURGE_INTERVAL: '300ms' } });
});
after(async () => berth.stop());

test('idle upload sessions expire: the session is gone and its scratch data deleted', async () => {
  const start = await berth.fetch('/v2/acme/purge/blobs/uploads/', { method: 'POST' });
  assert.equal(start.status, 202);
  const location = start.headers.get('location')!;
  const id = start.headers.get('docker-upload-uuid')!;
  const patch = await berth.fetch(location, { method: 'PATCH', body: Buffer.from('partial'), headers: { 'Content-Range': '0-6' } });
  assert.equal(patch.status, 202);
  assert.equal(await berth.scratchBytes(id), 7);

  // A session still in use is not expired early.
  const live = await berth.fetch(location);
  assert.equal(live.status, 204);

  let status = 204;
  for (let i = 0; i < 50 && status !== 404; i++) {
    await new Promise((r) => setTimeout(r, 200));
    status = (await berth.fetch(location)).status;
  }
  assert.equal(status, 404, 'session expired');
  const body = await (await berth.fetch(location)).json() as { errors: { code: string }[] };
  assert.equal(body.errors[0]?.code, 'BLOB_UPLOAD_UNKNOWN');
  // The purge deletes the row first, then the scratch data: give the second step a moment on a loaded machine.
  let left = await berth.scratchBytes(id);
  for (let i = 0; i < 25 && left > 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    left = await berth.scratchBytes(id);
  }
  assert.equal(left, 0, 'scratch data deleted');
  assert.deepEqual(await berth.scratchUploads(), []);
});
