import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientError, DOCS_ROOT, sendGithubError } from '../github/github-errors.js';
import { siteUrl } from './ui-context.js';

/**
 * The first path segments of GitHub's REST API. A script written for api.github.com with only the host swapped
 * (`https://berth.example.com/orgs/acme/packages`) lands on the web UI, whose pages share these paths: such a
 * request asking for JSON gets GitHub's 404 naming the real base URL instead of an HTML page with status 200.
 */
const REST_ROOTS = new Set(['orgs', 'user', 'users', 'repos', 'rate_limit', 'graphql', 'meta', 'octocat', 'zen', 'emojis']);

/** Asks for JSON and not for a page: `Accept: application/vnd.github+json` or `application/json`, without `text/html`. */
function wantsJson(request: FastifyRequest): boolean {
  const accept = (request.headers.accept ?? '').toLowerCase();
  return /\bapplication\/(vnd\.github[^,;]*|json)\b/.test(accept) && !accept.includes('text/html');
}

/** Answers (and returns true) when the request is an API call missing the `/api/v3` prefix; see REST_ROOTS. */
export function answerMisplacedApiCall(request: FastifyRequest, reply: FastifyReply, publicUrl: string | null): boolean {
  const path = request.url.split('?')[0]!;
  if (!REST_ROOTS.has(path.split('/')[1] ?? '') || !wantsJson(request)) return false;
  const api = `${siteUrl(request, publicUrl)}/api/v3`;
  const message = `Not Found. This is Berth's web UI; its GitHub REST API is under ${api} (use ${api}${request.url})`;
  void sendGithubError(reply, clientError(404, message), DOCS_ROOT);
  return true;
}
