import type { JSONWebKeySet } from 'jose';
import type { Clock } from '../util/clock.js';
import { sameIssuer } from './trust-policy.js';

/** Keys are re-fetched after this long (rotation followed); a failed fetch keeps the keys we have. */
const KEYS_MAX_AGE_MS = 10 * 60_000;
/** At most one fetch per issuer in this interval, whatever tokens arrive (an unknown `kid` must not flood the issuer). */
const REFRESH_COOLDOWN_MS = 30_000;
const FETCH_TIMEOUT_MS = 5_000;
const DOCUMENT_LIMIT = 512 * 1024;

/** The parts of an issuer's discovery document (OpenID Connect Discovery 1.0 §3) Berth uses. */
export interface IssuerMetadata {
  readonly issuer: string;
  readonly jwksUri: string;
  /** For the web UI's sign-in (authorization code flow); absent from workload issuers such as GitHub Actions'. */
  readonly authorizationEndpoint: string | null;
  readonly tokenEndpoint: string | null;
}

interface Cached {
  metadata: IssuerMetadata;
  jwks: JSONWebKeySet;
  fetchedAt: number;
  lastAttempt: number;
}

/**
 * OpenID issuers' discovery documents and key sets, fetched and cached per issuer: shared by the verification of
 * CI ID tokens (oidc-verifier.ts) and the web UI's single sign-on (oidc-sign-in.ts). The document and keys are
 * re-fetched when older than 10 minutes or when a token names an unknown `kid`, at most once per 30 s per issuer;
 * when the issuer is down, what was fetched keeps serving. Callers decide which issuers may be contacted.
 */
export class OidcIssuers {
  readonly #clock: Clock;
  readonly #fetch: typeof fetch;
  readonly #cache = new Map<string, Cached>();
  readonly #inflight = new Map<string, Promise<void>>();

  constructor(deps: { clock: Clock; fetch?: typeof fetch }) {
    this.#clock = deps.clock;
    this.#fetch = deps.fetch ?? fetch;
  }

  /** The issuer's metadata and keys: cached, refreshed when stale or when `kid` is unknown, within the cooldown. */
  async get(issuer: string, kid: string | null = null): Promise<{ metadata: IssuerMetadata; jwks: JSONWebKeySet }> {
    const now = this.#clock.now();
    const have = this.#cache.get(issuer);
    const unknownKid = kid !== null && !!have && !have.jwks.keys.some((k) => k.kid === kid);
    const due = !have || now - have.fetchedAt > KEYS_MAX_AGE_MS || unknownKid;
    if (due && (!have || now - have.lastAttempt >= REFRESH_COOLDOWN_MS)) {
      let inflight = this.#inflight.get(issuer);
      if (!inflight) {
        inflight = this.#fetchIssuer(issuer, now).finally(() => this.#inflight.delete(issuer));
        this.#inflight.set(issuer, inflight);
      }
      try {
        await inflight;
      } catch (err) {
        // Down or broken: what we have keeps serving (tokens signed by a key we never saw cannot be verified).
        if (!have) throw err;
        have.lastAttempt = now;
      }
    }
    return this.#cache.get(issuer)!;
  }

  /** POSTs a form to one of the issuer's endpoints (the token endpoint) and returns its JSON answer and status. */
  async postForm(url: string, form: URLSearchParams, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await this.#fetch(url, {
      method: 'POST', body: form.toString(), signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      headers: { ...headers, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    });
    const text = await res.text();
    if (text.length > DOCUMENT_LIMIT) throw new Error(`${new URL(url).host} sent an oversized document`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`${new URL(url).host} answered ${res.status} without JSON`);
    }
    return { status: res.status, body: body !== null && typeof body === 'object' ? body as Record<string, unknown> : {} };
  }

  async #fetchIssuer(issuer: string, now: number): Promise<void> {
    const have = this.#cache.get(issuer);
    if (have) have.lastAttempt = now;
    const doc = await this.#json(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`) as Record<string, unknown>;
    // Discovery §4.3: the document's issuer must be the one asked for.
    if (typeof doc.issuer !== 'string' || !sameIssuer(doc.issuer, issuer)) throw new Error('the discovery document names another issuer');
    if (typeof doc.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri');
    const jwks = await this.#json(doc.jwks_uri) as JSONWebKeySet;
    if (!jwks || !Array.isArray(jwks.keys)) throw new Error('jwks_uri did not return a key set');
    const metadata: IssuerMetadata = {
      issuer: doc.issuer, jwksUri: doc.jwks_uri,
      authorizationEndpoint: typeof doc.authorization_endpoint === 'string' ? doc.authorization_endpoint : null,
      tokenEndpoint: typeof doc.token_endpoint === 'string' ? doc.token_endpoint : null,
    };
    this.#cache.set(issuer, { metadata, jwks, fetchedAt: now, lastAttempt: now });
  }

  async #json(url: string): Promise<unknown> {
    const res = await this.#fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`${new URL(url).host} answered ${res.status}`);
    const text = await res.text();
    if (text.length > DOCUMENT_LIMIT) throw new Error(`${new URL(url).host} sent an oversized document`);
    return JSON.parse(text) as unknown;
  }
}
