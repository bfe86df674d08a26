import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { BerthError } from '../util/errors.js';
import type { Clock } from '../util/clock.js';
import type { OidcIssuers } from './oidc-issuers.js';
import { OIDC_ALGORITHMS } from './oidc-verifier.js';

/** Clock skew tolerated on the ID token's exp, nbf and iat (seconds). */
const SKEW_SECONDS = 60;

/** What single sign-on needs of config `auth.sso`. */
export interface OidcClientSettings {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string | null;
  readonly scopes: readonly string[];
  readonly usernameClaim: string;
  readonly groupsClaim: string | null;
}

/**
 * What the browser keeps between the redirect to the provider and its return (an HttpOnly cookie): the `state` the
 * return must carry, the `nonce` the ID token must carry and the PKCE verifier only Berth knows.
 */
export interface PendingSignIn {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly returnTo: string;
}

/** A person the provider vouched for, from a verified ID token. */
export interface SsoIdentity {
  readonly issuer: string;
  /** `sub`: with the issuer, the stable identifier (OpenID Connect Core §5.7). */
  readonly subject: string;
  /** The configured username claim's value (not yet checked as a login). */
  readonly username: string | null;
  readonly email: string | null;
  readonly groups: readonly string[];
}

/** Single sign-on refused: the message says what went wrong, never a token or code. */
export const ssoRefused = (message: string, status = 401): BerthError => new BerthError({ status, code: 'SSO_REFUSED', message });

/**
 * The relying party of OpenID Connect's authorization code flow (Core §3.1) with PKCE (RFC 7636, S256) for the
 * web UI: `start` makes the provider's authorization URL and the values to keep; `finish` checks `state`, redeems
 * the code at the token endpoint (with the verifier and, when configured, the client secret) and verifies the ID
 * token (signature by the issuer's published keys, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, asymmetric
 * algorithms only). A code is redeemed once: the provider refuses a replay, and the pending values go with the first
 * return. Discovery and keys come from the cache CI tokens use (oidc-issuers.ts).
 */
export class OidcSignIn {
  readonly #settings: OidcClientSettings;
  readonly #issuers: OidcIssuers;
  readonly #clock: Clock;

  constructor(deps: { settings: OidcClientSettings; issuers: OidcIssuers; clock: Clock }) {
    this.#settings = deps.settings;
    this.#issuers = deps.issuers;
    this.#clock = deps.clock;
  }

  /** The provider's authorization URL for a browser about to sign in, and what to keep until it comes back. */
  async start(redirectUri: string, returnTo: string): Promise<{ url: string; pending: PendingSignIn }> {
    const { metadata } = await this.#metadata();
    if (!metadata.authorizationEndpoint) throw ssoRefused('the identity provider\'s discovery document has no authorization_endpoint', 502);
    const pending: PendingSignIn = { state: random(), nonce: random(), verifier: random(), returnTo };
    const url = new URL(metadata.authorizationEndpoint);
    url.search = new URLSearchParams({
      response_type: 'code', client_id: this.#settings.clientId, redirect_uri: redirectUri, scope: this.#settings.scopes.join(' '),
      state: pending.state, nonce: pending.nonce,
      code_challenge: createHash('sha256').update(pending.verifier).digest('base64url'), code_challenge_method: 'S256',
    }).toString();
    return { url: url.toString(), pending };
  }

