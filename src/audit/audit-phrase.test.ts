import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAuditPhrase } from './audit-phrase.js';

const day = (s: string) => Date.parse(`${s}T00:00:00Z`);

test('phrases: each qualifier narrows, all together hold', () => {
  const cases: [string | undefined, object][] = [
    [undefined, {}],
    ['', {}],
    ['action:package.delete', { actions: ['package.delete'] }],
    ['action:package', { actions: ['package.'] }],
    ['action:team action:team.add_member', { actions: ['team.', 'team.add_member'] }],
    ['actor:Alice', { actor: 'Alice' }],
    ['repo:acme/API', { repository: 'acme/api' }],
    ['package:api', { repository: 'api' }],
    ['created:2026-03-01', { createdFrom: day('2026-03-01'), createdTo: day('2026-03-02') }],
    ['created:>=2026-03-01', { createdFrom: day('2026-03-01') }],
    ['created:>2026-03-01', { createdFrom: day('2026-03-02') }],
    ['created:<2026-03-01', { createdTo: day('2026-03-01') }],
    ['created:<=2026-03-01', { createdTo: day('2026-03-02') }],
    ['created:2026-03-01..2026-03-05', { createdFrom: day('2026-03-01'), createdTo: day('2026-03-06') }],
    ['  action:token.create   actor:bob ', { actions: ['token.create'], actor: 'bob' }],
  ];
  for (const [phrase, want] of cases) assert.deepEqual(parseAuditPhrase(phrase), want, String(phrase));
});

test('phrases Berth does not understand are refused with 422, never widened', () => {
  for (const phrase of ['hello', 'org:acme', 'action:Package.Delete', "actor:a'b", 'repo:%', 'created:2026-02-30', 'created:yesterday', 'action:a.b.c']) {
    assert.throws(() => parseAuditPhrase(phrase), (e: { status?: number }) => e.status === 422, phrase);
  }
});
