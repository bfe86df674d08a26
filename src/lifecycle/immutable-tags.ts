import { invalid } from '../util/errors.js';
import { globMatches, parseTagGlob, type TagGlob } from './tag-pattern.js';

/**
 * Immutable-tag rules of one scope (an organization's, a user's, or one package's): a tag matching one of
 * `patterns` and none of `exclude` can, once pushed, neither move to another digest nor be deleted, nor can the
 * version it points at. Pushing the same digest under it again is allowed (a CI retry).
 */
export interface ImmutableTagRules {
  readonly patterns: readonly TagGlob[];
  readonly exclude: readonly TagGlob[];
}

export const NO_IMMUTABLE_TAGS: ImmutableTagRules = { patterns: [], exclude: [] };
const MAX_PATTERNS = 50;

/** Validates a rules document (REST body, CLI, form); 422 naming the field otherwise. */
export function parseImmutableTagRules(value: unknown): ImmutableTagRules {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('immutable_tags must be an object with "patterns" and "exclude"');
  const doc = value as Record<string, unknown>;
  const unknownKey = Object.keys(doc).find((k) => k !== 'patterns' && k !== 'exclude');
  if (unknownKey) throw invalid(`immutable_tags: unknown field "${unknownKey.slice(0, 40)}" (expected patterns, exclude)`);
  const list = (field: 'patterns' | 'exclude'): TagGlob[] => {
    const v = doc[field] ?? [];
    if (!Array.isArray(v) || v.length > MAX_PATTERNS) throw invalid(`immutable_tags.${field} must be a list of at most ${MAX_PATTERNS} tag patterns`);
    return [...new Set(v.map((p, i) => parseTagGlob(p, `immutable_tags.${field}[${i}]`)))];
  };
  return { patterns: list('patterns'), exclude: list('exclude') };
}

/**
 * The rules in force for a package: its organization's and its own together. A tag is immutable when it matches a
 * pattern of either and an exclusion of neither.
 */
export function combineImmutableTagRules(sets: readonly ImmutableTagRules[]): ImmutableTagRules {
  return {
    patterns: [...new Set(sets.flatMap((s) => s.patterns))],
    exclude: [...new Set(sets.flatMap((s) => s.exclude))],
  };
}

/** The pattern that makes `tag` immutable, or null when it is not (no pattern matches, or an exclusion does). */
export function immutableRuleFor(rules: ImmutableTagRules, tag: string): TagGlob | null {
  const rule = rules.patterns.find((p) => globMatches(p, tag));
  if (!rule) return null;
  return rules.exclude.some((p) => globMatches(p, tag)) ? null : rule;
}
