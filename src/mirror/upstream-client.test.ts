import assert from 'node:assert/strict';
import { test } from 'node:test';
import { challengeParams, retryAfterMs } from './upstream-client.js';

test('Bearer challenges as Docker Hub, ghcr.io and Berth send them', () => {
  const hub = challengeParams('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"');
  assert.deepEqual(Object.fromEntries(hub), { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' });
  const spaced = challengeParams('Bearer realm = "https://ghcr.io/token" , service="ghcr.io", error="insufficient_scope"');
  assert.equal(spaced.get('realm'), 'https://ghcr.io/token');
  assert.equal(spaced.get('error'), 'insufficient_scope');
  assert.equal(challengeParams('Basic realm="upstream"').get('realm'), 'upstream');
  assert.equal(challengeParams('Bearer realm="a\\"b"').get('realm'), 'a"b');
  assert.equal(challengeParams('Bearer').size, 0);
});

test('Retry-After in seconds or as an HTTP date; anything else is no answer', () => {
  const now = Date.parse('2026-12-05T08:00:00Z');
  assert.equal(retryAfterMs('120', now), 120_000);
  assert.equal(retryAfterMs(' 0 ', now), 0);
  assert.equal(retryAfterMs('Sat, 05 Dec 2026 08:01:00 GMT', now), 60_000);
  assert.equal(retryAfterMs('Sat, 05 Dec 2026 07:00:00 GMT', now), 0);
  assert.equal(retryAfterMs('soon', now), null);
  assert.equal(retryAfterMs(null, now), null);
});
