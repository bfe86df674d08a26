import type { FastifyReply } from 'fastify';
import { BerthError } from '../../util/errors.js';

/**
 * GitHub REST error catalogue (docs "Troubleshooting the REST API"): each situation's status and message is decided
 * here; the /api error handler writes `{"message","documentation_url","status":"<code>"}` (+ `errors` on 422).
 */
export const DOCS_ROOT = 'https://docs.github.com/rest';
export const RATE_LIMIT_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api';

function github(status: number, message: string, opts: { code?: string; detail?: unknown; headers?: Record<string, string> } = {}): BerthError {
  return new BerthError({ status, code: opts.code ?? `GITHUB_${status}`, message, detail: opts.detail, headers: opts.headers });
}

export const RATE_LIMITED = 'RATE_LIMITED';

export const notFound = (): BerthError => github(404, 'Not Found');
// 401 always carries a challenge (STYLE B2); GitHub's clients ignore it, browsers and curl --anyauth use it.
export const requiresAuthentication = (): BerthError => github(401, 'Requires authentication', { headers: { 'WWW-Authenticate': 'Bearer realm="Berth REST API"' } });
/** GitHub's words, and what to do when the token is recognisably not a Berth one (a GitHub token). */
export const badCredentials = (hint?: string): BerthError => github(401, hint ? `Bad credentials: ${hint}` : 'Bad credentials', { headers: { 'WWW-Authenticate': 'Bearer realm="Berth REST API", error="invalid_token"' } });
export const forbidden = (message: string): BerthError => github(403, message);
/** Deleting or restoring without the admin role; a CI token is told it was not created for that (permissions.ts). */
export const adminRequired = (what: string, ciToken: boolean): BerthError => github(403, ciToken
  ? `This CI token may only pull and push; to ${what}, create the CI token with --allow-delete (the package's admin must create it).`
  : `You must be an admin of this package to ${what}.`);
export const missingScopes = (scopes: readonly string[], what: string): BerthError =>
  github(403, `You need at least ${scopes.join(' and ')} scope${scopes.length > 1 ? 's' : ''} to ${what}; create a token with ${scopes.join(', ')}.`);
export const rateLimited = (message: string): BerthError => github(403, message, { code: RATE_LIMITED });
/** A client error Fastify raised itself (body too large, unsupported Content-Type), kept with its status. */
export const clientError = (status: number, message: string): BerthError => github(status, message);
export const problemsParsingJson = (): BerthError => github(400, 'Problems parsing JSON');
export const badRequest = (message: string): BerthError => github(400, message);
export const unsupportedApiVersion = (version: string, supported: readonly string[]): BerthError =>
  github(400, `API version ${version.slice(0, 40)} is not supported. Supported versions: ${supported.join(', ')}.`);
/** A parameter missing or outside its enum: GitHub's request-schema validation answers 422 "Invalid request.". */
export const invalidRequest = (reason: string): BerthError => github(422, `Invalid request.\n\n${reason}`);

export interface GithubErrorBody {
  readonly message: string;
  readonly errors?: unknown;
  readonly documentation_url: string;
  readonly status: string;
}

/** Writes the error in GitHub's shape; `status` is a string, as api.github.com sends it now. */
export function sendGithubError(reply: FastifyReply, error: BerthError, documentationUrl: string): FastifyReply {
  return reply.code(error.status).headers(error.headers).type('application/json; charset=utf-8').send(githubErrorBody(error, documentationUrl));
}

export function githubErrorBody(error: BerthError, documentationUrl: string): string {
  const body: GithubErrorBody = {
    message: error.message,
    ...(error.status === 422 && error.detail !== undefined ? { errors: error.detail } : {}),
    documentation_url: documentationUrl,
    status: String(error.status),
  };
  return JSON.stringify(body);
}
