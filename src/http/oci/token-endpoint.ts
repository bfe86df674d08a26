import { noteCaller } from '../request-facts.js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ACTIONS, type Action } from '../../auth/actions.js';
import { credentialHint, isCaller, type Acceptance, type Caller, type CredentialRefusal, type CredentialResolver } from '../../auth/credentials.js';
import type { Policy } from '../../auth/policy.js';
import type { RegistryTokens } from '../../auth/registry-token.js';
import { requestInvalid, tooManyRequests, unauthorized } from '../../oci/errors.js';
import { isRepoName } from '../../oci/names.js';
import { literalScopes } from '../../auth/trust-policy.js';
import { isBerthError, type BerthError } from '../../util/errors.js';
import type { Clock } from '../../util/clock.js';
import { challenge } from './challenge.js';
import { sendOciError } from './oci-errors.js';
import { serviceName } from './public-url.js';

export interface TokenEndpointDeps {
  readonly credentials: CredentialResolver;
  readonly policy: Policy;
  readonly registryTokens: RegistryTokens;
  readonly clock: Clock;
  readonly publicUrl: string | null;
}

/** What /token takes: Basic credentials (GET) or the form's secret (POST); failures count against the address. */
const ACCEPTS: Acceptance = { basic: true, limitFailures: true };

/** A token request's form is a few hundred bytes; this is generous. */
const FORM_LIMIT = 64 * 1024;

/**
 * The Docker token endpoint (distribution "Token Authentication Specification"): `GET /token` with Basic
 * credentials and `scope=` parameters, and the OAuth2 `POST /token` form (grant_type=password|refresh_token) that
 * containerd tries first. Credentials are personal access tokens, bot tokens or OIDC ID tokens; account passwords are
 * refused, as on ghcr.io.
 * Granted actions are the intersection of what was asked and what the identity may do: a subset, never a failure.
 */
export function tokenEndpoint(deps: TokenEndpointDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    app.get('/token', async (request, reply) => {
      const query = new URL(request.url, 'http://x').searchParams;
      // Basic credentials or none (an anonymous token). Bearer is not a credential here.
      const caller = await deps.credentials.resolve({ authorization: request.headers.authorization, address: request.ip }, ACCEPTS);
      noteCaller(request, caller);
      return issue(deps, request, reply, caller, query.getAll('scope'), false);
    });

    app.post('/token', async (request, reply) => {
      const form = (request.body ?? {}) as Record<string, string>;
      if (form.grant_type === TOKEN_EXCHANGE) return exchange(deps, request, reply, form);
      const secret = form.grant_type === 'refresh_token' ? form.refresh_token : form.grant_type === 'password' ? form.password : undefined;
      if (secret === undefined) {
        return sendOciError(reply, unauthorized('grant_type must be password or refresh_token, with credentials', challenge(deps.publicUrl, request)));
      }
      const scopes = (form.scope ?? '').split(' ').filter(Boolean);
      const caller = await deps.credentials.resolve({ secret, address: request.ip }, ACCEPTS);
      noteCaller(request, caller);
      return issue(deps, request, reply, caller, scopes, true);
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

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPES = ['urn:ietf:params:oauth:token-type:id_token', 'urn:ietf:params:oauth:token-type:jwt'];

/**
 * RFC 8693 token exchange: an OIDC ID token (`subject_token`, `subject_token_type` id_token or jwt) for a short-lived
 * registry token (§2.2.1 response, plus `token` for Docker clients). `scope` as for the other grants; without one, the
 * token covers the packages the matched trust policies name literally, with their actions.
 */
async function exchange(deps: TokenEndpointDeps, request: FastifyRequest, reply: FastifyReply, form: Record<string, string>): Promise<FastifyReply> {
  if (typeof form.subject_token !== 'string' || form.subject_token === '' || !ID_TOKEN_TYPES.includes(form.subject_token_type ?? '')) {
    return sendOciError(reply, requestInvalid(`token exchange takes subject_token and subject_token_type=${ID_TOKEN_TYPES[0]}`));
  }
  const caller = await deps.credentials.resolve({ secret: form.subject_token, address: request.ip }, ACCEPTS);
  if (isCaller(caller) && caller.via !== 'oidc') {
    return sendOciError(reply, requestInvalid('subject_token must be an OIDC ID token; exchange Berth tokens with grant_type=password'));
  }
  let scopes = (form.scope ?? '').split(' ').filter(Boolean);
  if (isCaller(caller) && caller.via === 'oidc' && scopes.length === 0) scopes = literalScopes(caller.trust.policies);
  return issue(deps, request, reply, caller, scopes, true);
}

async function issue(
  deps: TokenEndpointDeps, request: FastifyRequest, reply: FastifyReply,
  caller: Caller | CredentialRefusal, scopes: string[], oauth: boolean,
): Promise<FastifyReply> {
  const now = deps.clock.now();
  if (!isCaller(caller)) {
    if (caller.retryAfter > 0) return sendOciError(reply, tooManyRequests(caller.retryAfter));
    return sendOciError(reply, refused(caller, challenge(deps.publicUrl, request)));
  }
  if (oauth && caller.via === 'anonymous') {
    // An OAuth POST without credentials must not get an anonymous token: containerd would then never log in.
    return sendOciError(reply, unauthorized('credentials required', challenge(deps.publicUrl, request)));
  }
  const { subject } = caller;
  const access = await deps.policy.grant(caller, parseScopes(scopes));
  // An ID token's registry token lives as long as its trust policies say (the shortest of those it meets).
  const ttlSeconds = caller.via === 'oidc' ? caller.trust.lifetimeSeconds : deps.registryTokens.ttlSeconds;
  const token = await deps.registryTokens.issue({
    subject: caller.login ?? '', userId: subject.userId, tokenId: caller.tokenId, access, scopes: [...subject.scopes], repositoryLimit: subject.repositoryLimit,
    // A bot's registry token dies with the secret it was issued from (rotation, revocation).
    ...(caller.via === 'bot' ? { bot: { id: caller.bot.id, secretVersion: caller.bot.secretVersion } } : {}),
  }, serviceName(request, deps.publicUrl), now, ttlSeconds);
  const body = {
    token, access_token: token, expires_in: ttlSeconds, issued_at: new Date(now).toISOString(),
    // RFC 8693 §2.2.1 for an exchanged ID token.
    ...(caller.via === 'oidc' ? { issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer' } : {}),
  };
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

function refused(refusal: CredentialRefusal, challengeHeader: string): BerthError {
  return unauthorized(credentialHint(refusal), challengeHeader);
}
