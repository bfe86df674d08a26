import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MirrorReaders } from '../oci/names.js';
import { mirrorActions } from './mirror-access.js';
import type { Action } from './actions.js';
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
  ['a member of the mirror\'s organization', reader, 'org:acme', ['pull']],
  ['a signed-in user of another organization', reader, 'org:other', []],
  ['anonymous, organization mirror', anonymous, 'org:acme', []],
  ['a member whose token cannot read packages', noScope, 'org:acme', []],
  ['a bot of the organization that may pull', bot('acme', ['pull']), 'org:acme', ['pull']],
  ['a bot of the organization that may only push', bot('acme', ['push']), 'org:acme', []],
  ['a bot of another organization', bot('other', ['pull']), 'org:acme', []],
  ['a bot on a signed-in mirror (no user)', bot('acme', ['pull']), 'signed-in', []],
];

function bot(org: string, actions: Action[]): Subject {
  return { userId: null, scopes: new Set(), repositoryLimit: null, grant: { org, packages: ['*'], actions } };
}

/** User 7 is a member of acme only. */
const isMember = async (userId: number, org: string): Promise<boolean> => userId === 7 && org === 'acme';

for (const [label, subject, readers, expected] of CASES) {
  test(`mirror access: ${label} → ${expected.join(',') || 'nothing'}`, async () => {
    assert.deepEqual([...await mirrorActions(subject, readers, isMember)].sort(), expected);
  });
}
