// Managing bot accounts: REST under /api/v3/berth/orgs/{org}/bots (owners only, no secrets listed), the CLI
// (berth bot), and the web UI's sign-in form refusing a bot.
import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { signInForm } from '../helpers/sign-in.js';

const ROOT = new URL('../..', import.meta.url).pathname;
let berth: RunningBerth;

before(async () => {
  berth = await startBerth({ env: { BERTH_AUTH_FAILED_LOGIN_LIMIT: '1000' } });
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

const BOTS = '/api/v3/berth/orgs/acme/bots';
const post = (path: string, body: unknown, auth?: string | null) => berth.fetch(path, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(auth !== undefined ? { auth } : {}),
});
const basic = (user: string, token: string): string => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;

describe('REST /api/v3/berth/orgs/{org}/bots', () => {
  it('an owner creates (the token once), lists and gets bots without their secrets, rotates and revokes them', async () => {
    const created = await post(BOTS, { name: 'Deployer', packages: ['api', 'web-*'], actions: ['pull'], description: 'prod cluster' });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const body = (await created.json()) as Record<string, unknown> & { token: string; token_hint: string };
    assert.match(body.token, /^berth_bot_/);
    assert.deepEqual({ ...body, id: 0, token: '', token_hint: '', created_at: '' }, {
      id: 0, name: 'deployer', login: 'acme+deployer', organization: 'acme', description: 'prod cluster', packages: ['api', 'web-*'], actions: ['pull'],
      token: '', token_hint: '', expires_at: null, last_used_at: null, created_at: '', rotated_at: null,
    });
    assert.ok(body.token.startsWith(body.token_hint.replace('…', '')), 'the hint is the token\'s start');

    // Used once: the listing shows when, never the secret.
    assert.equal((await berth.fetch('/v2/acme/api/tags/list', { auth: basic('acme+deployer', body.token) })).status, 404);
    const listText = await (await berth.fetch(BOTS)).text();
    assert.ok(!listText.includes(body.token) && !listText.includes(body.token.slice(14)), 'no secret in the listing');
    const list = JSON.parse(listText) as Record<string, unknown>[];
    assert.equal(list.length, 1);
    assert.ok(!('token' in list[0]!) && !('token_hash' in list[0]!));
    assert.match(String(list[0]!.last_used_at), /^\d{4}-\d\d-\d\dT/);
    assert.equal(((await (await berth.fetch(`${BOTS}/deployer`)).json()) as { login: string }).login, 'acme+deployer');

    const rotated = await post(`${BOTS}/deployer/rotate`, { expires_at: '2099-01-01' });
    assert.equal(rotated.status, 200);
    const r = (await rotated.json()) as { token: string; expires_at: string; rotated_at: string | null };
    assert.notEqual(r.token, body.token);
    assert.equal(r.expires_at, '2099-01-01T00:00:00.000Z');
    assert.ok(r.rotated_at);
    assert.equal((await berth.fetch(`${BOTS}/deployer`, { method: 'DELETE' })).status, 204);
    assert.equal((await berth.fetch(`${BOTS}/deployer`, { method: 'DELETE' })).status, 404);
    assert.equal((await post(`${BOTS}/deployer/rotate`, {})).status, 404);
    assert.deepEqual(await (await berth.fetch(BOTS)).json(), []);
    // The organization's audit log has each change (and never a token).
    const audit = await berth.fetch('/api/v3/orgs/acme/audit-log?phrase=action:bot');
    assert.equal(audit.status, 200);
    const text = await audit.text();
    assert.ok(!text.includes('berth_bot_'), 'no token in the audit log');
    const records = JSON.parse(text) as { action: string }[];
    assert.equal(records[0]?.action, 'bot.destroy', 'newest first');
    assert.ok(records.some((a) => a.action === 'bot.create') && records.some((a) => a.action === 'bot.rotate'));
  });

  it('bad input is 422 naming the field; a name taken 409; unknown org 404', async () => {
    const cases: [unknown, RegExp][] = [
      [{ name: 'x', packages: [], actions: ['pull'] }, /packages: a non-empty list/],
      [{ name: 'x', packages: ['API'], actions: ['pull'] }, /packages: "API" is not a package name or glob/],
      [{ name: 'x', packages: ['api'], actions: ['admin'] }, /actions: a non-empty list of pull, push, delete/],
      [{ name: 'no way', packages: ['api'], actions: ['pull'] }, /name: "no way" is not a bot name/],
      [{ packages: ['api'], actions: ['pull'] }, /name: a bot name is required/],
      [{ name: 'x', packages: ['api'], actions: ['pull'], expires_at: 'tomorrow' }, /expires_at: an ISO 8601 date/],
      [[1], /a bot is a JSON object/],
    ];
    for (const [doc, message] of cases) {
      const res = await post(BOTS, doc);
      assert.equal(res.status, 422, JSON.stringify(doc));
      const err = (await res.json()) as { message: string; documentation_url: string };
      assert.match(err.message, message);
      assert.match(err.documentation_url, /#bot-accounts$/);
    }
    assert.equal((await post(BOTS, { name: 'twin', packages: ['api'], actions: ['pull'] })).status, 201);
    const twice = await post(BOTS, { name: 'TWIN', packages: ['api'], actions: ['pull'] });
    assert.equal(twice.status, 409);
    assert.match(((await twice.json()) as { message: string }).message, /already has a bot named twin/);
    assert.equal((await berth.fetch('/api/v3/berth/orgs/nobody/bots')).status, 404);
    assert.equal((await berth.fetch(`/api/v3/berth/orgs/${berth.user}/bots`)).status, 404, 'a user has no bots');
  });

  it('only owners: anonymous 401, a member 403, a CI token 403, a bot 403 (it only reads packages)', async () => {
    assert.equal((await berth.fetch(BOTS, { auth: null })).status, 401);
    const { member, ci } = await berth.admin(async (s) => {
      const u = await s.accounts.createUser({ login: 'member' });
      await s.accounts.addMember('acme', u.login, 'member');
      const owner = (await s.accounts.find(berth.user))!;
      const m = (await s.tokens.create({ userId: u.id, note: 't', scopes: ['read:packages', 'write:packages'], expiresAt: null })).token;
      const c = (await s.tokens.create({
        userId: owner.id, note: 'ci', kind: 'ci', scopes: ['read:packages', 'write:packages'], repositoryLimit: 'acme/api', expiresAt: Date.now() + 3_600_000,
      })).token;
      return { member: m, ci: c };
    });
    const byMember = await berth.fetch(BOTS, { auth: `Bearer ${member}` });
    assert.equal(byMember.status, 403);
    assert.match(((await byMember.json()) as { message: string }).message, /Only owners of acme can see and manage its bots/);
    const byCi = await post(BOTS, { name: 'sneaky', packages: ['*'], actions: ['pull', 'push', 'delete'] }, `Bearer ${ci}`);
    assert.equal(byCi.status, 403);
    assert.match(((await byCi.json()) as { message: string }).message, /A CI token cannot manage bots/);
    const bot = (await (await post(BOTS, { name: 'maker', packages: ['api'], actions: ['pull'] })).json()) as { token: string };
    const byBot = await post(BOTS, { name: 'child', packages: ['*'], actions: ['push'] }, `Bearer ${bot.token}`);
    assert.equal(byBot.status, 403);
    assert.match(((await byBot.json()) as { message: string }).message, /Bot acme\+maker may only read packages through the REST API \(it cannot create bots\)/);
    assert.equal((await berth.fetch(BOTS, { auth: `Bearer ${bot.token}` })).status, 403);
  });
});

describe('berth bot', () => {
  it('create prints the token alone on stdout, once; list shows no secrets; rotate and revoke', () => {
    const create = cli(['bot', 'create', 'acme/cli-bot', '--packages', 'api,web-*', '--actions', 'pull,push', '--expires', '30d']);
    assert.equal(create.status, 0, create.stderr);
    const token = create.stdout.trim();
    assert.match(token, /^berth_bot_[0-9A-Za-z]{36}$/);
    assert.match(create.stderr, /bot acme\+cli-bot created: may pull, push api, web-\* in acme; expires \d{4}-/);
    assert.match(create.stderr, /docker login HOST -u acme\+cli-bot --password-stdin/);
    const list = cli(['bot', 'list', 'acme']);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /acme\+cli-bot\s+api,web-\*\s+pull,push\s+berth_bot_\S+…\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+never/);
    assert.ok(!list.stdout.includes(token.slice(14)), 'no secret in the listing');
    const json = JSON.parse(cli(['bot', 'list', 'acme', '--json']).stdout) as Record<string, unknown>[];
    assert.ok(json.every((b) => !('token' in b) && !('tokenHash' in b)));
    const rotate = cli(['bot', 'rotate', 'acme/cli-bot', '--expires', 'never', '--json']);
    assert.equal(rotate.status, 0, rotate.stderr);
    const rotated = JSON.parse(rotate.stdout) as { token: string; expiresAt: number | null };
    assert.notEqual(rotated.token, token);
    assert.equal(rotated.expiresAt, null);
    assert.equal(cli(['bot', 'revoke', 'acme/cli-bot']).status, 0);
    const again = cli(['bot', 'revoke', 'acme/cli-bot']);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /there is no bot cli-bot in this organization/);
  });

  it('bad usage says what to write', () => {
    const noSlash = cli(['bot', 'create', 'deployer', '--packages', 'api']);
    assert.equal(noSlash.status, 1);
    assert.match(noSlash.stderr, /deployer is not a bot: write ORG\/NAME, e.g. acme\/deployer/);
    const badExpiry = cli(['bot', 'create', 'acme/x', '--packages', 'api', '--expires', 'soon']);
    assert.match(badExpiry.stderr, /--expires soon: write a date \(2027-01-31\), a number of days \(90d\) or never/);
    const badAction = cli(['bot', 'create', 'acme/x', '--packages', 'api', '--actions', 'write']);
    assert.match(badAction.stderr, /actions: a non-empty list of pull, push, delete/);
    const noOrg = cli(['bot', 'list', berth.user]);
    assert.match(noOrg.stderr, new RegExp(`there is no organization ${berth.user}`));
  });
});

describe('the web UI', () => {
  it('refuses a bot on the sign-in form, saying bots cannot sign in (by its login or by its token), and starts no session', async () => {
    const { token } = (await (await post(BOTS, { name: 'web-try', packages: ['api'], actions: ['pull'] })).json()) as { token: string };
    for (const login of ['acme+web-try', berth.user]) {
      const r = await signInForm(berth, login, token);
      assert.equal(r.status, 403);
      assert.equal(r.session, null);
      assert.match(r.text, /is a bot account: bots are not people and cannot sign in to the web UI/);
      assert.match(r.text, /docker login [^ ]+ -u ORG\+NAME --password-stdin/);
    }
  });
});
