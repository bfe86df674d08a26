import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mirrorActions, type MirrorReaders } from './mirror-access.js';
import { effectiveScopes, type Subject } from './permissions.js';

const anonymous: Subject = { userId: null, scopes: new Set(), repositoryLimit: null };
const reader: Subject = { userId: 7, scopes: effectiveScopes(['read:packages']), repositoryLimit: null };
const writer: Subject = { userId: 7, scopes: effectiveScopes(['write:packages', 'delete:packages']), repositoryLimit: null };
const noScope: Subject = { userId: 7, scopes: new Set(), repositoryLimit: null };
const ci: Subject = { userId: 7, scopes: effectiveScopes(['write:packages']), repositoryLimit: 'acme/api' };

const CASES: [string, Subject, MirrorReaders, string[]][] = [
  ['anonymous, public mirror', anonymous, 'public', ['pull']],
  ['anonymous, signed-in mirror', anonymous, 'signed-in', []],
  ['reader, signed-in mirror', reader, 'signed-in', ['pull']],
  ['writer and deleter: still pull only', writer, 'signed-in', ['pull']],
  ['admin-like scopes on a public mirror: pull only', writer, 'public', ['pull']],
  ['a token without read:packages', noScope, 'signed-in', []],
  ['a CI token limited to another package', ci, 'signed-in', ['pull']],
];

for (const [label, subject, readers, expected] of CASES) {
  test(`mirror access: ${label} → ${expected.join(',') || 'nothing'}`, () => {
    assert.deepEqual([...mirrorActions(subject, readers)].sort(), expected);
  });
}
