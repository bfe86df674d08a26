import type { FastifyRequest } from 'fastify';
import type { Visibility } from '../../auth/permissions.js';
import { isArtifactTag } from '../../packages/package-summaries.js';
import { formatCount } from './format.js';
import { html, type Html } from './html.js';

/** Small pieces of markup several pages share. */

export function visibilityBadge(visibility: Visibility): Html {
  return html`<span class="badge badge-${visibility}">${visibility === 'public' ? 'Public' : visibility === 'internal' ? 'Internal' : 'Private'}</span>`;
}

/**
 * A tag name as a chip, the full name in the tooltip. An artifact tag (`sha256-<64 hex>.sig`, the referrers
 * fallback `sha256-<64 hex>`) is shortened here to `sha256-0123456789ab….sig`, so it neither widens nor stretches a
 * row; other long names are cut by CSS.
 */
export function tagChip(name: string): Html {
  if (isArtifactTag(name)) return html`<span class="tag tag-artifact" title="${name}">${name.slice(0, 19)}…${name.slice(71)}</span>`;
  return html`<span class="tag" title="${name}">${name}</span>`;
}

/** `linux/arm64/v8` */
export function platformLabel(p: { os: string; architecture: string; variant?: string }): Html {
  return html`<span class="platform">${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}</span>`;
}

/**
 * A command or value with a copy button. Without JavaScript the button stays hidden and the text is selectable;
 * berth.js reveals the button and copies `data-copy`.
 */
export function copyBox(text: string, label: string): Html {
  return html`<div class="copy-box"><code aria-label="${label}">${text}</code><button type="button" class="btn btn-small" data-copy="${text}" hidden>Copy</button></div>`;
}

/** A page number from `?page=`, 1 when absent or not a positive integer. */
export function pageParam(request: FastifyRequest): number {
  const value = new URL(request.url, 'http://x').searchParams.get('page');
  const n = value !== null && /^\d{1,6}$/.test(value) ? Number(value) : 1;
  return Math.max(1, n);
}

/**
 * Page links (first, previous, a window around the current page, next, last) keeping the request's other query
 * parameters. Nothing when everything fits on one page.
 */
export function pager(request: FastifyRequest, page: number, perPage: number, total: number): Html | null {
  const last = Math.max(1, Math.ceil(total / perPage));
  if (last <= 1) return null;
  const url = new URL(request.url, 'http://x');
  const href = (n: number) => {
    url.searchParams.set('page', String(n));
    return `${url.pathname}?${url.searchParams.toString()}`;
  };
  const shown = [...new Set([1, page - 2, page - 1, page, page + 1, page + 2, last])].filter((n) => n >= 1 && n <= last).sort((a, b) => a - b);
  const items: Html[] = [];
  if (page > 1) items.push(html`<li><a href="${href(page - 1)}" rel="prev">‹ Previous</a></li>`);
  let previous = 0;
  for (const n of shown) {
    if (n > previous + 1) items.push(html`<li><span class="gap" aria-hidden="true">…</span></li>`);
    items.push(n === page ? html`<li><span aria-current="page">${n}</span></li>` : html`<li><a href="${href(n)}">${n}</a></li>`);
    previous = n;
  }
  if (page < last) items.push(html`<li><a href="${href(page + 1)}" rel="next">Next ›</a></li>`);
  return html`<nav aria-label="Pagination"><ul class="pager">${items}</ul></nav>`;
}

/**
 * Downloads per day as an inline SVG bar chart, drawn on the server (no script): one bar per day of the last
 * `days` days, each with a `<title>` tooltip, and a text summary for screen readers. The SVG stretches to the
 * width of its column at a fixed height (`preserveAspectRatio="none"`: bars may widen, nothing else is drawn in
 * it), so the labels are HTML around it and stay readable at any width.
 */
export function downloadsChart(daily: readonly { day: number; count: number }[], today: number, days = 30): Html {
  const counts = new Map(daily.map((d) => [d.day, d.count]));
  const series = Array.from({ length: days }, (_, i) => {
    const day = today - days + 1 + i;
    return { day, count: counts.get(day) ?? 0 };
  });
  const max = Math.max(0, ...series.map((d) => d.count));
  const total = series.reduce((s, d) => s + d.count, 0);
  const width = days * 20;
  const height = 120;
  const step = width / days;
  const date = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);
  const bars = series.map((d, i) => {
    const h = d.count === 0 ? 0 : Math.max(2, Math.round((d.count / max) * (height - 4)));
    return html`<rect class="bar" x="${(i * step + 2).toFixed(1)}" y="${height - h}" width="${(step - 4).toFixed(1)}" height="${h}"><title>${date(d.day)}: ${d.count} download${d.count === 1 ? '' : 's'}</title></rect>`;
  });
  return html`<figure class="downloads-chart">
<p class="chart-scale" aria-hidden="true">${max > 0 ? `max ${formatCount(max)}/day` : 'no downloads'}</p>
<svg class="chart" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img" aria-label="Downloads per day over the last ${days} days: ${total} in total, at most ${max} a day">
<line class="axis" x1="0" y1="${height - 0.5}" x2="${width}" y2="${height - 0.5}"></line>
${bars}
</svg>
<p class="chart-dates" aria-hidden="true"><span>${date(series[0]!.day)}</span><span>${date(series[series.length - 1]!.day)}</span></p>
<figcaption>${formatCount(total)} download${total === 1 ? '' : 's'} in the last ${days} days</figcaption>
</figure>`;
}
