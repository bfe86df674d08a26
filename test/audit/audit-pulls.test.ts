// Pulls in the audit log (config audit.pulls, off by default): with it on, each manifest GET of a real skopeo pull
// is a package.pull record with the puller, their token id, address and the reference; an anonymous pull of a
// public package is recorded without an actor; HEADs and blob GETs are not pulls. With it off, no pull is recorded.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { builtCli } from '../helpers/built-cli.js';
import { skopeoCopy } from '../helpers/clients.js';
import { api } from '../helpers/github.js';
import { writeImageLayout } from '../helpers/oci-image.js';

interface Entry { action: string; actor: string | null; token_id?: number; actor_ip: string | null; repo?: string; target: string | null; data: { after?: { digest?: string } } }

let on: RunningBerth;
let work: string;

before(async () => {
  on = await startBerth({ env: { BERTH_AUDIT_PULLS: 'true' } });
  work = mkdtempSync(join(tmpdir(), 'berth-audit-pulls-'));
  await writeImageLayout(join(work, 'img'), { layers: [512], tag: 'x' });
  await skopeoCopy(`oci:${join(work, 'img')}:x`, `docker://${on.host}/acme/pulled:1.0`, [], { creds: `${on.user}:${on.token}` });
});
after(async () => {
  await on?.stop();
});

const pulls = async (berth: RunningBerth): Promise<Entry[]> => {
  const res = await api<Entry[]>(berth, '/v3/orgs/acme/audit-log?phrase=action:package.pull&per_page=100');
  assert.equal(res.status, 200, res.text);
  return res.body;
};

it('with audit.pulls each pull is a package.pull record with the puller, their token and the reference', async () => {
  assert.deepEqual(await pulls(on), [], 'a push is no pull');
  await skopeoCopy(`docker://${on.host}/acme/pulled:1.0`, `oci:${join(work, 'out')}:x`, [], { creds: `${on.user}:${on.token}` });
  const records = await pulls(on);
  assert.ok(records.length >= 1, 'skopeo GETs the manifest at least once');
  const tagged = records.find((r) => r.target === 'acme/pulled:1.0');
  assert.ok(tagged, JSON.stringify(records));
  assert.equal(tagged.actor, on.user);
  assert.equal(typeof tagged.token_id, 'number');
  assert.equal(tagged.repo, 'acme/pulled');
  assert.match(tagged.data.after?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.ok(tagged.actor_ip);

  // An anonymous pull of a public package: recorded, with no actor. A HEAD is no pull.
  const cli = spawnSync(process.execPath, [builtCli(), 'package', 'visibility', 'acme/pulled', 'public', '--data', on.dataDir], {
    encoding: 'utf8', env: { ...process.env, ...on.metadataEnv, BERTH_LOG_LEVEL: 'warn' },
  });
  assert.equal(cli.status, 0, cli.stderr);
  const before = (await pulls(on)).length;
  const token = await (await fetch(`${on.url}/token?service=${on.host}&scope=repository:acme/pulled:pull`)).json() as { token: string };
  const head = await fetch(`${on.url}/v2/acme/pulled/manifests/1.0`, { method: 'HEAD', headers: { authorization: `Bearer ${token.token}`, accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(head.status, 200);
  const get = await fetch(`${on.url}/v2/acme/pulled/manifests/1.0`, { headers: { authorization: `Bearer ${token.token}`, accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(get.status, 200);
  const after = await pulls(on);
  assert.equal(after.length, before + 1, 'the GET, not the HEAD');
  assert.equal(after[0]!.actor, null);
});

it('without audit.pulls (the default) a pull records nothing', async () => {
  const off = await startBerth();
  try {
    await skopeoCopy(`oci:${join(work, 'img')}:x`, `docker://${off.host}/acme/quiet:1.0`, [], { creds: `${off.user}:${off.token}` });
    await skopeoCopy(`docker://${off.host}/acme/quiet:1.0`, `oci:${join(work, 'out-off')}:x`, [], { creds: `${off.user}:${off.token}` });
    assert.deepEqual(await pulls(off), []);
    const all = await api<Entry[]>(off, '/v3/orgs/acme/audit-log?per_page=100');
    assert.ok(all.body.some((e) => e.action === 'package.push'), 'the log itself works: the push is there');
  } finally {
    await off.stop();
  }
});
