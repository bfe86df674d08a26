import type { FastifyRequest } from 'fastify';
import { COUNT_LIMIT } from '../../packages/listing-count.js';
import { badRequest } from './github-errors.js';

export interface Page {
  readonly page: number;
  readonly perPage: number;
}

/**
 * `page` (default 1) and `per_page` (default 30, at most 100), read leniently as GitHub does: a value that is not
 * a positive integer falls back to the default. GitHub refuses to page past the 10,000th item.
 */
export function readPage(request: FastifyRequest): Page {
  const query = new URL(request.url, 'http://x').searchParams;
  const int = (value: string | null, fallback: number): number => (value !== null && /^\d+$/.test(value) && Number(value) >= 1 ? Number(value) : fallback);
  const page = int(query.get('page'), 1);
  const perPage = Math.min(int(query.get('per_page'), 30), 100);
  if (page * perPage > COUNT_LIMIT) throw badRequest('The value of `per_page` multiplied by `page` cannot be greater than 10000.');
  return { page, perPage };
}

/**
 * GitHub's `Link` header (docs "Using pagination in the REST API"): `<url>; rel="prev"`, `"next"`, `"last"`,
 * `"first"` in that order, each the request's own URL with `page` set (other parameters, `per_page` included,
 * echoed). Null when everything fits one page. `last` is the last page `readPage` accepts: listings count up to
 * COUNT_LIMIT + 1 (packages/listing-count.ts), and GitHub pages no further than the 10,000th item.
 */
export function linkHeader(base: string, request: FastifyRequest, page: Page, total: number): string | null {
  const last = Math.max(1, Math.min(Math.ceil(total / page.perPage), Math.floor(COUNT_LIMIT / page.perPage)));
  if (last === 1 && page.page === 1) return null;
  const [path, search = ''] = request.url.split('?', 2) as [string, string?];
  const link = (n: number, rel: string): string => {
    const query = new URLSearchParams(search);
    query.delete('page');
    query.append('page', String(n));
    return `<${base}${path}?${query}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page.page > 1) links.push(link(Math.min(page.page - 1, last), 'prev'));
  if (page.page < last) links.push(link(page.page + 1, 'next'), link(last, 'last'));
  if (page.page > 1) links.push(link(1, 'first'));
  return links.join(', ');
}
