// Single sign-on's relying party (src/auth/oidc-sign-in.ts) against a real issuer on loopback whose token endpoint
// answers with the ID token each case chooses: the authorization request carries state, nonce and an S256 PKCE
// challenge; the code is redeemed with the verifier and the client secret; and every ID token that is not for this
// client and this sign-in, or not signed by the issuer's published keys with an asymmetric algorithm, is refused.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { JWTPayload } from 'jose';
import { OidcIssuers } from '../../src/auth/oidc-issuers.js';
import { OidcSignIn, type PendingSignIn } from '../../src/auth/oidc-sign-in.js';
import { isBerthError } from '../../src/util/errors.js';
import { systemClock } from '../../src/util/clock.js';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';

const CALLBACK = 'http://127.0.0.1:5000/login/sso/callback';

describe('single sign-on: the authorization code flow and the ID token', () => {
  let issuer: OidcIssuer;
  let signIn: OidcSignIn;

  before(async () => {
    issuer = await startOidcIssuer();
    signIn = new OidcSignIn({
      settings: { issuer: issuer.url, clientId: 'berth', clientSecret: 's3cret:/x', scopes: ['openid', 'profile', 'groups'], usernameClaim: 'preferred_username', groupsClaim: 'groups' },
      issuers: new OidcIssuers({ clock: systemClock }), clock: systemClock,
    });
  });
  after(() => issuer?.stop());

  /** A started sign-in, and the provider's return to it whose token endpoint answers with `claims` signed as `opts` says. */
  async function returnWith(claims: (pending: PendingSignIn) => JWTPayload, opts: Parameters<OidcIssuer['token']>[1] = {}) {
    const { pending } = await signIn.start(CALLBACK, '/settings/tokens');
    issuer.setTokenAnswer(200, { access_token: 'at', token_type: 'Bearer', id_token: await issuer.token(claims(pending), opts) });
    return { pending, query: new URLSearchParams({ code: 'the-code', state: pending.state }) };
  }

  const person = (p: PendingSignIn): JWTPayload => ({ aud: 'berth', nonce: p.nonce, sub: 'user-1', preferred_username: 'frank', email: 'frank@example.com', groups: ['platform', 7] });

  async function refusal(work: Promise<unknown>): Promise<{ status: number; message: string }> {
    try {
      await work;
    } catch (err) {
      if (isBerthError(err)) return { status: err.status, message: err.message };
      throw err;
    }
    throw new Error('expected a refusal');
  }

  it('asks with state, nonce and an S256 challenge; redeems with the verifier and the secret; reads the claims', async () => {
    const { url, pending } = await signIn.start(CALLBACK, '/x');
    const asked = new URL(url);
    assert.equal(`${asked.origin}${asked.pathname}`, `${issuer.url}/authorize`);
    const q = asked.searchParams;
    assert.deepEqual(
      { type: q.get('response_type'), client: q.get('client_id'), redirect: q.get('redirect_uri'), scope: q.get('scope'), method: q.get('code_challenge_method') },
      { type: 'code', client: 'berth', redirect: CALLBACK, scope: 'openid profile groups', method: 'S256' },
    );
    assert.equal(q.get('state'), pending.state);
    assert.equal(q.get('nonce'), pending.nonce);
    assert.equal(q.get('code_challenge'), createHash('sha256').update(pending.verifier).digest('base64url'));
    assert.ok(!url.includes(pending.verifier), 'the verifier never leaves Berth before the code is redeemed');

    const ok = await returnWith(person);
    const identity = await signIn.finish(ok.query, ok.pending, CALLBACK);
    assert.deepEqual(identity, { issuer: issuer.url, subject: 'user-1', username: 'frank', email: 'frank@example.com', groups: ['platform'] });
    const request = issuer.tokenRequests().at(-1)!;
    assert.deepEqual(Object.fromEntries(request.form), { grant_type: 'authorization_code', code: 'the-code', redirect_uri: CALLBACK, code_verifier: ok.pending.verifier });
    // client_secret_basic: both parts form-encoded before Base64 (RFC 6749 §2.3.1).
    assert.equal(request.authorization, `Basic ${Buffer.from('berth:s3cret%3A%2Fx').toString('base64')}`);
  });

  it('refuses a return without this browser\'s state, a provider error, and a code the provider does not accept', async () => {
    const { pending, query } = await returnWith(person);
    const other = new URLSearchParams({ code: 'the-code', state: 'someone-elses' });
    assert.deepEqual(await refusal(signIn.finish(other, pending, CALLBACK)), { status: 400, message: 'the sign-in could not be matched to this browser (state mismatch); start again from the sign-in page' });
    assert.equal((await refusal(signIn.finish(query, null, CALLBACK))).status, 400, 'no pending sign-in: a state mismatch too');
    const denied = await refusal(signIn.finish(new URLSearchParams({ state: pending.state, error: 'access_denied', error_description: 'the user said no' }), pending, CALLBACK));
    assert.deepEqual(denied, { status: 403, message: 'the identity provider refused the sign-in: access_denied (the user said no)' });
    issuer.setTokenAnswer(400, { error: 'invalid_grant' });
    assert.match((await refusal(signIn.finish(query, pending, CALLBACK))).message, /did not accept the authorization code \(invalid_grant\)/);
  });

  const cases: [string, (p: PendingSignIn) => JWTPayload, Parameters<OidcIssuer['token']>[1], RegExp][] = [
    ['another nonce (a token from another sign-in)', (p) => ({ ...person(p), nonce: 'other' }), {}, /nonce mismatch/],
    ['no nonce', (p) => { const { nonce: _n, ...rest } = person(p); return rest; }, {}, /nonce mismatch/],
    ['another audience', (p) => ({ ...person(p), aud: 'another-client' }), {}, /issued to another client \(aud\)/],
    ['several audiences, azp another client', (p) => ({ ...person(p), aud: ['berth', 'other'], azp: 'other' }), {}, /another client \(azp\)/],
    ['another issuer', (p) => ({ ...person(p), iss: 'https://evil.example.com' }), {}, /issued by another issuer \(iss\)/],
    ['expired', (p) => ({ ...person(p), exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 }), {}, /has expired \(exp\)/],
    ['HS256', person, { alg: 'HS256', key: new TextEncoder().encode('a-shared-secret-anyone-could-use-0123') as never }, /algorithm is not accepted/],
  ];
  for (const [what, claims, opts, expected] of cases) {
    it(`refuses an ID token with ${what}`, async () => {
      const { pending, query } = await returnWith(claims, opts);
      const refused = await refusal(signIn.finish(query, pending, CALLBACK));
      assert.equal(refused.status, 401);
      assert.match(refused.message, expected);
    });
  }

  it('refuses an ID token signed by a key the issuer does not publish', async () => {
    const stranger = await issuer.strangerKey();
    const { pending, query } = await returnWith(person, { kid: stranger.kid, key: stranger.key });
    const refused = await refusal(signIn.finish(query, pending, CALLBACK));
    assert.equal(refused.status, 401);
    assert.match(refused.message, /a key the provider does not publish \(kid\)/);
  });

  it('refuses an unsigned ID token (alg none)', async () => {
    const { pending } = await signIn.start(CALLBACK, '/');
    const good = (await issuer.token(person(pending))).split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    issuer.setTokenAnswer(200, { id_token: `${header}.${good[1]}.` });
    const refused = await refusal(signIn.finish(new URLSearchParams({ code: 'c', state: pending.state }), pending, CALLBACK));
    assert.equal(refused.status, 401);
    assert.match(refused.message, /ID token was refused/);
  });
});
