import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrustPolicy, trustedActions, unmetConditions, type TrustPolicy } from './trust-policy.js';

const DOC = {
  issuer: 'https://token.actions.githubusercontent.com/', audience: 'registry.example.com',
  conditions: { repository: 'acme/*', ref: 'refs/heads/main' }, packages: ['api', 'web-*'], actions: ['push', 'pull'],
};

test('parse: normalizes the issuer, orders actions, defaults the lifetime', () => {
  assert.deepEqual(parseTrustPolicy(DOC), {
    issuer: 'https://token.actions.githubusercontent.com', audience: 'registry.example.com', conditions: DOC.conditions,
    packages: ['api', 'web-*'], actions: ['pull', 'push'], tokenLifetimeSeconds: 900,
  });
});

test('parse: each bad field is named', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ issuer: 'http://issuer.example.com' }, /^issuer: must be an https URL/],
    [{ issuer: 'not a url' }, /^issuer: an https URL is required/],
    [{ audience: '' }, /^audience:/],
    [{ conditions: {} }, /^conditions: at least one is required/],
    [{ conditions: { aud: 'x' } }, /^conditions: "aud" is not a claim/],
    [{ conditions: { repository: 3 } }, /^conditions\.repository:/],
    [{ packages: [] }, /^packages:/],
    [{ packages: ['API'] }, /^packages: "API"/],
    [{ actions: ['admin'] }, /^actions:/],
    [{ token_lifetime_seconds: 5 }, /^token_lifetime_seconds:/],
    [{ token_lifetime_seconds: 86_400 }, /^token_lifetime_seconds:/],
  ];
  for (const [change, message] of cases) {
    assert.throws(() => parseTrustPolicy({ ...DOC, ...change }), (e: Error & { status?: number }) => e.status === 422 && message.test(e.message), JSON.stringify(change));
  }
  // Plain http is accepted on loopback only (test issuers, a cluster's local issuer behind a port-forward).
  assert.equal(parseTrustPolicy({ ...DOC, issuer: 'http://127.0.0.1:8080' }).issuer, 'http://127.0.0.1:8080');
});

test('conditions: exact or glob, missing or non-string claims fail, each failure named', () => {
  const p = { audience: 'a', conditions: { repository: 'acme/*', ref: 'refs/heads/main', environment: 'prod' } };
  assert.deepEqual(unmetConditions(p, { repository: 'acme/api', ref: 'refs/heads/main', environment: 'prod' }), []);
  assert.deepEqual(unmetConditions(p, { repository: 'evil/api', ref: 'refs/heads/main-x', environment: ['prod'] }), ['repository', 'ref', 'environment']);
  assert.deepEqual(unmetConditions(p, { repository: 'acme/api', ref: 'refs/heads/main' }), ['environment']);
  assert.deepEqual(unmetConditions({ audience: 'a', conditions: { sub: 'repo:acme/a?i:*' } }, { sub: 'repo:acme/api:ref:refs/tags/v1' }), []);
});

test('granted actions: only the policy packages of its organization', () => {
  const policy: TrustPolicy = { id: 1, orgId: 1, org: 'acme', ...parseTrustPolicy(DOC) };
  const other: TrustPolicy = { ...policy, id: 2, org: 'beta', packages: ['*'], actions: ['delete'] };
  assert.deepEqual([...trustedActions([policy, other], 'acme/api')], ['pull', 'push']);
  assert.deepEqual([...trustedActions([policy, other], 'acme/web-ui')], ['pull', 'push']);
  assert.deepEqual([...trustedActions([policy, other], 'acme/db')], []);
  assert.deepEqual([...trustedActions([policy, other], 'acmex/api')], []);
  assert.deepEqual([...trustedActions([policy, other], 'beta/x/y')], ['delete']);
});
