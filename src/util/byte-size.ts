/** Binary units, as quotas and config sizes are spelt (`10GiB`; `10G` and `10GB` mean the same). */
const UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
};

/** `10GiB`, `1.5 GiB`, `500MiB`, `1048576` → bytes; NaN when the text is no size. */
export function parseByteSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = UNITS[m?.[2]?.toLowerCase() ?? 'x'];
  if (!m || unit === undefined) return NaN;
  const n = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : NaN;
}

/** Bytes as the messages and the CLI print them: `1.2 GiB`, `512 MiB`, `0 B` (binary units, as parsed above). */
export function formatByteSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? Number(value.toFixed(1)) : Math.round(value)} ${units[unit]}`;
}
