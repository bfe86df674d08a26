import { STATUS_CODES } from 'node:http';
import type { BerthError } from '../util/errors.js';
import { DOCS_ROOT, githubErrorBody } from './github/github-errors.js';
import { ociErrorBody } from './oci/oci-errors.js';

/**
 * A whole HTTP/1.1 error response as bytes, for answers written on the socket itself where Fastify has no reply
 * (a malformed request, a body that broke its Content-Length, a timeout): in the shape of the surface `path`
 * belongs to, as its error handler would write it. The connection is closed after it.
 */
export function rawErrorResponse(path: string, error: BerthError): Buffer {
  let type = 'text/plain; charset=utf-8';
  let body = `${error.message}\n`;
  const headers: Record<string, string> = {};
  if (/^\/(v2|token)(\/|\?|$)/.test(path)) {
    type = 'application/json';
    body = ociErrorBody(error);
    if (path.startsWith('/v2')) headers['Docker-Distribution-API-Version'] = 'registry/2.0';
  } else if (/^\/api(\/|\?|$)/.test(path)) {
    type = 'application/json; charset=utf-8';
    body = githubErrorBody(error, DOCS_ROOT);
  }
  const bytes = Buffer.from(body);
  Object.assign(headers, error.headers, {
    'Content-Type': type, 'Content-Length': String(bytes.length), 'X-Content-Type-Options': 'nosniff', Connection: 'close',
  });
  const head = `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes]);
}
