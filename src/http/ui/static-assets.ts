import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

/** web/ at the package root: `src/http/ui` and `dist/http/ui` are both three levels below it. */
const WEB_DIR = new URL('../../../web/', import.meta.url).pathname;

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

export interface StaticAsset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

/**
 * The files of web/, read once at start-up (a few kilobytes): served from memory with an ETag, and linked from
 * pages with `?v=<hash>` so browsers may cache them for a year and still see a new release at once.
 */
function load(): Map<string, StaticAsset> {
  const out = new Map<string, StaticAsset>();
  let names: string[] = [];
  try {
    names = readdirSync(WEB_DIR);
  } catch {
    return out;
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    const path = join(WEB_DIR, name);
    if (!type || !statSync(path).isFile()) continue;
    const body = readFileSync(path);
    out.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` });
  }
  return out;
}

export const STATIC_ASSETS: ReadonlyMap<string, StaticAsset> = load();

/** `/static/berth.css?v=…` for a file of web/. */
export function assetUrl(name: string): string {
  const asset = STATIC_ASSETS.get(name);
  return `/static/${name}${asset ? `?v=${asset.etag.slice(1, 9)}` : ''}`;
}
