// The request log line says who called and on what (issue 16): the actor's login and token id, how they proved it,
// and the repository — never the token itself. Checked for a real skopeo push and pull (/token, then /v2 with the
// registry token), a REST call with the personal access token, and a refused credential.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { skopeoCopy } from '../helpers/clients.js';
import { writeImageLayout } from '../helpers/oci-image.js';
import { waitFor } from '../helpers/raw-socket.js';

let berth: RunningBerth;
const work = mkdtempSync(join(tmpdir(), 'berth-request-log-'));
before(async () => { berth = await startBerth({ env: { BERTH_LOG_LEVEL: 'info' } }); });
after(async () => {
  await berth.stop();
  rmSync(work, { recursive: true, force: true });
});

type Line = {
  msg: string; method?: string; route?: string; status?: number; actor?: string; tokenId?: number; auth?: string; repository?: string; bytesOut?: number;
};
const requests = (): Line[] => (berth.logLines() as unknown as Line[]).filter((l) => l.msg === 'request');

it('names the actor, the token id and the repository on /token, /v2 and /api/v3 lines, and never the secret', { timeout: 300_000 }, async () => {
  const layout = join(work, 'layout');
  await writeImageLayout(layout, { layers: [1024], tag: 'v1' });
  const creds = `${berth.user}:${berth.token}`;
  await skopeoCopy(`oci:${layout}:v1`, `docker://${berth.host}/acme/logged:v1`, [], { creds });
  const rest = await berth.fetch('/api/v3/orgs/acme/packages/container/logged');
  assert.equal(rest.status, 200);
  // A manifest GET is written straight to the socket (src/http/oci/manifests.ts): its line still has the body's size.
  const pulled = await berth.fetch('/v2/acme/logged/manifests/v1', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(pulled.status, 200);
  const manifestBytes = (await pulled.arrayBuffer()).byteLength;
  const refused = await berth.fetch('/api/v3/user', { auth: 'Bearer berth_pat_not-a-real-token' });
  assert.equal(refused.status, 401);

  // Lines are written once the response has gone: wait for the last request's.
  await waitFor(() => requests().some((l) => l.status === 401 && l.auth?.startsWith('refused')), 10_000, 'the refused request to be logged').catch(() => {});
  const lines = requests();
  const { tokenId } = (await berth.query('select id as "tokenId" from access_tokens order by id limit 1'))[0] as { tokenId: number };

  const token = lines.find((l) => l.route === '/token' && l.status === 200);
  assert.deepEqual({ actor: token?.actor, tokenId: token?.tokenId, auth: token?.auth }, { actor: 'tester', tokenId, auth: 'access-token' });

  const manifestPut = lines.find((l) => l.method === 'PUT' && l.route === '/v2/<name>/manifests/<reference>');
  assert.deepEqual(
    { actor: manifestPut?.actor, tokenId: manifestPut?.tokenId, auth: manifestPut?.auth, repository: manifestPut?.repository, status: manifestPut?.status },
    { actor: 'tester', tokenId, auth: 'registry-token', repository: 'acme/logged', status: 201 },
  );
  const manifestGet = lines.find((l) => l.method === 'GET' && l.route === '/v2/<name>/manifests/<reference>');
  assert.deepEqual(
    { actor: manifestGet?.actor, repository: manifestGet?.repository, status: manifestGet?.status, bytesOut: manifestGet?.bytesOut },
    { actor: 'tester', repository: 'acme/logged', status: 200, bytesOut: manifestBytes },
  );
  const restLine = lines.find((l) => l.route === '/api/v3/orgs/:org/packages/:type/:name');
  assert.deepEqual({ actor: restLine?.actor, repository: restLine?.repository, auth: restLine?.auth }, { actor: 'tester', repository: 'acme/logged', auth: 'access-token' });
  const refusedLine = lines.find((l) => l.route === '/api/v3/user' && l.status === 401);
  assert.match(refusedLine?.auth ?? '', /^refused:/);
  assert.equal(refusedLine?.actor, undefined);

  const log = berth.serverLog();
  assert.ok(!log.includes(berth.token), 'the access token never reaches the log');
  assert.ok(!log.includes('not-a-real-token'), 'nor a refused one');
});
