import { formatDuration } from '../util/duration.js';
import { immutableRuleFor, type ImmutableTagRules } from './immutable-tags.js';
import type { EffectiveRetention } from './retention-policy.js';

/** One active version (manifest) of a package, as the planner needs it. */
export interface Candidate {
  readonly id: number;
  readonly digest: string;
  readonly mediaType: string;
  readonly createdAt: number;
  readonly tags: readonly string[];
  /** Digests of the manifests an index lists. */
  readonly children: readonly string[];
  /** The manifest's `subject` (OCI 1.1 referrers), when it has one. */
  readonly subject: string | null;
  /** Start of the last day (UTC) it was pulled, or null when never. */
  readonly lastPulledAt: number | null;
}

/** Which rule decided, in the order they are tried (README "Retention"). */
export type RetentionRule =
  | 'immutable_tags' | 'keep_tags' | 'keep_pulled_within' | 'keep_most_recent'
  | 'delete_untagged_after' | 'delete_not_pulled_for' | 'no_rule' | 'last_image' | 'part_of_image';

export interface VersionDecision {
  readonly id: number;
  readonly digest: string;
  readonly mediaType: string;
  readonly tags: readonly string[];
  readonly decision: 'keep' | 'delete';
  readonly rule: RetentionRule;
  /** Why, for people: `tag v1.2 matches v*`, `untagged, pushed 9d ago`, `platform manifest of sha256:…`. */
  readonly reason: string;
  /** The digest of the image (top-level manifest) this version belongs to: itself for a top-level one. */
  readonly image: string;
}

const DAY = 86_400_000;
/** cosign's tag scheme for signatures, attestations and SBOMs of `sha256:<hex>`. */
const COSIGN_TAG = /^sha256-([0-9a-f]{64})\.(sig|att|sbom)$/;

/**
 * Decides, for every active version of one package, keep or delete, and which rule decided. An image is one
 * unit: a top-level manifest (not listed by an index, or tagged itself) with the manifests its index lists and the
 * referrers (through `subject`, or cosign-style `sha256-<hex>.sig|.att|.sbom` tags) of any of those, transitively.
 * Rules decide about units; a version listed by a kept image is kept whatever else lists it, so nothing kept is
 * left pointing at a deleted version. Pure: the same input gives the same plan (dry runs and real runs agree).
 */
export function planRetention(candidates: readonly Candidate[], rules: EffectiveRetention, immutable: ImmutableTagRules, now: number): VersionDecision[] {
  const byDigest = new Map(candidates.map((c) => [c.digest, c]));
  const hasParent = new Set<string>();
  for (const c of candidates) for (const d of c.children) if (byDigest.has(d) && d !== c.digest) hasParent.add(d);
  const followed = (c: Candidate): string | null => {
    if (c.subject && byDigest.has(c.subject) && c.subject !== c.digest) return c.subject;
    for (const t of c.tags) {
      const m = COSIGN_TAG.exec(t);
      if (m && byDigest.has(`sha256:${m[1]}`) && `sha256:${m[1]}` !== c.digest) return `sha256:${m[1]}`;
    }
    return null;
  };
  const referrers = new Map<string, Candidate[]>();
  const follows = new Map<Candidate, string | null>();
  for (const c of candidates) {
    const s = followed(c);
    follows.set(c, s);
    if (s) {
      const list = referrers.get(s);
      if (list) list.push(c);
      else referrers.set(s, [c]);
    }
  }
  const roots = candidates.filter((c) => follows.get(c) === null && (!hasParent.has(c.digest) || c.tags.length > 0))
    .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);

  /** The unit of a root: it, what its index lists, and referrers of any of those, transitively (computed once). */
  const units = new Map<Candidate, Candidate[]>();
  const members = (root: Candidate): Candidate[] => {
    const known = units.get(root);
    if (known) return known;
    const seen = new Set<Candidate>([root]);
    const queue = [root];
    for (let next = queue.pop(); next; next = queue.pop()) {
      for (const d of next.children) {
        const m = byDigest.get(d);
        if (m && !seen.has(m)) { seen.add(m); queue.push(m); }
      }
      for (const m of referrers.get(next.digest) ?? []) if (!seen.has(m)) { seen.add(m); queue.push(m); }
    }
    const unit = [...seen];
    units.set(root, unit);
    return unit;
  };

  const rootDecisions = new Map<string, { keep: boolean; rule: RetentionRule; reason: string }>();
  const spelled = {
    keepPulledWithin: rules.keepPulledWithinMs === null ? '' : formatDuration(rules.keepPulledWithinMs),
    deleteUntaggedAfter: rules.deleteUntaggedAfterMs === null ? '' : formatDuration(rules.deleteUntaggedAfterMs),
    deleteNotPulledFor: rules.deleteNotPulledForMs === null ? '' : formatDuration(rules.deleteNotPulledForMs),
  };
  roots.forEach((root, rank) => rootDecisions.set(root.digest, decide(root, rank, members(root), rules, spelled, immutable, now)));
  const newest = roots[0];
  if (newest && roots.every((r) => !rootDecisions.get(r.digest)!.keep)) {
    rootDecisions.set(newest.digest, { keep: true, rule: 'last_image', reason: 'the newest image stays: a package keeps at least one version' });
  }

  // Kept units first, so a version shared by a kept and a deleted image is kept, and attributed to the kept one.
  const out = new Map<string, VersionDecision>();
  for (const keep of [true, false]) {
    for (const root of roots) {
      const d = rootDecisions.get(root.digest)!;
      if (d.keep !== keep) continue;
      for (const m of members(root)) {
        if (out.has(m.digest)) continue;
        const own = m === root;
        out.set(m.digest, {
          id: m.id, digest: m.digest, mediaType: m.mediaType, tags: m.tags, decision: keep ? 'keep' : 'delete',
          rule: own ? d.rule : 'part_of_image', reason: own ? d.reason : `${keep ? 'kept' : 'deleted'} with image ${root.digest}`, image: root.digest,
        });
      }
    }
  }
  return candidates.map((c) => out.get(c.digest) ?? {
    // Unreachable from any top-level manifest cannot happen (content addressing has no cycles); kept if it did.
    id: c.id, digest: c.digest, mediaType: c.mediaType, tags: c.tags, decision: 'keep', rule: 'no_rule', reason: 'not part of any image', image: c.digest,
  });
}

