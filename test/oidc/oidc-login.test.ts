// Tokenless CI: a GitHub-Actions-shaped ID token from a real issuer on loopback logs in with `-u oidc` (skopeo
// login, /token Basic, /v2 Basic), is exchanged for a registry token (RFC 8693), and bad tokens are refused saying why.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { parse } from 'yaml';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { builtCli } from '../helpers/built-cli.js';
import { ClientError, runTool, skopeoCopy, skopeoInspect, skopeoLogin } from '../helpers/clients.js';
import { writeImageLayout } from '../helpers/oci-image.js';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';

let berth: RunningBerth;
let issuer: OidcIssuer;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-oidc-'));
  // Refused tokens count as failed logins: the limit must not turn the refusal cases below into 429s.
  berth = await startBerth({ env: { BERTH_AUTH_FAILED_LOGIN_LIMIT: '1000' } });
  issuer = await startOidcIssuer();
  const res = await berth.fetch('/api/v3/berth/orgs/acme/trust-policies', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      issuer: issuer.url, audience: 'berth-test', conditions: { repository: 'acme/api', ref: 'refs/heads/main', job_workflow_ref: 'acme/api/.github/workflows/*' },
      packages: ['api', 'tools/*'], actions: ['pull', 'push'], token_lifetime_seconds: 600,
    }),
  });
  assert.equal(res.status, 201, await res.text());
  await writeImageLayout(join(work, 'img'), { layers: [2048], tag: 'x' });
});

after(async () => {
  await issuer?.stop();
  await berth?.stop();
  await rm(work, { recursive: true, force: true });
});

const basic = (token: string): string => `Basic ${Buffer.from(`oidc:${token}`).toString('base64')}`;
async function tokenGet(token: string, scope: string): Promise<Response> {
  return berth.fetch(`/token?service=${encodeURIComponent(berth.host)}&scope=${encodeURIComponent(scope)}`, { auth: basic(token) });
}
async function refusal(token: string): Promise<string> {
  const res = await tokenGet(token, 'repository:acme/api:pull');
  assert.equal(res.status, 401);
  assert.ok(res.headers.get('www-authenticate'));
  const body = await res.text();
  assert.ok(!body.includes(token) && !body.includes(token.split('.')[1]!), 'the refusal must not echo the token');
  return (JSON.parse(body) as { errors: { code: string; message: string }[] }).errors[0]!.message;
}

describe('logging in with an ID token', () => {
  it('skopeo login -u oidc --password-stdin, then push and pull back; another package is denied', async () => {
    const authfile = join(work, 'auth.json');
    await skopeoLogin(berth.host, 'oidc', await issuer.token(), authfile);
    await skopeoCopy(`oci:${join(work, 'img')}:x`, `docker://${berth.host}/acme/api:1.0`, [], { authfile });
    await skopeoCopy(`oci:${join(work, 'img')}:x`, `docker://${berth.host}/acme/tools/lint:1`, [], { authfile });
    const pushed = JSON.parse(await skopeoInspect(`docker://${berth.host}/acme/api:1.0`, { creds: `oidc:${await issuer.token()}` })) as { Digest: string };
    const mine = JSON.parse(await skopeoInspect(`docker://${berth.host}/acme/api:1.0`, { creds: `${berth.user}:${berth.token}` })) as { Digest: string };
    assert.equal(pushed.Digest, mine.Digest);
    const err = await skopeoCopy(`oci:${join(work, 'img')}:x`, `docker://${berth.host}/acme/web:1`, [], { creds: `oidc:${await issuer.token()}` })
      .then(() => null, (e: unknown) => e);
    assert.ok(err instanceof ClientError, 'a push outside the policy packages must fail');
  });

  it('/v2 takes the ID token as Basic; the policy actions only (pull, push: no delete)', async () => {
    const token = await issuer.token();
    const tags = await berth.fetch('/v2/acme/api/tags/list', { auth: basic(token) });
    assert.equal(tags.status, 200);
    assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, ['1.0']);
    const del = await berth.fetch('/v2/acme/api/manifests/1.0', { method: 'DELETE', auth: basic(token) });
    assert.equal(del.status, 403);
    const body = (await del.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, 'DENIED');
    assert.match(body.errors[0]!.message, /trust policies this ID token meets do not grant delete on acme\/api/);
  });

  it('/token grants the asked actions the policy covers, for the policy token lifetime', async () => {
    const res = await tokenGet(await issuer.token(), 'repository:acme/api:pull,push,delete repository:acme/web:pull,push');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { token: string; expires_in: number };
    assert.equal(body.expires_in, 600);
    const access = JSON.parse(Buffer.from(body.token.split('.')[1]!, 'base64url').toString()).access as unknown;
    assert.deepEqual(access, [
      { type: 'repository', name: 'acme/api', actions: ['pull', 'push'] },
      { type: 'repository', name: 'acme/web', actions: [] },
    ]);
  });

  it('RFC 8693 token exchange returns a short-lived registry token that works as Bearer on /v2', async () => {
    const form = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: await issuer.token(),
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', service: berth.host,
    });
    const res = await fetch(`${berth.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 600);
    const tags = await berth.fetch('/v2/acme/api/tags/list', { auth: `Bearer ${String(body.access_token)}` });
    assert.equal(tags.status, 200);
    // Without subject_token_type, or with a Berth token as subject: 400, saying what is expected.
    const bad = await fetch(`${berth.url}/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: berth.token }),
    });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /subject_token_type=urn:ietf:params:oauth:token-type:id_token/);
    const pat = await fetch(`${berth.url}/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: berth.token, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }),
    });
    assert.equal(pat.status, 400);
    assert.match(await pat.text(), /subject_token must be an OIDC ID token/);
  });

  it('the workflow from berth ci-template logs in with the job ID token (no secret) and the push works', async () => {
    // The organization trusts the workflow for the audience the template asks for: the registry host.
    const trust = await berth.fetch('/api/v3/berth/orgs/acme/trust-policies', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ issuer: issuer.url, audience: berth.host, conditions: { repository: 'acme/api' }, packages: ['api'], actions: ['pull', 'push'] }),
    });
    assert.equal(trust.status, 201, await trust.text());
    const generated = spawnSync(process.execPath, [builtCli(), 'ci-template', '--registry', berth.host, '--org', 'acme', '--services', 'api'], { encoding: 'utf8' });
    assert.equal(generated.status, 0, generated.stderr);
    const wf = parse(generated.stdout) as { permissions: Record<string, string>; jobs: { build: { steps: { name?: string; run?: string }[] } } };
    assert.deepEqual(wf.permissions, { contents: 'read', 'id-token': 'write' });
    const login = wf.jobs.build.steps.find((s) => s.name?.startsWith('Log in'))!;
    // The step as the runner would run it: bash, the job's token request variables; `docker login` is skopeo's
    // (same flags) writing to an auth file, as no Docker engine runs here.
    const bin = join(work, 'bin');
    const authfile = join(work, 'ci-auth.json');
    spawnSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'docker'), `#!/bin/sh\nexec skopeo "$@" --tls-verify=false --authfile ${authfile}\n`);
    chmodSync(join(bin, 'docker'), 0o755);
    // Asynchronously: the issuer answering the token request runs in this process.
    const ran = await runTool('bash', ['-eo', 'pipefail', '-c', login.run!], {
      env: {
        PATH: `${bin}:${process.env.PATH}`, REGISTRY: berth.host,
        ACTIONS_ID_TOKEN_REQUEST_URL: issuer.actionsRequest.url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.actionsRequest.token,
      },
    });
    assert.match(ran.stdout, /Login Succeeded/);
    await skopeoCopy(`oci:${join(work, 'img')}:x`, `docker://${berth.host}/acme/api:from-ci`, [], { authfile });
    const tags = await berth.fetch('/v2/acme/api/tags/list');
    assert.ok(((await tags.json()) as { tags: string[] }).tags.includes('from-ci'));
  });
});

