import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../util/errors.js';
import { digestAlgorithm, digestHex, parseDigest } from './digest.js';

const SHA256 = `sha256:${'a'.repeat(64)}`;
const SHA512 = `sha512:${'b'.repeat(128)}`;

test('valid sha256 and sha512 digests parse', () => {
  assert.equal(parseDigest(SHA256), SHA256);
  assert.equal(parseDigest(SHA512), SHA512);
  assert.equal(digestAlgorithm(parseDigest(SHA512)), 'sha512');
  assert.equal(digestHex(parseDigest(SHA256)), 'a'.repeat(64));
});

for (const bad of ['', 'sha256', 'sha256:', `sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `sha512:${'a'.repeat(64)}`,
  `md5:${'a'.repeat(32)}`, `:${'a'.repeat(64)}`, `sha256:${'g'.repeat(64)}`, `sha256:${'a'.repeat(10_000)}`]) {
  test(`"${bad.slice(0, 30)}" is DIGEST_INVALID`, () => {
    assert.throws(() => parseDigest(bad), (err) => isBerthError(err) && err.code === 'DIGEST_INVALID' && err.status === 400);
  });
}
