// Trust policies of an organization through REST (/api/v3/berth/orgs/{org}/trust-policies) and the CLI (berth trust).
import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';

const ROOT = new URL('../..', import.meta.url).pathname;
let berth: RunningBerth;

before(async () => {
  berth = await startBerth();
});
after(async () => {
  await berth?.stop();
});

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [builtCli(), ...args, '--data', berth.dataDir], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...berth.metadataEnv },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const POLICY = {
  issuer: 'https://token.actions.githubusercontent.com', audience: 'registry.example.com',
  conditions: { repository: 'acme/api', ref: 'refs/heads/main' }, packages: ['api'], actions: ['pull', 'push'], token_lifetime_seconds: 600,
};

const post = (body: unknown, auth?: string | null) => berth.fetch('/api/v3/berth/orgs/acme/trust-policies', {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(auth !== undefined ? { auth } : {}),
});

test('an org owner adds, lists and removes trust policies over REST', async () => {
  const created = await post(POLICY);
  assert.equal(created.status, 201);
  const body = await created.json() as { id: number };
  assert.deepEqual(body, { id: body.id, organization: 'acme', ...POLICY });
  const listed = await (await berth.fetch('/api/v3/berth/orgs/acme/trust-policies')).json();
  assert.deepEqual(listed, [body]);
  const del = await berth.fetch(`/api/v3/berth/orgs/acme/trust-policies/${body.id}`, { method: 'DELETE' });
  assert.equal(del.status, 204);
  assert.equal((await berth.fetch(`/api/v3/berth/orgs/acme/trust-policies/${body.id}`, { method: 'DELETE' })).status, 404);
  assert.deepEqual(await (await berth.fetch('/api/v3/berth/orgs/acme/trust-policies')).json(), []);
});

test('bad input: 422 naming the field, GitHub-style; anonymous 401; a non-owner 403; unknown org 404', async () => {
  const bad = await post({ ...POLICY, conditions: {} });
  assert.equal(bad.status, 422);
  const err = await bad.json() as { message: string; documentation_url: string };
  assert.match(err.message, /conditions: at least one is required/);
  assert.match(err.documentation_url, /tokenless-ci/);
  const notJson = await berth.fetch('/api/v3/berth/orgs/acme/trust-policies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
  assert.equal(notJson.status, 400);
  assert.ok('message' in (await notJson.json() as object));
  const anon = await post(POLICY, null);
  assert.equal(anon.status, 401);
  assert.ok(anon.headers.get('www-authenticate'));
  const token = await berth.admin(async (s) => {
    const u = await s.accounts.createUser({ login: 'outsider' });
    return (await s.tokens.create({ userId: u.id, note: 't', scopes: ['read:packages', 'write:packages'], expiresAt: null })).token;
  });
  const outsider = await post(POLICY, `Bearer ${token}`);
  assert.equal(outsider.status, 403);
  assert.match((await outsider.json() as { message: string }).message, /Only owners of acme/);
  assert.equal((await berth.fetch('/api/v3/berth/orgs/nobody/trust-policies')).status, 404);
});

test('berth trust add|list|remove', async () => {
  const add = cli(['trust', 'add', 'acme', '--issuer', 'https://gitlab.example.com', '--audience', 'berth', '--claim', 'project_path=acme/*',
    '--claim', 'ref_type=tag', '--packages', 'api,web-*', '--actions', 'pull', '--token-lifetime', '300', '--json']);
  assert.equal(add.status, 0, add.stderr);
  const policy = JSON.parse(add.stdout) as { id: number; conditions: unknown; actions: unknown; tokenLifetimeSeconds: number };
  assert.deepEqual([policy.conditions, policy.actions, policy.tokenLifetimeSeconds], [{ project_path: 'acme/*', ref_type: 'tag' }, ['pull'], 300]);
  const list = cli(['trust', 'list', 'acme']);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /https:\/\/gitlab\.example\.com\s+berth\s+project_path=acme\/\* ref_type=tag\s+api,web-\*\s+pull\s+300s/);
  const bad = cli(['trust', 'add', 'acme', '--issuer', 'https://x.example', '--audience', 'a', '--claim', 'norule', '--packages', 'api']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--claim norule: write CLAIM=PATTERN/);
  const noOrg = cli(['trust', 'list', 'tester']);
  assert.equal(noOrg.status, 1);
  assert.match(noOrg.stderr, /there is no organization tester/);
  assert.equal(cli(['trust', 'remove', 'acme', String(policy.id)]).status, 0);
  assert.match(cli(['trust', 'list', 'acme']).stdout, /acme has no trust policies/);
});
