import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { Clock } from '../util/clock.js';
import { OidcIssuers } from './oidc-issuers.js';
import { sameIssuer, unmetConditions, type TrustPolicy } from './trust-policy.js';

/**
 * Asymmetric algorithms only: an HMAC (`HS*`) token would be verified with a key the issuer publishes, i.e. anyone
 * could sign one, and `none` is no signature at all. GitHub Actions and Kubernetes sign with RS256; GitLab RS256.
 */
export const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** A JWT's shape: three base64url parts, a JSON header first (`eyJ`). Berth tokens (berth_pat_…) never look like it. */
const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Clock skew tolerated on exp, nbf and iat (seconds): runners' clocks drift a little. */
const SKEW_SECONDS = 60;

/** A verified ID token whose claims meet at least one trust policy. */
export interface OidcIdentity {
  readonly issuer: string;
  /** The token's `sub`, for logs and the registry token's subject. */
  readonly sub: string;
  /** The policies the token meets (possibly of several organizations). */
  readonly policies: readonly TrustPolicy[];
  /** The shortest lifetime among them: the registry token's. */
  readonly lifetimeSeconds: number;
}

/** Why an ID token was refused: words for the client, naming claims but never quoting the token. */
export interface OidcRefusal {
  readonly refused: 'oidc-token';
  readonly reason: string;
}

export interface TrustPolicySource {
  forIssuer(issuer: string): Promise<TrustPolicy[]>;
}

/**
 * Verifies OIDC ID tokens (GitHub Actions, GitLab, Kubernetes service accounts, any issuer) against the
 * organizations' trust policies. Only issuers some policy trusts are ever contacted (no fetches to URLs a caller
 * chooses). The issuer's discovery document and key set come from the shared cache (oidc-issuers.ts): refreshed on
 * rotation, bounded on an unknown `kid`, and when the issuer is down, keys already fetched keep verifying.
 */
export class OidcVerifier {
  readonly #policies: TrustPolicySource;
  readonly #clock: Clock;
  readonly #issuers: OidcIssuers;

  /** `issuers`: the cache shared with single sign-on (default: one of its own). */
  constructor(deps: { policies: TrustPolicySource; clock: Clock; issuers?: OidcIssuers }) {
    this.#policies = deps.policies;
    this.#clock = deps.clock;
    this.#issuers = deps.issuers ?? new OidcIssuers({ clock: deps.clock });
  }

  /** Whether a secret is shaped like a JWT (then it is an ID token or nothing). */
  static looksLikeJwt(secret: string): boolean {
    return JWT_SHAPE.test(secret);
  }

  async verify(token: string): Promise<OidcIdentity | OidcRefusal> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      return refuse('the ID token is not a well-formed JWT');
    }
    if (typeof header.alg !== 'string' || !(OIDC_ALGORITHMS as readonly string[]).includes(header.alg)) {
      return refuse(`the ID token's algorithm ${JSON.stringify(String(header.alg ?? 'none')).slice(0, 20)} is not accepted (use ${OIDC_ALGORITHMS.join(', ')})`);
    }
    const issuer = typeof unverified.iss === 'string' ? unverified.iss : '';
    const policies = issuer === '' ? [] : await this.#policies.forIssuer(issuer);
    if (policies.length === 0) return refuse('no organization trusts the ID token\'s issuer (iss): add a trust policy with berth trust add');
    const now = this.#clock.now();
    let keys: { jwks: JSONWebKeySet };
    try {
      keys = await this.#issuers.get(issuer, typeof header.kid === 'string' ? header.kid : null);
    } catch (err) {
      return refuse(`the issuer's signing keys could not be fetched (${(err as Error).message}); try again later`);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, createLocalJWKSet(keys.jwks), {
        issuer, audience: [...new Set(policies.map((p) => p.audience))], algorithms: [...OIDC_ALGORITHMS],
        currentDate: new Date(now), clockTolerance: SKEW_SECONDS, requiredClaims: ['exp', 'iat'],
      }));
    } catch (err) {
      return refuse(verifyFailure(err));
    }
    if (typeof payload.iat === 'number' && payload.iat > now / 1000 + SKEW_SECONDS) return refuse('the ID token is issued in the future (iat)');
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const candidates = policies.filter((p) => sameIssuer(p.issuer, issuer) && aud.includes(p.audience));
    const unmet = candidates.map((p) => unmetConditions(p, payload));
    const matched = candidates.filter((_p, i) => unmet[i]!.length === 0);
    if (matched.length === 0) {
      // The closest policy's failures: what the workflow (repository, branch, environment) would have to change.
      const closest = unmet.reduce((a, b) => (b.length < a.length ? b : a));
      const claims = closest.map((c) => `${c} is ${JSON.stringify(typeof payload[c] === 'string' ? String(payload[c]).slice(0, 100) : payload[c] ?? null)}`);
      return refuse(`no trust policy matched the ID token: claims that did not match: ${claims.join(', ')}`);
    }
    return {
      issuer, sub: typeof payload.sub === 'string' ? payload.sub : '', policies: matched,
      lifetimeSeconds: Math.min(...matched.map((p) => p.tokenLifetimeSeconds)),
    };
  }
}

function refuse(reason: string): OidcRefusal {
  return { refused: 'oidc-token', reason };
}

/** jose's failure in the words a CI user can act on. */
function verifyFailure(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'the ID token has expired (exp): request a fresh one';
  if (err instanceof errors.JWKSNoMatchingKey) return 'the ID token is signed with a key the issuer does not publish (kid)';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the ID token\'s signature does not verify';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the ID token\'s algorithm is not accepted';
  if (err instanceof errors.JWTClaimValidationFailed) {
    const what: Record<string, string> = {
      iss: 'the ID token\'s issuer (iss) is not the trusted one',
      aud: 'the ID token\'s audience (aud) is not one a trust policy of this issuer expects',
      nbf: 'the ID token is not yet valid (nbf)',
      iat: 'the ID token\'s issue time (iat) is not valid',
      exp: 'the ID token has no valid expiry (exp)',
    };
    return what[err.claim] ?? `the ID token's ${err.claim} claim is not valid`;
  }
  return 'the ID token does not verify';
}
