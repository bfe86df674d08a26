import { COUNT_LIMIT } from '../../packages/listing-count.js';
import { html, type Html } from './html.js';

/** Display helpers shared by the pages: sizes, dates, short digests. */

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `2026-05-01 14:03 UTC` */
export function formatDate(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A `<time>` element: absolute time in the attribute and tooltip, relative in the text ("3 days ago"). */
export function timeAgo(ms: number | null, now: number): Html {
  if (ms === null) return html`<span class="muted">never</span>`;
  return html`<time datetime="${new Date(ms).toISOString()}" title="${formatDate(ms)}">${relative(now - ms)}</time>`;
}

function relative(diff: number): string {
  const future = diff < 0;
  const s = Math.abs(diff) / 1000;
  const [n, unit] = s < 60 ? [0, 'now'] : s < 3600 ? [Math.floor(s / 60), 'minute'] : s < 86_400 ? [Math.floor(s / 3600), 'hour']
    : s < 30 * 86_400 ? [Math.floor(s / 86_400), 'day'] : s < 365 * 86_400 ? [Math.floor(s / (30 * 86_400)), 'month'] : [Math.floor(s / (365 * 86_400)), 'year'];
  if (unit === 'now') return 'just now';
  const text = `${n} ${unit}${n === 1 ? '' : 's'}`;
  return future ? `in ${text}` : `${text} ago`;
}

/** `sha256:0123456789ab` (12 hex digits, as docker shows image ids). */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  return colon < 0 ? digest.slice(0, 12) : `${digest.slice(0, colon + 1)}${digest.slice(colon + 1, colon + 13)}`;
}

/** "1 version", "3 versions" */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${formatCount(n)} ${n === 1 ? word : many}`;
}

/** A listing's total as the services count it (packages/listing-count.ts): above COUNT_LIMIT, "More than 10,000 …". */
export function listingTotal(n: number, word: string, many = `${word}s`): string {
  return n > COUNT_LIMIT ? `More than ${formatCount(COUNT_LIMIT)} ${many}` : plural(n, word, many);
}
