/**
 * Semver ranges for `keep_tags` (`semver:>=1.0 <2`, `semver:^1.4`, `semver:~2.1 || >=3`), npm's grammar without
 * its prerelease special case: comparators `<`, `<=`, `>`, `>=`, `=`, caret `^`, tilde `~` and x-ranges (`1.x`,
 * `1.2.*`), joined by spaces (all must hold) and `||` (any set). A tag is a version when it reads `1`, `1.2`,
 * `1.2.3` with an optional `v` and `-prerelease` (missing parts are 0); other tags never match a range.
 */
export type SemverRange = readonly (readonly Comparator[])[];
type Version = readonly [number, number, number, string | null];
interface Comparator { readonly op: '<' | '<=' | '>' | '>=' | '='; readonly version: Version }

const VERSION = /^v?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;
const PARTIAL = /^v?(\d{1,9}|[xX*])(?:\.(\d{1,9}|[xX*]))?(?:\.(\d{1,9}|[xX*]))?(?:-([0-9A-Za-z.-]+))?$/;

export function parseVersion(tag: string): Version | null {
  const m = VERSION.exec(tag);
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0), m[4] ?? null] : null;
}

/** Throws an Error with a message for people on a range that is not one. */
export function parseSemverRange(text: string): SemverRange {
  const sets = text.split('||').map((set) => set.trim().replace(/([<>=^~]+)\s+/g, '$1').split(/\s+/).filter((s) => s !== ''));
  if (sets.some((s) => s.length === 0)) throw new Error(`"${text}" is not a semver range (an empty alternative)`);
  return sets.map((set) => set.flatMap((c) => comparators(c, text)));
}

export function satisfies(version: Version, range: SemverRange): boolean {
  return range.some((set) => set.every((c) => {
    const d = compare(version, c.version);
    return c.op === '<' ? d < 0 : c.op === '<=' ? d <= 0 : c.op === '>' ? d > 0 : c.op === '>=' ? d >= 0 : d === 0;
  }));
}

function comparators(text: string, whole: string): Comparator[] {
  const m = /^(<=|>=|<|>|=|\^|~)?(.*)$/.exec(text)!;
  const op = m[1] ?? '';
  const p = PARTIAL.exec(m[2]!);
  if (!p) throw new Error(`"${whole}" is not a semver range ("${text}" is no version)`);
  const parts = [p[1], p[2], p[3]].map((x) => (x === undefined || /^[xX*]$/.test(x) ? null : Number(x)));
  const pre = p[4] ?? null;
  const known = parts.findIndex((x) => x === null);
  const n = known === -1 ? 3 : known; // how many leading parts are given
  const [a = 0, b = 0, c = 0] = parts.map((x) => x ?? 0);
  const v = (x: number, y: number, z: number, r: string | null = null): Version => [x, y, z, r];
  const bump = (k: number): Version => (k === 0 ? v(a + 1, 0, 0, '0') : k === 1 ? v(a, b + 1, 0, '0') : v(a, b, c + 1, '0'));
  if (n === 0) return op === '<' || op === '>' ? [{ op: '<', version: v(0, 0, 0, '0') }] : [];
  switch (op) {
    case '':
    case '=':
      return n === 3 ? [{ op: '=', version: v(a, b, c, pre) }] : [{ op: '>=', version: v(a, b, c) }, { op: '<', version: bump(n - 1) }];
    case '^': {
      const k = a > 0 || n === 1 ? 0 : b > 0 || n === 2 ? 1 : 2;
      return [{ op: '>=', version: v(a, b, c, pre) }, { op: '<', version: bump(k) }];
    }
    case '~':
      return [{ op: '>=', version: v(a, b, c, pre) }, { op: '<', version: bump(n === 1 ? 0 : 1) }];
    case '>':
      return [{ op: n === 3 ? '>' : '>=', version: n === 3 ? v(a, b, c, pre) : bump(n - 1) }];
    case '<=':
      return [{ op: n === 3 ? '<=' : '<', version: n === 3 ? v(a, b, c, pre) : bump(n - 1) }];
    default:
      return [{ op: op as '<' | '>=', version: v(a, b, c, n === 3 ? pre : op === '<' ? '0' : null) }];
  }
}

function compare(x: Version, y: Version): number {
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  const [p, q] = [x[3], y[3]];
  if (p === q) return 0;
  if (p === null) return 1;
  if (q === null) return -1;
  // semver §11: dot-separated identifiers, numeric ones numerically and below alphanumeric ones.
  const ps = p.split('.');
  const qs = q.split('.');
  for (let i = 0; i < Math.max(ps.length, qs.length); i++) {
    const s = ps[i];
    const t = qs[i];
    if (s === undefined) return -1;
    if (t === undefined) return 1;
    if (s === t) continue;
    const sn = /^\d+$/.test(s);
    const tn = /^\d+$/.test(t);
    if (sn && tn) return Number(s) - Number(t);
    if (sn !== tn) return sn ? -1 : 1;
    return s < t ? -1 : 1;
  }
  return 0;
}
