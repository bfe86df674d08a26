import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../util/errors.js';
import { parseReference, parseRepoName, parseTag, repoOwner } from './names.js';

test('names follow the distribution grammar and need OWNER/NAME', () => {
  for (const ok of ['acme/app', 'acme/a/b/c', 'a-b/c.d', 'a__b/c', 'a--b/c_d', '0/1']) assert.equal(parseRepoName(ok), ok);
  for (const bad of ['app', '', 'Acme/app', 'acme/App', 'acme//app', 'acme/app/', '/acme/app', 'acme/../etc', 'acme/.app', 'acme/app.',
    'acme/a___b', 'acme/%2e%2e', `acme/${'a'.repeat(260)}`]) {
    assert.throws(() => parseRepoName(bad), (err) => isBerthError(err) && err.code === 'NAME_INVALID', bad);
  }
});

test('uppercase names get a hint', () => {
  assert.throws(() => parseRepoName('Acme/app'), /lowercase/);
});

test('owner is the first component', () => {
  assert.equal(repoOwner(parseRepoName('acme/a/b')), 'acme');
});

test('tags follow [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}', () => {
  for (const ok of ['latest', 'v1.0.0', '_x', 'A-b_c.d', 'a'.repeat(128)]) assert.equal(parseTag(ok), ok);
  for (const bad of ['', '.x', '-x', 'a'.repeat(129), 'a/b', 'a b']) assert.throws(() => parseTag(bad), bad);
});

test('references are digests when they contain a colon', () => {
  const digest = `sha256:${'c'.repeat(64)}`;
  for (const use of ['read', 'push'] as const) {
    assert.deepEqual(parseReference('v1', use), { kind: 'tag', tag: 'v1' });
    assert.deepEqual(parseReference(digest, use), { kind: 'digest', digest });
    assert.throws(() => parseReference('sha256:nothex', use), (err) => isBerthError(err) && err.code === 'DIGEST_INVALID');
  }
});

test('a reference that is neither tag nor digest is unknown to read, invalid to push', () => {
  for (const bad of ['-bad', '.INVALID_MANIFEST_NAME', 'a'.repeat(129)]) {
    assert.throws(() => parseReference(bad, 'read'), (err) => isBerthError(err) && err.status === 404 && err.code === 'MANIFEST_UNKNOWN');
    assert.throws(() => parseReference(bad, 'push'), (err) => isBerthError(err) && err.status === 400 && err.code === 'MANIFEST_INVALID');
  }
});