function decide(root: Candidate, rank: number, unit: readonly Candidate[], rules: EffectiveRetention, spelled: Record<'keepPulledWithin' | 'deleteUntaggedAfter' | 'deleteNotPulledFor', string>, immutable: ImmutableTagRules, now: number):
  { keep: boolean; rule: RetentionRule; reason: string } {
  // Any member's tag counts: a signature tagged `sha256-….sig` under a `sha256-*` rule protects its image too.
  for (const m of unit) {
    for (const tag of m.tags) {
      const rule = immutableRuleFor(immutable, tag);
      if (rule) return { keep: true, rule: 'immutable_tags', reason: `tag ${tag} is immutable (rule ${rule})` };
    }
  }
  for (const tag of root.tags) {
    const m = rules.keepTags.find((k) => k.matches(tag));
    if (m) return { keep: true, rule: 'keep_tags', reason: `tag ${tag} matches ${m.source}` };
  }
  // A pull of the index or of any of its platform manifests counts for the image; a pull of a signature does not.
  let pulled: number | null = null;
  for (const m of unit) {
    if (m.lastPulledAt !== null && (m === root || root.children.includes(m.digest)) && (pulled === null || m.lastPulledAt > pulled)) pulled = m.lastPulledAt;
  }
  if (rules.keepPulledWithinMs !== null && pulled !== null && pulled >= now - rules.keepPulledWithinMs - DAY) {
    // Pulls are counted per UTC day: a pull on the day the window starts counts.
    return { keep: true, rule: 'keep_pulled_within', reason: `pulled within ${spelled.keepPulledWithin} (last on ${day(pulled)})` };
  }
  if (rules.keepMostRecent !== null && rank < rules.keepMostRecent) {
    return { keep: true, rule: 'keep_most_recent', reason: `#${rank + 1} of the ${rules.keepMostRecent} most recently pushed images` };
  }
  if (rules.deleteUntaggedAfterMs !== null && root.tags.length === 0 && root.createdAt < now - rules.deleteUntaggedAfterMs) {
    return { keep: false, rule: 'delete_untagged_after', reason: `untagged, pushed ${ago(now - root.createdAt)} ago (more than ${spelled.deleteUntaggedAfter})` };
  }
  if (rules.deleteNotPulledForMs !== null) {
    const since = pulled === null ? root.createdAt : pulled + DAY;
    if (since < now - rules.deleteNotPulledForMs) {
      return {
        keep: false, rule: 'delete_not_pulled_for',
        reason: `${pulled === null ? `never pulled, pushed ${ago(now - root.createdAt)} ago` : `last pulled on ${day(pulled)}`} (more than ${spelled.deleteNotPulledFor})`,
      };
    }
  }
  return { keep: true, rule: 'no_rule', reason: 'no rule deletes it' };
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function ago(ms: number): string {
  return ms >= DAY ? `${Math.floor(ms / DAY)}d` : `${Math.max(1, Math.floor(ms / 3_600_000))}h`;
}
