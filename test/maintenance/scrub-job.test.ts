// The scheduled scrub (scrub.interval): runs in the server under the job lease, finds a blob damaged behind its
// back, logs it at error level and quarantines it; a push of the right bytes repairs it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { pushBlob, registryFetch, useAuthorization } from '../helpers/http.js';
import { corruptStoredBlob } from '../helpers/stored-blobs.js';

let berth: RunningBerth;

before(async () => {
  // Every second: a blob is due once no scrub (nor its upload) verified it within the last second.
  berth = await startBerth({ env: { BERTH_SCRUB_INTERVAL: '1s', BERTH_SCRUB_RATE: '0' } });
  useAuthorization(berth.authorization);
});
after(async () => berth?.stop());

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: still not so after 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('the scheduled scrub quarantines a corrupted blob and logs it; a push of the right bytes restores it', async () => {
  const bytes = randomBytes(200_000);
  const digest = await pushBlob(berth.url, 'acme/job', bytes);
  await corruptStoredBlob(berth, digest);

  const head = (): Promise<number> => registryFetch(`${berth.url}/v2/acme/job/blobs/${digest}`, { method: 'HEAD' }).then((r) => r.status);
  await eventually('quarantined by the job', async () => (await head()) === 404);
  // The log is buffered (flushed within a second): the line may follow the quarantine a little.
  const errorLine = (): { msg: string; repositories: string[] } | undefined =>
    berth.logLines().find((l) => l.level === 50 && l.digest === digest) as { msg: string; repositories: string[] } | undefined;
  await eventually('an error line names the digest', async () => errorLine() !== undefined);
  const line = errorLine()!;
  assert.match(line.msg, /scrub: stored blob is corrupt/);
  assert.deepEqual(line.repositories, ['acme/job']);
  assert.ok((await berth.query('select holder from job_leases where name = ?', 'scrub')).length === 1, 'it ran under the job lease');

  const repushed = Date.now();
  await pushBlob(berth.url, 'acme/job', bytes);
  const res = await registryFetch(`${berth.url}/v2/acme/job/blobs/${digest}`);
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
  // And it stays served: a later run of the job hashes the replaced bytes and finds them good.
  await eventually('checked again after the push', async () => {
    const [row] = await berth.query<{ checked_at: number }>('select checked_at from blobs where digest = ?', digest);
    return row !== undefined && row.checked_at > repushed + 1000;
  });
  assert.equal(await head(), 200);
});