  /** The provider's return (`code` and `state`, or `error`): the verified identity, or a refusal saying why. */
  async finish(query: URLSearchParams, pending: PendingSignIn | null, redirectUri: string): Promise<SsoIdentity> {
    const state = query.get('state') ?? '';
    // RFC 6749 §10.12: the return must carry the state this browser was sent with; else it is someone else's code.
    if (!pending || !same(state, pending.state)) throw ssoRefused('the sign-in could not be matched to this browser (state mismatch); start again from the sign-in page', 400);
    const error = query.get('error');
    if (error) throw ssoRefused(`the identity provider refused the sign-in: ${printable(error)}${query.get('error_description') ? ` (${printable(query.get('error_description')!)})` : ''}`, 403);
    const code = query.get('code');
    if (!code) throw ssoRefused('the identity provider sent no authorization code', 400);
    const { metadata } = await this.#metadata();
    if (!metadata.tokenEndpoint) throw ssoRefused('the identity provider\'s discovery document has no token_endpoint', 502);
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: pending.verifier });
    const headers: Record<string, string> = {};
    const { clientId, clientSecret } = this.#settings;
    // client_secret_basic (Core §9): id and secret form-encoded, then Basic.
    if (clientSecret !== null) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
    else form.set('client_id', clientId);
    let answer: { status: number; body: Record<string, unknown> };
    try {
      answer = await this.#issuers.postForm(metadata.tokenEndpoint, form, headers);
    } catch (err) {
      throw ssoRefused(`the identity provider's token endpoint could not be reached (${(err as Error).message}); try again later`, 502);
    }
    if (answer.status !== 200 || typeof answer.body.id_token !== 'string') {
      // invalid_grant: a code already used, expired, or not issued for this verifier.
      const why = typeof answer.body.error === 'string' ? printable(answer.body.error) : `status ${answer.status}`;
      throw ssoRefused(`the identity provider did not accept the authorization code (${why}); start again from the sign-in page`);
    }
    return this.#verify(answer.body.id_token, pending.nonce, metadata.issuer);
  }

  async #verify(idToken: string, nonce: string, issuer: string): Promise<SsoIdentity> {
    let kid: string | null = null;
    try {
      const header = decodeProtectedHeader(idToken);
      kid = typeof header.kid === 'string' ? header.kid : null;
    } catch {
      throw ssoRefused('the identity provider sent an ID token that is not a JWT');
    }
    const { jwks } = await this.#issuers.get(this.#settings.issuer, kid);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, createLocalJWKSet(jwks), {
        issuer, audience: this.#settings.clientId, algorithms: [...OIDC_ALGORITHMS],
        currentDate: new Date(this.#clock.now()), clockTolerance: SKEW_SECONDS, requiredClaims: ['sub', 'exp', 'iat'],
      }));
    } catch (err) {
      throw ssoRefused(`the ID token was refused: ${verifyFailure(err)}`);
    }
    // Core §3.1.3.7: several audiences need azp to be this client; the nonce binds the token to this browser's attempt.
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== this.#settings.clientId) throw ssoRefused('the ID token was issued to another client (azp)');
    if (typeof payload.nonce !== 'string' || !same(payload.nonce, nonce)) throw ssoRefused('the ID token does not belong to this sign-in (nonce mismatch); start again');
    const claim = (name: string): string | null => (typeof payload[name] === 'string' ? payload[name] as string : null);
    const groups = this.#settings.groupsClaim === null ? [] : payload[this.#settings.groupsClaim];
    return {
      issuer, subject: payload.sub!, username: claim(this.#settings.usernameClaim), email: claim('email'),
      groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [],
    };
  }

  async #metadata() {
    try {
      return await this.#issuers.get(this.#settings.issuer);
    } catch (err) {
      throw ssoRefused(`the identity provider ${this.#settings.issuer} could not be reached (${(err as Error).message}); try again later, or tell your administrator`, 502);
    }
  }
}

/** jose's failure in words (the token itself is never quoted). */
function verifyFailure(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'it has expired (exp)';
  if (err instanceof errors.JWKSNoMatchingKey) return 'it is signed with a key the provider does not publish (kid)';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'its signature does not verify';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'its algorithm is not accepted (asymmetric signatures only)';
  if (err instanceof errors.JWTClaimValidationFailed) {
    const what: Record<string, string> = { iss: 'it was issued by another issuer (iss)', aud: 'it was issued to another client (aud)' };
    return what[err.claim] ?? `its ${err.claim} claim is not valid`;
  }
  return 'it does not verify';
}

function random(): string {
  return randomBytes(32).toString('base64url');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A provider's error code or description as shown on a page: printable ASCII, bounded. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}
