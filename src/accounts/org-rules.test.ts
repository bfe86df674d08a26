import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lastOwnerRefusal, type OrgRole } from './org-rules.js';

const members = (...list: [string, OrgRole][]): { login: string; role: OrgRole }[] => list.map(([login, role]) => ({ login, role }));

// [case, members, login, new role (null: removed), refused]
const CASES: [string, { login: string; role: OrgRole }[], string, OrgRole | null, boolean][] = [
  ['removing the only owner', members(['alice', 'owner'], ['bob', 'member']), 'alice', null, true],
  ['making the only owner a member', members(['alice', 'owner'], ['bob', 'member']), 'Alice', 'member', true],
  ['keeping the only owner an owner', members(['alice', 'owner']), 'alice', 'owner', false],
  ['removing one of two owners', members(['alice', 'owner'], ['carol', 'owner']), 'alice', null, false],
  ['removing a member', members(['alice', 'owner'], ['bob', 'member']), 'bob', null, false],
  ['adding someone new', members(['alice', 'owner']), 'dave', 'member', false],
];

for (const [name, list, login, role, refused] of CASES) {
  test(name, () => {
    const message = lastOwnerRefusal('acme', list, login, role);
    assert.equal(message !== null, refused, String(message));
    if (message) assert.equal(message, 'alice is the only owner of acme: make someone else an owner first.');
  });
}
