import assert from 'node:assert/strict';
import { test } from 'node:test';
import { botActions, botDenial, botLogin, parseBot, parseBotRef, parseExpiry, type Bot } from './bot-grant.js';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const BOT: Bot = { id: 1, orgId: 2, org: 'acme', name: 'deployer', secretVersion: 1, packages: ['api', 'web-*'], actions: ['pull', 'push'] };

test('what a bot may do: its actions on the packages its globs name, in its organization only', () => {
  const cases: [string, string[]][] = [
    ['acme/api', ['pull', 'push']],
    ['acme/web-app', ['pull', 'push']],
    ['acme/web-app/nested', ['pull', 'push']],
    ['acme/apix', []],
    ['acme/db', []],
    ['other/api', []],
    ['acmeo/api', []],
  ];
  for (const [name, actions] of cases) assert.deepEqual([...botActions(BOT, name)].sort(), actions.sort(), name);
});

test('refusals name the grant, preferring the write the client attempted', () => {
  assert.match(botDenial(BOT, 'acme/db', ['pull', 'push']), /^permission_denied: bot acme\+deployer may only push api, web-\* in acme \(not acme\/db\)/);
  assert.match(botDenial(BOT, 'acme/api', ['delete']), /bot acme\+deployer may not delete: it may only pull, push api, web-\* in acme/);
  assert.equal(botLogin(BOT), 'acme+deployer');
});

test('parsing: names, packages, actions, expiry; 422 naming the field', () => {
  assert.deepEqual(parseBot({ name: 'Deployer', packages: ['api', 'api', 'web-*'], actions: ['push', 'pull'] }, NOW), {
    name: 'deployer', description: '', packages: ['api', 'web-*'], actions: ['pull', 'push'], expiresAt: null,
  });
  assert.equal(parseBot({ name: 'x', packages: ['api'], actions: ['pull'], expires_at: '2027-01-31' }, NOW).expiresAt, Date.parse('2027-01-31'));
  const bad: [unknown, RegExp][] = [
    [null, /a bot is a JSON object/],
    [{ name: '-x', packages: ['api'], actions: ['pull'] }, /name: "-x" is not a bot name/],
    [{ name: 'a'.repeat(41), packages: ['api'], actions: ['pull'] }, /is not a bot name/],
    [{ name: 'x', packages: 'api', actions: ['pull'] }, /packages: a non-empty list/],
    [{ name: 'x', packages: ['a b'], actions: ['pull'] }, /packages: "a b"/],
    [{ name: 'x', packages: ['api'], actions: [] }, /actions: a non-empty list/],
    [{ name: 'x', packages: ['api'], actions: ['pull'], description: 7 }, /description/],
  ];
  for (const [doc, message] of bad) assert.throws(() => parseBot(doc, NOW), (e: Error & { status?: number }) => e.status === 422 && message.test(e.message));
  assert.throws(() => parseExpiry('2020-01-01', NOW), /in the past/);
  assert.throws(() => parseExpiry(5, NOW), /ISO 8601/);
  assert.deepEqual(parseBotRef('acme/deployer'), { org: 'acme', name: 'deployer' });
  assert.deepEqual(parseBotRef('acme+Deployer'), { org: 'acme', name: 'deployer' });
  assert.throws(() => parseBotRef('deployer'), /write ORG\/NAME/);
});
