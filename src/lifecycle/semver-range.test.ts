import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSemverRange, parseVersion, satisfies } from './semver-range.js';

const CASES: [string, string, boolean][] = [
  ['>=1.0 <2', '1.0.0', true],
  ['>=1.0 <2', 'v1.9.3', true],
  ['>=1.0 <2', '2.0.0', false],
  ['>=1.0 <2', '2.0.0-rc1', false],
  ['>=1.0 <2', '0.9', false],
  ['^1.4', '1.4.0', true],
  ['^1.4', '1.99.0', true],
  ['^1.4', '2.0.0', false],
  ['^0.3.1', '0.3.9', true],
  ['^0.3.1', '0.4.0', false],
  ['~2.1', '2.1.7', true],
  ['~2.1', '2.2.0', false],
  ['1.x', '1.7.2', true],
  ['1.x', '2.0.0', false],
  ['1.2.3', '1.2.3', true],
  ['1.2.3', '1.2.4', false],
  ['<1 || >=3', '0.5.0', true],
  ['<1 || >=3', '3.1.0', true],
  ['<1 || >=3', '2.0.0', false],
  ['>= 1.2.0', '1.2.0-rc.1', false],
  ['>1.2', '1.3.0', true],
  ['>1.2', '1.2.9', false],
  ['<=1.2', '1.2.9', true],
  ['*', '7.0.0', true],
];

for (const [range, tag, expected] of CASES) {
  test(`${tag} ${expected ? 'satisfies' : 'does not satisfy'} ${range}`, () => {
    assert.equal(satisfies(parseVersion(tag)!, parseSemverRange(range)), expected);
  });
}

test('tags that are not versions never match; bad ranges are refused', () => {
  assert.equal(parseVersion('latest'), null);
  assert.equal(parseVersion('main-3f2a'), null);
  assert.throws(() => parseSemverRange('>=banana'), /is not a semver range/);
  assert.throws(() => parseSemverRange('1 ||'), /empty alternative/);
});
