import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimiter } from './rate-limiter.js';

test('counts per key and resource in a fixed window that starts at the first request', () => {
  const limiter = new RateLimiter({ windowMs: 60_000 });
  const t0 = 1_000_000;
  assert.deepEqual(limiter.take('a', 'core', 2, t0), { limit: 2, used: 1, remaining: 1, reset: Math.ceil((t0 + 60_000) / 1000), resource: 'core', allowed: true });
  assert.equal(limiter.take('a', 'core', 2, t0 + 10).allowed, true);
  const over = limiter.take('a', 'core', 2, t0 + 20);
  assert.equal(over.allowed, false);
  assert.equal(over.used, 2, 'refused requests are not counted');
  assert.equal(over.remaining, 0);
  assert.equal(limiter.take('b', 'core', 2, t0 + 20).used, 1, 'another key has its own count');
  assert.equal(limiter.take('a', 'graphql', 2, t0 + 20).used, 1, 'another resource has its own count');
  const next = limiter.take('a', 'core', 2, t0 + 60_000);
  assert.equal(next.allowed, true, 'a new window starts when the old one ends');
  assert.equal(next.used, 1);
  assert.equal(next.reset, Math.ceil((t0 + 120_000) / 1000));
});

test('peek reports without counting', () => {
  const limiter = new RateLimiter({ windowMs: 60_000 });
  assert.equal(limiter.peek('a', 'core', 5, 0).used, 0);
  limiter.take('a', 'core', 5, 0);
  assert.equal(limiter.peek('a', 'core', 5, 1).used, 1);
  assert.equal(limiter.peek('a', 'core', 5, 1).used, 1);
  assert.equal(limiter.peek('a', 'core', 5, 60_001).used, 0, 'an expired window reads as empty');
});
