import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Action } from './actions.js';
import { effectiveScopes } from './permissions.js';
import { refusal, type RefusalFacts } from './refusal.js';

const W = effectiveScopes(['write:packages']);
const R = effectiveScopes(['read:packages']);
const facts = (over: Partial<RefusalFacts>): RefusalFacts => ({
  name: 'acme/app', requested: ['pull', 'push'], granted: [], login: 'bob', scopes: W, repositoryLimit: null,
  allowed: new Set<Action>(), exists: true, ...over,
});
const describe = (f: RefusalFacts): string => {
  const r = refusal(f);
  return r === null ? 'allowed' : r.kind === 'denied' ? `denied ${r.message}` : r.kind;
};

// [case, facts, expected (a prefix of the description)]
const CASES: [string, RefusalFacts, string][] = [
  ['granted', facts({ granted: ['pull', 'push'] }), 'allowed'],
  ['anonymous callers are asked to log in', facts({ login: null }), 'login'],
  ['pull of a private package the caller cannot read', facts({ requested: ['pull'] }), 'unknown'],
  ['pull of a package that does not exist', facts({ requested: ['pull'], exists: false }), 'unknown'],
  ['pull of a missing package the caller could create', facts({ requested: ['pull'], exists: false, allowed: new Set(['pull', 'push']) }), 'unknown'],
  ['delete of a private package the caller cannot read', facts({ requested: ['delete'] }), 'unknown'],
  ['push to a private package the caller cannot read', facts({}), 'denied permission_denied: write_package: you may not push to acme/app; check the name'],
  ['push to a name the caller may not create', facts({ exists: false }), 'denied permission_denied: write_package: you may not push to acme/app; check the name'],
  ['push with a read role', facts({ granted: ['pull'], allowed: new Set(['pull']) }), 'denied permission_denied: write_package: bob needs the write role'],
  ['push with a read-only token', facts({ granted: ['pull'], scopes: R, allowed: new Set(['pull']) }), 'denied permission_denied: write_package: the token lacks the write:packages scope'],
  ['push of a CI token to a private package of others', facts({ repositoryLimit: 'acme/ci' }), 'denied permission_denied: write_package: this CI token is limited to acme/ci'],
  ['push of a CI token to a missing package', facts({ repositoryLimit: 'acme/ci', exists: false }), 'denied permission_denied: write_package: this CI token is limited to acme/ci'],
  // A push to a name the caller cannot read names the one thing to fix (issue 13 §4), the same whether it exists.
  ['a read-only token pushing a new package is told about the scope, not the namespace', facts({ exists: false, scopes: R, namespace: { kind: 'org', login: 'acme', role: 'owner', membersCanCreate: false } }), 'denied permission_denied: write_package: the token lacks the write:packages scope'],
  ['a non-member with a write token is told about the membership', facts({ exists: false, namespace: { kind: 'org', login: 'acme', role: null, membersCanCreate: true } }), 'denied permission_denied: write_package: bob is not a member of the organization acme; ask an owner to add you (berth org add-member acme bob'],
  ['a member where only owners create packages is told about the policy', facts({ exists: false, namespace: { kind: 'org', login: 'acme', role: 'member', membersCanCreate: false } }), 'denied permission_denied: write_package: acme lets only its owners create packages; ask an owner to create acme/app or to let members create packages (berth org policy acme --members-can-create yes'],
  ['a push into another user\'s namespace says whose it is', facts({ exists: false, namespace: { kind: 'other-user', login: 'acme' } }), 'denied permission_denied: write_package: acme is another user\'s namespace'],
  ['a push into a namespace that does not exist says so', facts({ exists: false, namespace: { kind: 'missing', login: 'acme' } }), 'denied permission_denied: write_package: there is no user or organization named acme'],
  ['delete without the admin role', facts({ requested: ['delete'], granted: ['pull'], allowed: new Set(['pull', 'push']) }), 'denied permission_denied: delete_package: the token lacks'],
];

for (const [name, f, expected] of CASES) {
  test(name, () => assert.ok(describe(f).startsWith(expected), describe(f)));
}

test('a push the caller may not make reads the same whether the package exists or not', () => {
  const namespaces = [
    { kind: 'missing', login: 'acme' }, { kind: 'other-user', login: 'acme' },
    { kind: 'org', login: 'acme', role: null, membersCanCreate: true }, { kind: 'org', login: 'acme', role: 'member', membersCanCreate: false },
  ] as const;
  for (const over of [{}, { repositoryLimit: 'acme/ci' }, { scopes: R }, ...namespaces.map((namespace) => ({ namespace }))]) {
    assert.deepEqual(refusal(facts({ ...over, exists: true })), refusal(facts({ ...over, exists: false })));
  }
});
