const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `30s`, `10m`, `24h`, `30d` (or a bare number of seconds) into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration (use e.g. 30s, 10m, 24h, 7d)`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 's']!);
}

/** The shortest exact spelling of a duration in `parseDuration`'s units: 86_400_000 → `1d`, 5_400_000 → `90m`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of Object.entries(UNITS).reverse()) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
