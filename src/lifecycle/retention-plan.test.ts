import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_IMMUTABLE_TAGS, parseImmutableTagRules } from './immutable-tags.js';
import { effectiveRetention, parseRetentionPolicy } from './retention-policy.js';
import { planRetention, type Candidate } from './retention-plan.js';

const DAY = 86_400_000;
const NOW = 1_000 * DAY;
const hex = (n: number): string => n.toString(16).padStart(64, '0');
let next = 1;
/** A version pushed `age` days ago. */
function v(age: number, extra: Partial<Candidate> = {}): Candidate {
  const id = next++;
  return { id, digest: `sha256:${hex(id)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', createdAt: NOW - age * DAY, tags: [], children: [], subject: null, lastPulledAt: null, ...extra };
}
function plan(candidates: Candidate[], policy: unknown, immutable = NO_IMMUTABLE_TAGS) {
  const decisions = planRetention(candidates, effectiveRetention(parseRetentionPolicy(policy), null)!, immutable, NOW);
  return Object.fromEntries(decisions.map((d) => [d.id, `${d.decision} ${d.rule}`]));
}

test('keep the N most recent, delete older untagged ones', () => {
  const vs = [v(1), v(2), v(3), v(4, { tags: ['old'] })];
  assert.deepEqual(plan(vs, { keep_most_recent: 2, delete_untagged_after: '1d' }), {
    [vs[0]!.id]: 'keep keep_most_recent', [vs[1]!.id]: 'keep keep_most_recent', [vs[2]!.id]: 'delete delete_untagged_after', [vs[3]!.id]: 'keep no_rule',
  });
});

test('an index is one unit with its platform manifests; a manifest a kept index lists stays', () => {
  const shared = v(30);
  const a = v(30);
  const b = v(30);
  const oldIndex = v(30, { children: [shared.digest, a.digest] });
  const newIndex = v(1, { children: [shared.digest, b.digest], tags: ['latest'] });
  assert.deepEqual(plan([shared, a, b, oldIndex, newIndex], { delete_untagged_after: '7d' }), {
    [oldIndex.id]: 'delete delete_untagged_after', [a.id]: 'delete part_of_image',
    [newIndex.id]: 'keep no_rule', [b.id]: 'keep part_of_image', [shared.id]: 'keep part_of_image',
  });
});

test('referrers (subject, cosign tags) and an attestation manifest follow their image both ways', () => {
  const img = v(40);
  const att = v(40, { mediaType: 'application/vnd.oci.image.manifest.v1+json' }); // buildx unknown/unknown entry
  const index = v(40, { children: [img.digest, att.digest] });
  const sbom = v(39, { subject: index.digest });
  const sig = v(39, { tags: [`sha256-${index.digest.slice(7)}.sig`] });
  const kept = v(2, { tags: ['v1.0.0'] });
  const keptSig = v(2, { tags: [`sha256-${kept.digest.slice(7)}.sig`] });
  const keptRef = v(2, { subject: kept.digest });
  const r = plan([img, att, index, sbom, sig, kept, keptSig, keptRef], { delete_untagged_after: '7d', keep_tags: ['semver:>=1.0 <2'] });
  assert.deepEqual(r, {
    [index.id]: 'delete delete_untagged_after', [img.id]: 'delete part_of_image', [att.id]: 'delete part_of_image',
    [sbom.id]: 'delete part_of_image', [sig.id]: 'delete part_of_image',
    [kept.id]: 'keep keep_tags', [keptSig.id]: 'keep part_of_image', [keptRef.id]: 'keep part_of_image',
  });
});

test('precedence: immutable, keep_tags, keep_pulled_within, keep_most_recent, then the delete rules', () => {
  const immutable = v(1, { tags: ['v9'] });
  const tagged = v(100, { tags: ['release-7'] });
  const pulled = v(100, { lastPulledAt: NOW - 3 * DAY });
  const recent = v(100);
  const stale = v(101, { tags: ['x'], lastPulledAt: NOW - 60 * DAY });
  const never = v(102, { tags: ['y'] });
  const r = plan([immutable, tagged, pulled, recent, stale, never], {
    keep_tags: ['/^release-[0-9]+$/'], keep_pulled_within: '7d', keep_most_recent: 1, delete_untagged_after: '1d', delete_not_pulled_for: '30d',
  }, parseImmutableTagRules({ patterns: ['v*'] }));
  assert.deepEqual(r, {
    [immutable.id]: 'keep immutable_tags', [tagged.id]: 'keep keep_tags', [pulled.id]: 'keep keep_pulled_within',
    [recent.id]: 'delete delete_untagged_after', [stale.id]: 'delete delete_not_pulled_for', [never.id]: 'delete delete_not_pulled_for',
  });
});

test('an immutable tag on a signature keeps the image it signs', () => {
  const img = v(40);
  const sig = v(40, { tags: [`sha256-${img.digest.slice(7)}.sig`] });
  const other = v(1, { tags: ['latest'] });
  assert.deepEqual(plan([img, sig, other], { delete_untagged_after: '7d' }, parseImmutableTagRules({ patterns: ['sha256-*'] })), {
    [img.id]: 'keep immutable_tags', [sig.id]: 'keep part_of_image', [other.id]: 'keep no_rule',
  });
});

test('a pull of a platform manifest counts for its index; the newest image stays when every rule would delete', () => {
  const child = v(50, { lastPulledAt: NOW - 2 * DAY });
  const index = v(50, { children: [child.digest] });
  const old = v(60);
  assert.deepEqual(plan([child, index, old], { keep_pulled_within: '7d', delete_untagged_after: '1d' }), {
    [index.id]: 'keep keep_pulled_within', [child.id]: 'keep part_of_image', [old.id]: 'delete delete_untagged_after',
  });
  const only = [v(10), v(20)];
  assert.deepEqual(plan(only, { delete_untagged_after: '1d' }), { [only[0]!.id]: 'keep last_image', [only[1]!.id]: 'delete delete_untagged_after' });
});

test('package fields replace the namespace\'s, keep_tags add up; bad policies are refused', () => {
  const rules = effectiveRetention(parseRetentionPolicy({ keep_most_recent: 5, keep_tags: ['latest'], delete_untagged_after: '7d' }),
    parseRetentionPolicy({ keep_most_recent: 2, keep_tags: ['v*'], delete_untagged_after: null }))!;
  assert.equal(rules.keepMostRecent, 2);
  assert.equal(rules.deleteUntaggedAfterMs, null);
  assert.deepEqual(rules.keepTags.map((t) => t.source), ['latest', 'v*']);
  assert.throws(() => parseRetentionPolicy({ keep_most_recent: -1 }), /keep_most_recent/);
  assert.throws(() => parseRetentionPolicy({ delete_untagged_after: 'soon' }), /not a duration/);
  assert.throws(() => parseRetentionPolicy({ keep_tags: ['/(a+)+$/'] }), /nested repetition/);
  assert.throws(() => parseRetentionPolicy({ keep_tags: ['semver:>=banana'] }), /semver range/);
  assert.throws(() => parseRetentionPolicy({ keep: 1 }), /unknown field "keep"/);
  assert.deepEqual(parseRetentionPolicy({ delete_untagged_after: '168h' }), { delete_untagged_after: '7d' });
});
