import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoSeconds } from './serializers.js';

test('isoSeconds writes what toISOString does without the milliseconds, on any day and in any order', () => {
  const reference = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  // Day boundaries, before 1970, a leap day, the last representable millisecond, and back and forth between days.
  const fixed = [0, -1, 999, 1000, 86_399_999, 86_400_000, -86_400_001, Date.UTC(2024, 1, 29, 23, 59, 59, 999), 8.64e15, -8.64e15, 1_733_500_000_123, 0];
  for (const ms of fixed) assert.equal(isoSeconds(ms), reference(ms), String(ms));
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.floor((Math.random() - 0.3) * 4e12);
    assert.equal(isoSeconds(ms), reference(ms), String(ms));
  }
  assert.equal(isoSeconds(Date.UTC(2020, 4, 19, 22, 19, 11, 500)), '2020-05-19T22:19:11Z');
});
