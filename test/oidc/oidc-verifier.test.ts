// The OIDC verifier against a real issuer over HTTP (test/helpers/oidc-issuer.ts), on a clock the test moves: key
// caching, rotation, the bounded refresh on an unknown kid, and an issuer that goes down.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OidcVerifier, type OidcIdentity, type OidcRefusal } from '../../src/auth/oidc-verifier.js';
import type { TrustPolicy } from '../../src/auth/trust-policy.js';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';

let issuer: OidcIssuer;
let now = Date.now();
let verifier: OidcVerifier;

before(async () => {
  issuer = await startOidcIssuer();
  const policy: TrustPolicy = {
    id: 1, orgId: 1, org: 'acme', issuer: issuer.url, audience: 'berth-test', conditions: { repository: 'acme/*' },
    packages: ['api'], actions: ['pull', 'push'], tokenLifetimeSeconds: 600,
  };
  verifier = new OidcVerifier({ policies: { forIssuer: async (iss) => (iss === issuer.url ? [policy] : []) }, clock: { now: () => now } });
});
after(async () => { await issuer?.stop(); });

const reason = (r: OidcIdentity | OidcRefusal): string => ('reason' in r ? r.reason : 'accepted');

test('keys are fetched once and cached; a rotation is followed on the unknown kid, at most once per cooldown', async () => {
  now = Date.now();
  assert.equal(reason(await verifier.verify(await issuer.token())), 'accepted');
  assert.equal(reason(await verifier.verify(await issuer.token())), 'accepted');
  assert.equal(issuer.fetches('/.well-known/jwks'), 1);
  assert.equal(issuer.fetches('/.well-known/openid-configuration'), 1);

  const rotated = await issuer.rotate();
  // Within the cooldown of the last fetch, an unknown kid does not reach the issuer: a flood of made-up kids cannot.
  for (let i = 0; i < 5; i++) assert.match(reason(await verifier.verify(await issuer.token({}, { kid: rotated }))), /key the issuer does not publish/);
  assert.equal(issuer.fetches('/.well-known/jwks'), 1);
  now += 31_000;
  assert.equal(reason(await verifier.verify(await issuer.token({}, { kid: rotated }))), 'accepted');
  assert.equal(issuer.fetches('/.well-known/jwks'), 2);
  // Still unknown after the refresh: refused, and no new fetch until the cooldown has passed again.
  const stranger = await issuer.strangerKey();
  assert.match(reason(await verifier.verify(await issuer.token({}, { kid: 'nope', key: stranger.key }))), /key the issuer does not publish \(kid\)/);
  assert.equal(issuer.fetches('/.well-known/jwks'), 2);
});

test('the issuer down: cached keys keep verifying, also once they are due for a refresh', async () => {
  issuer.setDown(true);
  try {
    assert.equal(reason(await verifier.verify(await issuer.token(at(now)))), 'accepted');
    now += 11 * 60_000;
    assert.equal(reason(await verifier.verify(await issuer.token(at(now)))), 'accepted');
    const token = await issuer.token();
    // A fresh verifier never saw the keys: it cannot verify and says why.
    const fresh = new OidcVerifier({ policies: { forIssuer: async () => [{ ...POLICY_OF(issuer.url) }] }, clock: { now: () => Date.now() } });
    assert.match(reason(await fresh.verify(token)), /signing keys could not be fetched \(127\.0\.0\.1:\d+ answered 503\)/);
  } finally {
    issuer.setDown(false);
  }
});

/** Times of a token issued at `ms` (the test's clock), living 5 minutes. */
function at(ms: number) {
  const s = Math.floor(ms / 1000);
  return { iat: s, nbf: s - 5, exp: s + 300 };
}

function POLICY_OF(url: string): TrustPolicy {
  return { id: 2, orgId: 1, org: 'acme', issuer: url, audience: 'berth-test', conditions: { repository: 'acme/*' }, packages: ['api'], actions: ['pull'], tokenLifetimeSeconds: 60 };
}
