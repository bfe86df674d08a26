import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TokenService } from '../../accounts/token-service.js';
import { ACTIONS, type Action } from '../../auth/actions.js';
import type { Authorizer } from '../../auth/authorizer.js';
import { failureKeys, type FailureLimiter } from '../../auth/failure-limiter.js';
import type { Subject } from '../../auth/permissions.js';
import type { AccessEntry, RegistryTokens } from '../../auth/registry-token.js';
import { requestInvalid, tooManyRequests, unauthorized } from '../../oci/errors.js';
import { isRepoName } from '../../oci/names.js';
import { isBerthError, type BerthError } from '../../util/errors.js';
import type { Clock } from '../../util/clock.js';
import { sendOciError } from './oci-api.js';
import { serviceName } from './public-url.js';

export interface TokenEndpointDeps {
  readonly tokens: TokenService;
  readonly authorizer: Authorizer;
  readonly registryTokens: RegistryTokens;
  readonly limiter: FailureLimiter;
  readonly clock: Clock;
  readonly publicUrl: string | null;
}

/** A token request's form is a few hundred bytes; this is generous. */
const FORM_LIMIT = 64 * 1024;

const ANONYMOUS: Subject = { userId: null, scopes: new Set(), repositoryLimit: null };

/**
 * The Docker token endpoint (distribution "Token Authentication Specification"): `GET /token` with Basic
 * credentials and `scope=` parameters, and the OAuth2 `POST /token` form (grant_type=password|refresh_token) that
 * containerd tries first. Credentials are personal access tokens; account passwords are refused, as on ghcr.io.
 * Granted actions are the intersection of what was asked and what the identity may do: a subset, never a failure.
 */
export function tokenEndpoint(deps: TokenEndpointDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    app.get('/token', async (request, reply) => {
      const query = new URL(request.url, 'http://x').searchParams;
      const basic = parseBasic(request.headers.authorization);
      return issue(deps, request, reply, basic, query.getAll('scope'), false);
    });

    app.post('/token', async (request, reply) => {
      const form = (request.body ?? {}) as Record<string, string>;
      const secret = form.grant_type === 'refresh_token' ? form.refresh_token : form.grant_type === 'password' ? form.password : undefined;
      if (secret === undefined) {
        return sendOciError(reply, unauthorized('grant_type must be password or refresh_token, with credentials', challenge(deps, request)));
      }
      const scopes = (form.scope ?? '').split(' ').filter(Boolean);
      return issue(deps, request, reply, { username: form.username ?? '', password: secret }, scopes, true);
    });

    app.setErrorHandler((error, request, reply) => {
      if (isBerthError(error)) return sendOciError(reply, error);
      const malformed = malformedBody(error);
      if (malformed) {
        request.log.info({ code: (error as FastifyError).code }, 'token request refused: malformed body');
        return sendOciError(reply, malformed);
      }
      request.log.error({ err: error }, 'token endpoint failed');
      return reply.code(500).send({ errors: [{ code: 'UNKNOWN', message: `internal error (request id ${request.id})` }] });
    });
  };
}

/**
 * Fastify's own refusals of a POST /token body (a Content-Type other than the form, a form over 64 KiB, bad JSON, a
 * body cut short) are the client's mistake, not the server's: 400, the answer OAuth2 gives every malformed token
 * request (RFC 6749 §5.2), also for a body too large, so containerd (which falls back to GET /token on a 400) and
 * other clients see one status for all of them.
 */
function malformedBody(error: unknown): BerthError | null {
  const e = error as FastifyError;
  if (typeof e.statusCode !== 'number' || e.statusCode < 400 || e.statusCode >= 500) return null;
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return requestInvalid('POST /token takes an application/x-www-form-urlencoded form (grant_type, username, password or refresh_token, scope)');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return requestInvalid(`the form is too large (at most ${FORM_LIMIT / 1024} KiB)`);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return requestInvalid('the body is not valid JSON; POST /token takes an application/x-www-form-urlencoded form');
    default:
      return requestInvalid('the request body could not be read');
  }
}