describe('refused ID tokens say why', () => {
  it('forged signature, expired, wrong audience, wrong issuer, unknown kid', async () => {
    const stranger = await issuer.strangerKey();
    const now = Math.floor(Date.now() / 1000);
    assert.match(await refusal(await issuer.token({}, { kid: 'key-1', key: stranger.key })), /the ID token's signature does not verify/);
    assert.match(await refusal(await issuer.token({ iat: now - 900, nbf: now - 900, exp: now - 600 })), /the ID token has expired \(exp\)/);
    assert.match(await refusal(await issuer.token({ aud: 'someone-else' })), /audience \(aud\) is not one a trust policy of this issuer expects/);
    assert.match(await refusal(await issuer.token({ iss: 'https://token.actions.githubusercontent.com' })), /no organization trusts the ID token's issuer \(iss\)/);
    assert.match(await refusal(await issuer.token({}, { kid: 'made-up', key: stranger.key })), /signed with a key the issuer does not publish \(kid\)/);
    assert.match(await refusal(await issuer.token({ iat: now + 3600, nbf: now - 5 })), /issued in the future \(iat\)/);
    assert.match(await refusal(await issuer.token({ nbf: now + 3600 })), /not yet valid \(nbf\)/);
  });

  it('alg none and HS256 are refused before any key is used', async () => {
    const payload = Buffer.from(JSON.stringify({ iss: issuer.url, aud: 'berth-test', repository: 'acme/api', ref: 'refs/heads/main', exp: 9e9, iat: 1 })).toString('base64url');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    assert.match(await refusal(none), /algorithm "none" is not accepted/);
    const hs = await new SignJWT({ repository: 'acme/api', ref: 'refs/heads/main' }).setProtectedHeader({ alg: 'HS256', kid: 'key-1' })
      .setIssuer(issuer.url).setAudience('berth-test').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode('a-shared-secret-anyone-could-know'));
    assert.match(await refusal(hs), /algorithm "HS256" is not accepted/);
  });

  it('claims that do not match a policy are named, with the token\'s values (never the token)', async () => {
    const msg = await refusal(await issuer.token({ ref: 'refs/heads/dev', repository: 'acme/api' }));
    assert.match(msg, /no trust policy matched the ID token: claims that did not match: ref is "refs\/heads\/dev"$/);
    const two = await refusal(await issuer.token({ repository: 'evil/api', job_workflow_ref: 'evil/api/.github/workflows/x.yml@refs/heads/main' }));
    assert.match(two, /claims that did not match: repository is "evil\/api", job_workflow_ref is "evil/);
  });

  it('the issuer going down does not stop tokens signed by cached keys', async () => {
    issuer.setDown(true);
    try {
      const res = await tokenGet(await issuer.token(), 'repository:acme/api:pull');
      assert.equal(res.status, 200);
      await skopeoInspect(`docker://${berth.host}/acme/api:1.0`, { creds: `oidc:${await issuer.token()}` });
    } finally {
      issuer.setDown(false);
    }
  });

});
