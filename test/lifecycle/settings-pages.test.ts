// The Lifecycle section of the organization and package settings pages: immutable tags saved by an owner, the
// retention preview (every version with its decision) before saving, form errors, and package admins who are not
// organization owners turned away.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { pushImage, useAuthorization, type PushedImage } from '../helpers/http.js';
import { csrfOf, Visitor } from '../helpers/visitor.js';

let berth: RunningBerth;
let owner: Visitor;
let old: PushedImage;
let fresh: PushedImage;
const SETTINGS = '/orgs/acme/packages/container/site/settings';

async function rest(path: string): Promise<Record<string, unknown>> {
  return (await (await berth.fetch(`/api/v3${path}`)).json()) as Record<string, unknown>;
}

before(async () => {
  berth = await startBerth({ env: { BERTH_RETENTION_INTERVAL: '0' } });
  useAuthorization(berth.authorization);
  old = await pushImage(berth.url, 'acme/site', 'old');
  fresh = await pushImage(berth.url, 'acme/site', 'fresh', 'latest');
  await berth.query('UPDATE manifests SET created_at = created_at - ? WHERE digest = ?', 30 * 86_400_000, old.digest);
  await berth.admin(async (s) => {
    const bob = await s.accounts.createUser({ login: 'bob', password: 'bob-password-1234' });
    await s.accounts.addMember('acme', 'bob', 'member');
    await s.packages.grant('acme/site', { type: 'user', id: bob.id }, 'admin');
  });
  owner = new Visitor(berth);
  await owner.signIn();
});

after(async () => {
  useAuthorization(null);
  await berth?.stop();
});

test('an organization owner saves immutable-tag rules from the organization settings page', async () => {
  const page = await owner.get('/orgs/acme/settings');
  assert.equal(page.status, 200);
  assert.match(page.text, /<h2 id="lifecycle">Lifecycle<\/h2>/);
  const saved = await owner.post('/orgs/acme/settings/lifecycle/immutable', { _csrf: csrfOf(page.text), patterns: 'v*, release-*', exclude: 'latest' });
  assert.equal(saved.status, 303, saved.text);
  assert.deepEqual(await rest('/berth/orgs/acme/immutable-tags'), { immutable_tags: { patterns: ['v*', 'release-*'], exclude: ['latest'] } });
  const bad = await owner.post('/orgs/acme/settings/lifecycle/immutable', { _csrf: csrfOf(page.text), patterns: 'v/1', exclude: '' });
  assert.equal(bad.status, 422);
  assert.match(bad.text, /not a tag pattern/);
});

test('retention rules are previewed (every version, its decision and rule) before they are saved', async () => {
  const page = await owner.get(SETTINGS);
  assert.equal(page.status, 200);
  assert.match(page.text, /id="retention-delete_untagged_after"/);
  const preview = await owner.post(`${SETTINGS}/lifecycle/retention`, { _csrf: csrfOf(page.text), intent: 'preview', delete_untagged_after: '7d', keep_tags: 'latest' });
  assert.equal(preview.status, 200, preview.text.slice(0, 300));
  assert.match(preview.text, new RegExp(`data-digest="${old.digest}" data-decision="delete"`));
  assert.match(preview.text, new RegExp(`data-digest="${fresh.digest}" data-decision="keep"`));
  assert.match(preview.text, /<code>delete_untagged_after<\/code>/);
  assert.match(preview.text, /tag latest matches latest/);
  assert.deepEqual((await rest('/berth/packages/acme/site/retention')).retention, {}, 'a preview saves nothing');
  assert.equal((await berth.fetch(`/v2/acme/site/manifests/${old.digest}`, { method: 'HEAD' })).status, 200, 'and deletes nothing');

  const save = await owner.post(`${SETTINGS}/lifecycle/retention`, { _csrf: csrfOf(preview.text), intent: 'save', delete_untagged_after: '7d', keep_tags: 'latest' });
  assert.equal(save.status, 303, save.text);
  assert.deepEqual((await rest('/berth/packages/acme/site/retention')).retention, { keep_tags: ['latest'], delete_untagged_after: '7d' });
  const bad = await owner.post(`${SETTINGS}/lifecycle/retention`, { _csrf: csrfOf(page.text), intent: 'preview', delete_untagged_after: 'soon' });
  assert.equal(bad.status, 422);
  assert.match(bad.text, /delete_untagged_after: &quot;soon&quot; is not a duration|delete_untagged_after: "soon" is not a duration/);
});

test('a package admin who is no organization owner sees the rules are the owners\' and cannot change them', async () => {
  const bob = new Visitor(berth);
  await bob.signIn('bob', 'bob-password-1234');
  const page = await bob.get(SETTINGS);
  assert.equal(page.status, 200);
  assert.match(page.text, /set by the owners of acme/);
  assert.doesNotMatch(page.text, /id="retention-delete_untagged_after"/);
  const refused = await bob.post(`${SETTINGS}/lifecycle/retention`, { _csrf: csrfOf(page.text), intent: 'save', keep_most_recent: '0' });
  assert.equal(refused.status, 403);
  const immutable = await bob.post(`${SETTINGS}/lifecycle/immutable`, { _csrf: csrfOf(page.text), patterns: '', exclude: '' });
  assert.equal(immutable.status, 403);
  assert.deepEqual((await rest('/berth/packages/acme/site/retention')).retention, { keep_tags: ['latest'], delete_untagged_after: '7d' });
});
