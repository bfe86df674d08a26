import { invalid } from '../util/errors.js';

/**
 * Tag globs as lifecycle rules write them: `*` any run of characters (also none), `?` exactly one, everything else
 * itself. A tag (OCI grammar `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`) matches when the whole tag matches, case-sensitively.
 * `v*` matches `v1.2.0` and `v`, `main-*` matches `main-3f2a`, `latest` only `latest`.
 */
export type TagGlob = string & { readonly __brand: 'TagGlob' };

const GLOB = /^[A-Za-z0-9_.*?-]{1,128}$/;

export function parseTagGlob(value: unknown, field: string): TagGlob {
  if (typeof value !== 'string' || !GLOB.test(value)) {
    throw invalid(`${field}: "${String(value).slice(0, 60)}" is not a tag pattern: use tag characters (A-Z a-z 0-9 _ . -) with * and ?, at most 128`);
  }
  return value as TagGlob;
}

const compiled = new Map<string, RegExp>();

export function globMatches(glob: TagGlob, tag: string): boolean {
  let re = compiled.get(glob);
  if (!re) {
    re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(glob, re);
  }
  return re.test(tag);
}
