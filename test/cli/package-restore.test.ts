// `berth package restore OWNER/NAME` through the built binary, on the data of a running server: a package deleted
// through the REST API comes back and pulls again; what cannot be restored fails with exit 1, bad usage with 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { builtCli } from '../helpers/built-cli.js';
import { ClientError, skopeoCopy } from '../helpers/clients.js';
import { writeImageLayout } from '../helpers/oci-image.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'berth-restore-cli-'));
let berth: RunningBerth;

before(async () => {
  builtCli();
  berth = await startBerth();
});
after(async () => {
  await berth?.stop();
  rmSync(work, { recursive: true, force: true });
});

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [builtCli(), ...args, '--data', berth.dataDir], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...berth.metadataEnv, BERTH_LOG_LEVEL: 'warn' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('restores a package deleted through the REST API: it pulls again, with its tag', async () => {
  const layout = join(work, 'image');
  await writeImageLayout(layout, { layers: [1024], tag: '1.0' });
  const ref = `docker://${berth.host}/acme/gone:1.0`;
  const creds = { creds: `${berth.user}:${berth.token}` };
  await skopeoCopy(`oci:${layout}:1.0`, ref, [], creds);
  const deleted = await berth.fetch('/api/v3/orgs/acme/packages/container/gone', { method: 'DELETE' });
  assert.equal(deleted.status, 204);
  await assert.rejects(skopeoCopy(ref, `oci:${join(work, 'before')}:1.0`, [], creds), ClientError);

  const out = cli(['package', 'restore', 'acme/gone']);
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stderr, /restored acme\/gone \(1 version, private\)/);

  const pulled = join(work, 'after');
  await skopeoCopy(ref, `oci:${pulled}:1.0`, [], creds);
  const audit = await berth.query<{ action: string; target: string }>("select action, target from audit_log where action = 'package.restore'");
  assert.deepEqual(audit.map((a) => a.target), ['acme/gone']);

  // Restored already: nothing deleted by that name any more.
  const again = cli(['package', 'restore', 'acme/gone']);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /acme\/gone is not a deleted package that can still be restored/);
});

test('refuses a name taken again since the deletion, an unknown owner, and bad usage (exit 2)', async () => {
  const layout = join(work, 'reused');
  await writeImageLayout(layout, { layers: [512], tag: 'v1' });
  const creds = { creds: `${berth.user}:${berth.token}` };
  await skopeoCopy(`oci:${layout}:v1`, `docker://${berth.host}/acme/reused:v1`, [], creds);
  assert.equal((await berth.fetch('/api/v3/orgs/acme/packages/container/reused', { method: 'DELETE' })).status, 204);
  await skopeoCopy(`oci:${layout}:v1`, `docker://${berth.host}/acme/reused:v1`, [], creds);
  const taken = cli(['package', 'restore', 'acme/reused']);
  assert.equal(taken.status, 1);
  assert.match(taken.stderr, /used by a new package/);

  const nobody = cli(['package', 'restore', 'nobody/app']);
  assert.equal(nobody.status, 1);
  assert.match(nobody.stderr, /no user or organization nobody/);

  const noSlash = cli(['package', 'restore', 'gone']);
  assert.equal(noSlash.status, 2);
  assert.match(noSlash.stderr, /write OWNER\/NAME/);
  const missing = cli(['package', 'restore']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /missing required argument/);
});
