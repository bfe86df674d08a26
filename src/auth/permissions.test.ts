import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allowedActions, allowedOperations, effectiveScopes, type Role, type Subject, type Target, type Visibility } from './permissions.js';

const user = (scopes: string[], repositoryLimit: string | null = null): Subject => ({ userId: 7, scopes: effectiveScopes(scopes), repositoryLimit });
const anonymous: Subject = { userId: null, scopes: new Set(), repositoryLimit: null };
const pkg = (visibility: Visibility, role: Role | null, internalReader = false): Target => ({ exists: true, name: 'acme/app', visibility, role, internalReader });
const missing = (canCreate: boolean): Target => ({ exists: false, name: 'acme/new', canCreate });

const R = ['read:packages'];
const W = ['write:packages'];
const RD = ['read:packages', 'delete:packages'];
const WD = ['write:packages', 'delete:packages'];

// [case, subject, target, expected actions]
const CASES: [string, Subject, Target, string][] = [
  ['anonymous reads a public package', anonymous, pkg('public', null), 'pull'],
  ['anonymous cannot read a private package', anonymous, pkg('private', null), ''],
  ['anonymous cannot read an internal package', anonymous, pkg('internal', null, true), ''],
  ['anonymous cannot create', anonymous, missing(true), ''],
  ['reader with read scope pulls a private package', user(R), pkg('private', 'read'), 'pull'],
  ['read scope without a role sees nothing private', user(R), pkg('private', null), ''],
  ['role without read scope sees nothing private', user([]), pkg('private', 'admin'), ''],
  ['write scope implies read', user(W), pkg('private', 'read'), 'pull'],
  ['writer with write scope pushes', user(W), pkg('private', 'write'), 'pull,push'],
  ['read-only token cannot push even as admin', user(R), pkg('private', 'admin'), 'pull'],
  ['write token cannot push with a read role', user(W), pkg('public', 'read'), 'pull'],
  ['delete needs delete scope and admin', user(WD), pkg('private', 'admin'), 'pull,push,delete'],
  ['delete scope with write role is not enough', user(WD), pkg('private', 'write'), 'pull,push'],
  ['delete scope needs read scope too', user(['delete:packages']), pkg('private', 'admin'), ''],
  ['read+delete admin may delete but not push', user(RD), pkg('private', 'admin'), 'pull,delete'],
  ['internal package readable by a member', user(R), pkg('internal', null, true), 'pull'],
  ['internal package not readable by a non-member', user(R), pkg('internal', null, false), ''],
  ['first push allowed where the subject may create', user(W), missing(true), 'pull,push'],
  ['first push denied where the subject may not create', user(W), missing(false), ''],
  ['first push needs write scope', user(R), missing(true), ''],
  ['CI token works on its own package', user(W, 'acme/app'), pkg('private', 'write'), 'pull,push'],
  ['CI token cannot touch another package', user(W, 'acme/other'), pkg('private', 'admin'), ''],
  ['CI token may still pull public packages', user(W, 'acme/other'), pkg('public', 'admin'), 'pull'],
  ['CI token cannot create another package', user(W, 'acme/app'), missing(true), ''],
];

for (const [name, subject, target, expected] of CASES) {
  test(name, () => {
    const order = ['pull', 'push', 'delete'];
    const got = [...allowedActions(subject, target)].sort((a, b) => order.indexOf(a) - order.indexOf(b)).join(',');
    assert.equal(got, expected);
  });
}

// GitHub REST operations: [case, subject, target, expected operations]
const OPERATION_CASES: [string, Subject, Target, string][] = [
  ['anyone reads a public package, nobody else may change it', anonymous, pkg('public', null), 'read'],
  ['admin with read+delete deletes but does not restore', user(RD), pkg('private', 'admin'), 'read,delete'],
  ['admin with write restores but does not delete', user(W), pkg('private', 'admin'), 'read,restore'],
  ['admin with write+delete does both', user(WD), pkg('private', 'admin'), 'read,delete,restore'],
  ['a writer may neither delete nor restore', user(WD), pkg('private', 'write'), 'read'],
  ['a non-reader gets nothing', user(WD), pkg('private', null), ''],
  ['a CI token restores nothing outside its package', user(WD, 'acme/other'), pkg('public', 'admin'), 'read'],
  ['a CI token only pulls and pushes: no restore through its creator\'s admin role', user(W, 'acme/app'), pkg('private', 'admin'), 'read'],
  ['a CI token created to delete may delete and restore in its package', user(WD, 'acme/app'), pkg('private', 'admin'), 'read,delete,restore'],
  ['nothing on a package that does not exist', user(WD), missing(true), ''],
];

for (const [name, subject, target, expected] of OPERATION_CASES) {
  test(`REST: ${name}`, () => {
    const order = ['read', 'delete', 'restore'];
    const got = [...allowedOperations(subject, target)].sort((a, b) => order.indexOf(a) - order.indexOf(b)).join(',');
    assert.equal(got, expected);
  });
}
