import assert from 'node:assert/strict';
import { test } from 'node:test';
import { combineImmutableTagRules, immutableRuleFor, parseImmutableTagRules } from './immutable-tags.js';

const org = parseImmutableTagRules({ patterns: ['v*', 'release-?'], exclude: ['latest', 'main-*', 'v*-rc*'] });
const pkg = parseImmutableTagRules({ patterns: ['stable'], exclude: [] });
const rules = combineImmutableTagRules([org, pkg]);

const CASES: [string, string | null][] = [
  ['v1.2.0', 'v*'],
  ['v', 'v*'],
  ['v2.0.0-rc1', null],
  ['release-1', 'release-?'],
  ['release-10', null],
  ['latest', null],
  ['main-3f2a', null],
  ['stable', 'stable'],
  ['V1.2.0', null],
  ['1.2.0', null],
];

for (const [tag, rule] of CASES) {
  test(`tag ${tag} → ${rule ?? 'mutable'}`, () => {
    assert.equal(immutableRuleFor(rules, tag), rule);
  });
}

test('dots in a pattern are literal', () => {
  const r = parseImmutableTagRules({ patterns: ['1.0'] });
  assert.equal(immutableRuleFor(r, '1.0'), '1.0');
  assert.equal(immutableRuleFor(r, '1x0'), null);
});

test('bad documents are refused with the field named', () => {
  assert.throws(() => parseImmutableTagRules({ patterns: ['v/1'] }), /immutable_tags.patterns\[0\]/);
  assert.throws(() => parseImmutableTagRules({ patterns: 'v*' }), /must be a list/);
  assert.throws(() => parseImmutableTagRules({ patterns: [], other: 1 }), /unknown field "other"/);
  assert.throws(() => parseImmutableTagRules([]), /must be an object/);
  assert.throws(() => parseImmutableTagRules({ patterns: ['x'.repeat(129)] }), /not a tag pattern/);
});
