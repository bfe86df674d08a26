import { formatDuration, parseDuration } from '../util/duration.js';
import { invalid } from '../util/errors.js';
import { parseSemverRange, parseVersion, satisfies, type SemverRange } from './semver-range.js';
import { globMatches, parseTagGlob, type TagGlob } from './tag-pattern.js';

/**
 * Retention rules of one scope, as stored and as the REST API, the CLI and the settings pages take them. Every
 * field is optional; durations are `30d`, `12h`, … (util/duration).
 *
 * ```json
 * { "keep_most_recent": 10, "keep_tags": ["latest", "/^release-[0-9]+$/", "semver:>=1.0 <2"],
 *   "keep_pulled_within": "30d", "delete_untagged_after": "7d", "delete_not_pulled_for": "180d" }
 * ```
 */
export interface RetentionPolicy {
  readonly keep_most_recent?: number | null;
  readonly keep_tags?: readonly string[] | null;
  readonly keep_pulled_within?: string | null;
  readonly delete_untagged_after?: string | null;
  readonly delete_not_pulled_for?: string | null;
}

const FIELDS = ['keep_most_recent', 'keep_tags', 'keep_pulled_within', 'delete_untagged_after', 'delete_not_pulled_for'] as const;
const DURATIONS = ['keep_pulled_within', 'delete_untagged_after', 'delete_not_pulled_for'] as const;
const MAX_KEEP_TAGS = 50;

/** Validates a policy document; 422 naming the field otherwise. Durations come back in their shortest spelling. */
export function parseRetentionPolicy(value: unknown): RetentionPolicy {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`retention must be an object with some of ${FIELDS.join(', ')}`);
  const doc = value as Record<string, unknown>;
  const unknownKey = Object.keys(doc).find((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknownKey) throw invalid(`retention: unknown field "${unknownKey.slice(0, 40)}" (expected ${FIELDS.join(', ')})`);
  const out: Record<string, unknown> = {};
  if (doc.keep_most_recent !== undefined) {
    const n = doc.keep_most_recent;
    if (n !== null && (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 1_000_000)) {
      throw invalid('retention.keep_most_recent must be a whole number from 0 to 1000000, or null');
    }
    out.keep_most_recent = n;
  }
  if (doc.keep_tags !== undefined) {
    const list = doc.keep_tags;
    if (list !== null && (!Array.isArray(list) || list.length > MAX_KEEP_TAGS)) throw invalid(`retention.keep_tags must be a list of at most ${MAX_KEEP_TAGS} patterns, or null`);
    if (list !== null) list.forEach((p, i) => compileTagMatcher(p, `retention.keep_tags[${i}]`));
    out.keep_tags = list;
  }
  for (const field of DURATIONS) {
    const v = doc[field];
    if (v === undefined) continue;
    if (v === null) { out[field] = null; continue; }
    let ms: number;
    try {
      if (typeof v !== 'string') throw new Error('not a string');
      ms = parseDuration(v);
    } catch {
      throw invalid(`retention.${field}: ${JSON.stringify(v).slice(0, 40)} is not a duration (use e.g. 12h, 30d)`);
    }
    if (ms < 60_000) throw invalid(`retention.${field} must be at least 1m`);
    out[field] = formatDuration(ms);
  }
  return out as RetentionPolicy;
}

/** The rules in force for a package: its own fields where it sets them, the namespace's otherwise; keep_tags of both. */
export interface EffectiveRetention {
  readonly keepMostRecent: number | null;
  readonly keepTags: readonly TagMatcher[];
  readonly keepPulledWithinMs: number | null;
  readonly deleteUntaggedAfterMs: number | null;
  readonly deleteNotPulledForMs: number | null;
}

export function effectiveRetention(org: RetentionPolicy | null, pkg: RetentionPolicy | null): EffectiveRetention | null {
  if (!org && !pkg) return null;
  const pick = <K extends keyof RetentionPolicy>(k: K): RetentionPolicy[K] | null => (pkg && pkg[k] !== undefined ? pkg[k] : org?.[k]) ?? null;
  const ms = (k: typeof DURATIONS[number]): number | null => {
    const v = pick(k);
    return v ? parseDuration(v) : null;
  };
  const tags = [...new Set([...(org?.keep_tags ?? []), ...(pkg?.keep_tags ?? [])])];
  return {
    keepMostRecent: pick('keep_most_recent') ?? null,
    keepTags: tags.map((t) => compileTagMatcher(t, 'keep_tags')),
    keepPulledWithinMs: ms('keep_pulled_within'),
    deleteUntaggedAfterMs: ms('delete_untagged_after'),
    deleteNotPulledForMs: ms('delete_not_pulled_for'),
  };
}

/** A `keep_tags` entry: a tag glob (`v*`), a regular expression (`/^rel-\d+$/`) or a semver range (`semver:>=1 <2`). */
export interface TagMatcher {
  readonly source: string;
  matches(tag: string): boolean;
}

export function compileTagMatcher(value: unknown, field: string): TagMatcher {
  if (typeof value !== 'string') throw invalid(`${field} must be a string`);
  if (value.startsWith('semver:')) {
    let range: SemverRange;
    try {
      range = parseSemverRange(value.slice('semver:'.length));
    } catch (err) {
      throw invalid(`${field}: ${(err as Error).message}`);
    }
    return { source: value, matches: (tag) => { const v = parseVersion(tag); return v !== null && satisfies(v, range); } };
  }
  if (value.length > 2 && value.startsWith('/') && value.endsWith('/')) {
    const body = value.slice(1, -1);
    // Tags are at most 128 characters, but a nested quantifier can still backtrack for seconds: refused outright.
    if (body.length > 200 || /\([^)]*[*+}][^)]*\)\s*[*+{]/.test(body)) throw invalid(`${field}: the regular expression is too long or has a nested repetition such as (a+)+`);
    let re: RegExp;
    try {
      re = new RegExp(body);
    } catch {
      throw invalid(`${field}: ${value.slice(0, 60)} is not a valid regular expression`);
    }
    return { source: value, matches: (tag) => re.test(tag) };
  }
  const glob: TagGlob = parseTagGlob(value, field);
  return { source: value, matches: (tag) => globMatches(glob, tag) };
}