async function issue(
  deps: TokenEndpointDeps, request: FastifyRequest, reply: FastifyReply,
  credentials: { username: string; password: string } | null, scopes: string[], oauth: boolean,
): Promise<FastifyReply> {
  const now = deps.clock.now();
  let subject = ANONYMOUS;
  let login = '';
  let tokenId: number | null = null;
  if (credentials) {
    const identity = await deps.tokens.authenticate(credentials.password);
    if (typeof identity === 'string') {
      // Only failures are limited, so a client sharing an address with an attacker keeps working; guessing a
      // 178-bit token is hopeless anyway, the limit stops log floods and password-spraying scripts.
      const keys = failureKeys(request.ip);
      const wait = Math.max(...keys.map((k) => deps.limiter.retryAfter(k, now)));
      for (const k of keys) deps.limiter.fail(k, now);
      if (wait > 0) return sendOciError(reply, tooManyRequests(wait));
      return sendOciError(reply, refused(identity, challenge(deps, request)));
    }
    subject = { userId: identity.userId, scopes: identity.scopes, repositoryLimit: identity.repositoryLimit };
    login = identity.login;
    tokenId = identity.tokenId;
  } else if (oauth) {
    // An OAuth POST without credentials must not get an anonymous token: containerd would then never log in.
    return sendOciError(reply, unauthorized('credentials required', challenge(deps, request)));
  }

  const access: AccessEntry[] = [];
  for (const requested of parseScopes(scopes)) {
    const { actions } = await deps.authorizer.allowed(subject, requested.name);
    const granted = requested.actions.filter((a) => actions.has(a));
    access.push({ type: 'repository', name: requested.name, actions: granted });
  }
  const token = await deps.registryTokens.issue({ subject: login, userId: subject.userId, tokenId, access, scopes: [...subject.scopes], repositoryLimit: subject.repositoryLimit }, serviceName(request, deps.publicUrl), now);
  const body = { token, access_token: token, expires_in: deps.registryTokens.ttlSeconds, issued_at: new Date(now).toISOString() };
  return reply.code(200).header('Cache-Control', 'no-store').send(body);
}

/**
 * `repository:NAME:pull,push` (repeatable; `*` means every action). Anything else is ignored. Scopes naming the
 * same repository are merged into one entry with the union of their actions, as distribution does: containerd asks
 * for `repository:x:pull repository:x:pull,push` when pushing (the challenge's scope plus its own), and /v2 looks
 * up one entry per repository.
 */

function parseScopes(scopes: string[]): { name: string; actions: Action[] }[] {
  const byName = new Map<string, Set<Action>>();
  for (const s of scopes.flatMap((x) => x.split(' '))) {
    const m = /^repository(?:\([a-z]+\))?:([^:]+):([a-z*,]+)$/.exec(s);
    if (!m || !isRepoName(m[1]!)) continue;
    const words = m[2]!.split(',');
    const actions = byName.get(m[1]!) ?? new Set<Action>();
    for (const a of ACTIONS) if (words.includes('*') || words.includes(a)) actions.add(a);
    byName.set(m[1]!, actions);
  }
  return [...byName].map(([name, actions]) => ({ name, actions: ACTIONS.filter((a) => actions.has(a)) }));
}

function parseBasic(header: string | undefined): { username: string; password: string } | null {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return null;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? { username: text, password: '' } : { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

const HINTS: Record<string, string> = {
  malformed: 'unauthenticated: the password is not a Berth personal access token; create one (berth token create, or Settings → Developer settings → Personal access tokens) and log in with it — account passwords are not accepted',
  unknown: 'unauthenticated: User cannot be authenticated with the token provided.',
  expired: 'unauthenticated: the token has expired; create a new one and log in again',
  revoked: 'unauthenticated: the token was revoked; create a new one and log in again',
  disabled: 'unauthenticated: the account is disabled',
};

function refused(reason: string, challengeHeader: string): BerthError {
  return unauthorized(HINTS[reason] ?? HINTS.unknown!, challengeHeader);
}

export function challenge(deps: { publicUrl: string | null }, request: FastifyRequest, scope?: string): string {
  const base = deps.publicUrl ?? `${request.protocol}://${request.host}`;
  return `Bearer realm="${base}/token",service="${serviceName(request, deps.publicUrl)}"${scope ? `,scope="${scope}"` : ''}`;
}
