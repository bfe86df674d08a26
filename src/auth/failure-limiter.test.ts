import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FailureLimiter } from './failure-limiter.js';

const MINUTE = 60_000;
const limiter = (maxKeys?: number): FailureLimiter => new FailureLimiter({ max: 3, windowMs: MINUTE, ...(maxKeys ? { maxKeys } : {}) });

test('allows max failures, then blocks for the rest of the window with a Retry-After in seconds', () => {
  const l = limiter();
  for (let i = 0; i < 3; i++) {
    assert.equal(l.retryAfter('ip:a', i * 1000), 0);
    l.fail('ip:a', i * 1000);
  }
  assert.equal(l.retryAfter('ip:a', 2000), 58);
  assert.equal(l.retryAfter('ip:b', 2000), 0, 'other keys are not affected');
  assert.equal(l.retryAfter('ip:a', MINUTE - 1), 1);
  assert.equal(l.retryAfter('ip:a', MINUTE + 1), 0, 'the next window lets a failure through as the old ones slide out');
});

test('failures while blocked are not counted: hammering a blocked key does not extend the block', () => {
  const l = limiter();
  for (let i = 0; i < 3; i++) l.fail('ip:a', i);
  for (let t = 10; t < MINUTE; t += 10) l.fail('ip:a', t);
  // Half-way into the next window the three failures weigh 1.5: room for one more, as if nothing had been hammered.
  assert.equal(l.retryAfter('ip:a', MINUTE * 1.5), 0);
  l.fail('ip:a', MINUTE * 1.5);
  assert.equal(l.retryAfter('ip:a', MINUTE * 1.5), 0);
  l.fail('ip:a', MINUTE * 1.5);
  assert.ok(l.retryAfter('ip:a', MINUTE * 1.5) > 0, '1.5 + 2 failures reach the limit of 3');
});

test('the window slides: a burst at the end of one window is still counted at the start of the next', () => {
  const l = limiter();
  for (let i = 0; i < 3; i++) l.fail('ip:a', MINUTE - 1000);
  assert.equal(l.retryAfter('ip:a', MINUTE + 1000), 0, '3 × 59/60 < 3');
  l.fail('ip:a', MINUTE + 1000);
  const wait = l.retryAfter('ip:a', MINUTE + 1000);
  assert.ok(wait > 0, 'a fixed window would allow three fresh failures here');
  // Blocked until the old burst has slid out far enough: 3 × (1 − f) + 1 < 3 ⇔ f > 1/3 of the window.
  assert.equal(wait, 19);
  assert.equal(l.retryAfter('ip:a', MINUTE + MINUTE / 3 + 1), 0);
});

test('memory is bounded: keys two windows old are dropped, and past maxKeys the longest-tracked key goes, one per new key', () => {
  const l = limiter(100);
  for (let i = 0; i < 3; i++) l.fail('ip:blocked', 0);
  for (let i = 0; i < 99; i++) l.fail(`user:spray-${i}`, 1000);
  assert.equal(l.size, 100);
  assert.ok(l.retryAfter('ip:blocked', 1000) > 0, 'a full table keeps everyone\'s state');
  l.fail('user:spray-99', 1000);
  assert.equal(l.size, 100);
  assert.equal(l.retryAfter('ip:blocked', 1000), 0, 'the key tracked longest made room');
  for (let i = 0; i < 2; i++) l.fail('user:spray-0', 1000);
  assert.ok(l.retryAfter('user:spray-0', 1000) > 0, 'the others are all still counted');
  l.fail('ip:late', 2 * MINUTE + 1);
  assert.equal(l.size, 1, 'keys whose failures are two windows old count nothing and are gone');
});
