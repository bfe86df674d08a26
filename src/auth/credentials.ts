import { botLogin, type Bot } from './bot-grant.js';
import { failureKeys, type FailureLimiter } from './failure-limiter.js';
import { OidcVerifier, type OidcIdentity, type OidcRefusal } from './oidc-verifier.js';
import { effectiveScopes, SCOPES, type Scope, type Subject } from './permissions.js';
import { BOT_TOKEN_PREFIX } from './personal-token.js';
import type { AccessEntry, RegistryTokens } from './registry-token.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from '../audit/audit-log.js';

/**
 * Who is calling, whatever the surface: the one answer of the credential resolver. `via` says which credential
 * proved it; `subject` is what the permission model (auth/policy.ts) needs. A registry token also carries the
 * access it was issued with (`access`); a UI session carries the session and the signed-in user.
 */
export type Caller<U extends SessionUser = SessionUser> =
  | AnonymousCaller
  | AccessTokenCaller
  | RegistryTokenCaller
  | OidcCaller
  | BotCaller
  | SessionCaller<U>;

interface CallerBase {
  readonly subject: Subject;
}
export interface AnonymousCaller extends CallerBase {
  readonly via: 'anonymous';
  readonly login: null;
  readonly tokenId: null;
}
/** A personal access token or a CI token (`berth_pat_…`, `berth_ci_…`). */
export interface AccessTokenCaller extends CallerBase {
  readonly via: 'access-token';
  readonly login: string;
  readonly tokenId: number;
  readonly userId: number;
}
/** A registry token (JWT) issued by `/token`; anonymous when its subject is empty. */
export interface RegistryTokenCaller extends CallerBase {
  readonly via: 'registry-token';
  readonly login: string | null;
  readonly tokenId: number | null;
  readonly access: readonly AccessEntry[];
  /** The bot the registry token was issued to (still live, with the same secret), for the words of a refusal. */
  readonly bot?: Bot;
}
/**
 * An OIDC ID token (trusted publishing: a CI job's workload identity). No user: what it may do comes only from the
 * trust policies it meets (Policy asks `trust`), on those policies' packages.
 */
export interface OidcCaller extends CallerBase {
  readonly via: 'oidc';
  readonly login: null;
  readonly tokenId: null;
  readonly trust: OidcIdentity;
}
/**
 * A bot account's secret (`berth_bot_…`): an organization's machine identity, no user. What it may do comes only from
 * its grant (the subject's `grant`), on its organization's packages; like anonymous elsewhere (public packages).
 */
export interface BotCaller extends CallerBase {
  readonly via: 'bot';
  /** `org+name`. */
  readonly login: string;
  readonly tokenId: null;
  readonly bot: Bot;
}
/** A web UI session: the user acts with every package scope (a browser session is the user). */
export interface SessionCaller<U extends SessionUser = SessionUser> extends CallerBase {
  readonly via: 'session';
  readonly login: string;
  readonly tokenId: null;
  readonly user: U;
  readonly session: SessionGrant;
}

/**
 * Why presented credentials were refused (typed, so every surface words it its own way):
 * - `malformed`: not a Berth token at all (a password, a typo); `github-token`: a GitHub token (`ghp_…`);
 * - `unknown`, `expired`, `revoked`, `disabled`: a Berth token that is no longer (or never was) valid;
 * - `invalid-registry-token`: a Bearer registry token that does not verify, has expired or whose access token died.
 * `retryAfter` (seconds) is set when the client address has failed too often: answer 429.
 */
export interface CredentialRefusal {
  readonly refused: TokenRefusal | 'github-token' | 'invalid-registry-token' | OidcRefusal['refused'] | 'unknown-bot' | 'expired-bot';
  readonly retryAfter: number;
  /** For an ID token: which check failed (names claims, never quotes the token). */
  readonly reason?: string;
}

/** What a valid access token speaks for (the access-token store's answer). */
export interface TokenIdentity {
  readonly tokenId: number;
  readonly userId: number;
  readonly login: string;
  readonly scopes: Set<Scope>;
  readonly repositoryLimit: string | null;
}
export type TokenRefusal = 'malformed' | 'unknown' | 'expired' | 'revoked' | 'disabled';
/** Why a bot secret is refused (the bot store's answer): a revoked bot's or a rotated-out secret is `unknown`. */
export type BotRefusal = 'malformed' | 'unknown' | 'expired' | 'disabled';

/** A live UI session as the session store reports it. */
export interface SessionGrant {
  readonly id: string;
  readonly userId: number;
  readonly expiresAt: number;
  /** True when this lookup moved the expiry forward: the cookie's Max-Age should follow. */
  readonly renewed: boolean;
}
export interface SessionUser {
  readonly id: number;
  readonly login: string;
  readonly disabled: boolean;
}

/**
 * The stores the resolver asks (implemented in accounts/, wired by app/). A new credential kind is one more store
 * here, one more `Caller` variant and one more branch in `CredentialResolver#secret` (a secret told apart by its
 * shape: an OIDC ID token is a JWT from a trusted issuer, a bot token has its own prefix) — nothing in http/.
 */
export interface CredentialStores<U extends SessionUser> {
  readonly accessTokens: { authenticate(secret: string): Promise<TokenIdentity | TokenRefusal> };
  /** Whether the access token a registry token was issued from is still usable (revocation before JWT expiry). */
  readonly liveness: { isActive(tokenId: number): Promise<boolean> };
  readonly sessions: { resolve(id: string): Promise<SessionGrant | null> };
  readonly users: { findById(id: number): Promise<U | null> };
  /** OIDC ID tokens against the organizations' trust policies (auth/oidc-verifier.ts); absent: JWTs are malformed. */
  readonly oidc?: { verify(token: string): Promise<OidcIdentity | OidcRefusal> };
  /**
   * Bot accounts (accounts/bot-service.ts): a `berth_bot_…` secret, and whether the bot a registry token was issued
   * to still has the secret it was issued from. Absent: bot secrets are malformed.
   */
  readonly bots?: {
    authenticate(secret: string): Promise<Bot | BotRefusal>;
    live(botId: number, secretVersion: number): Promise<Bot | null>;
  };
}

/** What a request carried. */
export interface Presented {
  /** The Authorization header. */
  readonly authorization?: string | undefined;
  /** A secret sent in a form (the OAuth2 `POST /token` password or refresh token). */
  readonly secret?: string | undefined;
  /** The session cookie's value. */
  readonly sessionId?: string | undefined;
  /** The client address, which failed credentials are charged to. */
  readonly address: string;
}

/** Which credentials a surface takes, and how. */
export interface Acceptance {
  /**
   * What `Bearer X` is on this surface: a registry token for this audience (`/v2`), or an access token (`/api`, where
   * `token X` means the same). Absent: Bearer is not accepted (`/token`), the header counts as absent.
   */
  readonly bearer?: { readonly registryAudience: string } | 'access-token';
  /** Whether `Basic user:TOKEN` is accepted (everywhere but the UI). */
  readonly basic?: boolean;
  /** Whether a header that is neither counts as malformed credentials (`/api`) or as no credentials. */
  readonly strictScheme?: boolean;
  /** Whether failures are charged to the client address (`/token`, `/v2`); a blocked address gets `retryAfter`. */
  readonly limitFailures?: boolean;
}

export const ANONYMOUS: AnonymousCaller = Object.freeze({
  via: 'anonymous', login: null, tokenId: null, subject: Object.freeze({ userId: null, scopes: new Set<Scope>(), repositoryLimit: null }),
});

/** GitHub's token prefixes (classic, OAuth, user-to-server, server-to-server, refresh, fine-grained). */
const GITHUB_TOKEN = /^(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,})$/;

const CREATE_TOKEN = 'create one with "berth token create" or on the web UI (Settings → Developer settings → Personal access tokens) and log in with it';

/**
 * What a client whose credentials were refused is told: what is wrong and what to do. The same words on `/token`,
 * `/v2` and (for a GitHub token) `/api/v3`; the prefix is ghcr.io's.
 */
export const CREDENTIAL_HINTS: Readonly<Record<CredentialRefusal['refused'], string>> = {
  malformed: 'unauthenticated: this is not a valid Berth token (a Berth token starts with berth_pat_, berth_ci_ or berth_bot_ and ends in a checksum: '
    + `check that it was copied whole); ${CREATE_TOKEN} — account passwords are not accepted here`,
  'github-token': `unauthenticated: this looks like a GitHub token, not a Berth token; GitHub tokens do not work on Berth: ${CREATE_TOKEN}`,
  unknown: 'unauthenticated: User cannot be authenticated with the token provided.',
  expired: 'unauthenticated: the token has expired; create a new one and log in again',
  revoked: 'unauthenticated: the token was revoked; create a new one and log in again',
  disabled: 'unauthenticated: the account is disabled',
  'invalid-registry-token': 'unauthenticated: the registry token is not valid here or has expired; log in again',
  'oidc-token': 'unauthenticated: the OIDC ID token was refused',
  'unknown-bot': 'unauthenticated: this bot token is not valid: the bot was revoked or its token rotated; '
    + 'ask an owner of the organization for the current token (berth bot rotate ORG/NAME, or the organization\'s settings page)',
  'expired-bot': 'unauthenticated: this bot token has expired; an owner of the organization can rotate it with a new expiry '
    + '(berth bot rotate ORG/NAME --expires …, or the organization\'s settings page)',
};

/** The hint for a refusal, with the reason when there is one (an ID token's failed check). */
export function credentialHint(refusal: CredentialRefusal): string {
  return refusal.reason === undefined ? CREDENTIAL_HINTS[refusal.refused] : `${CREDENTIAL_HINTS[refusal.refused]}: ${refusal.reason}`;
}

export function isCaller<U extends SessionUser>(r: Caller<U> | CredentialRefusal): r is Caller<U> {
  return 'via' in r;
}

/**
 * The record of refused credentials: why, and the login a Basic header named when it is shaped like one (a token
 * pasted as the user name has underscores, so it never is); never the secret.
 */
function failedUse(refused: CredentialRefusal['refused'], presented: Presented, reason: string | undefined): Parameters<AuditLog['recordAlone']>[0] {
  const user = parseBasic(presented.authorization)?.username ?? '';
  const login = /^[a-zA-Z0-9-]{1,39}$/.test(user) ? user : null;
  return {
    action: 'token.failed_use', target: login, actor: { id: null, login }, address: presented.address,
    after: { reason: refused, ...(reason === undefined ? {} : { detail: reason }) },
  };
}

/** `Basic base64(user:password)` → its parts; null for any other header. Decoded here only. */
export function parseBasic(header: string | undefined): { username: string; password: string } | null {
  const m = /^Basic\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? { username: text, password: '' } : { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * The one place that turns what a request carried (an Authorization header, a form secret, a session cookie) into a
 * Caller or a typed refusal. Surfaces say which credentials they take (`Acceptance`) and word the refusal their
 * way (OCI error + challenge, GitHub JSON, a sign-in redirect); none reads a credential itself.
 */
export class CredentialResolver<U extends SessionUser = SessionUser> {
  readonly #stores: CredentialStores<U>;
  readonly #registryTokens: RegistryTokens;
  readonly #limiter: FailureLimiter;
  readonly #clock: Clock;
  readonly #audit: AuditLog | null;

  /** `audit`: where refused credentials on the surfaces that limit failures are recorded (`token.failed_use`). */
  constructor(deps: { stores: CredentialStores<U>; registryTokens: RegistryTokens; limiter: FailureLimiter; clock: Clock; audit?: AuditLog }) {
    this.#stores = deps.stores;
    this.#audit = deps.audit ?? null;
    this.#registryTokens = deps.registryTokens;
    this.#limiter = deps.limiter;
    this.#clock = deps.clock;
  }

  async resolve(presented: Presented, accept: Acceptance): Promise<Caller<U> | CredentialRefusal> {
    if (presented.secret !== undefined) return this.#secret(presented.secret, presented, accept);
    if (presented.sessionId !== undefined) return this.#session(presented.sessionId);
    const header = presented.authorization ?? '';
    if (header.trim() === '') return ANONYMOUS;
    const scheme = /^(Bearer|token)\s+(\S+)\s*$/i.exec(header);
    if (scheme && accept.bearer !== undefined && (scheme[1]!.toLowerCase() === 'bearer' || accept.bearer === 'access-token')) {
      if (accept.bearer === 'access-token') return this.#secret(scheme[2]!, presented, accept);
      return this.#registryToken(scheme[2]!, accept.bearer.registryAudience);
    }
    const basic = accept.basic ? parseBasic(header) : null;
    if (basic) return this.#secret(basic.password, presented, accept);
    return accept.strictScheme ? this.#refuse('malformed', presented, accept) : ANONYMOUS;
  }

  /** An access token (personal or CI), an OIDC ID token (a JWT) or a bot's secret, told apart by their shape. */
  async #secret(secret: string, presented: Presented, accept: Acceptance): Promise<Caller<U> | CredentialRefusal> {
    if (this.#stores.bots && secret.startsWith(BOT_TOKEN_PREFIX)) {
      const bot = await this.#stores.bots.authenticate(secret);
      if (typeof bot === 'string') {
        return this.#refuse(bot === 'unknown' ? 'unknown-bot' : bot === 'expired' ? 'expired-bot' : bot, presented, accept);
      }
      return { via: 'bot', login: botLogin(bot), tokenId: null, bot, subject: { userId: null, scopes: new Set(), repositoryLimit: null, grant: bot } };
    }
    if (this.#stores.oidc && OidcVerifier.looksLikeJwt(secret)) {
      const trust = await this.#stores.oidc.verify(secret);
      if ('refused' in trust) return this.#refuse(trust.refused, presented, accept, trust.reason);
      return { via: 'oidc', login: null, tokenId: null, trust, subject: { userId: null, scopes: new Set(), repositoryLimit: null } };
    }
    const identity = await this.#stores.accessTokens.authenticate(secret);
    if (typeof identity === 'string') {
      return this.#refuse(identity === 'malformed' && GITHUB_TOKEN.test(secret) ? 'github-token' : identity, presented, accept);
    }
    return {
      via: 'access-token', login: identity.login, tokenId: identity.tokenId, userId: identity.userId,
      subject: { userId: identity.userId, scopes: identity.scopes, repositoryLimit: identity.repositoryLimit },
    };
  }

  async #registryToken(token: string, audience: string): Promise<Caller<U> | CredentialRefusal> {
    const claims = await this.#registryTokens.verify(token, audience, this.#clock.now());
    const bot = claims?.bot && this.#stores.bots ? await this.#stores.bots.live(claims.bot.id, claims.bot.secretVersion) : null;
    if (!claims || (claims.tokenId !== null && !(await this.#stores.liveness.isActive(claims.tokenId))) || (claims.bot && !bot)) {
      // Not charged to the address: an expired registry token is routine (the client fetches a new one).
      return { refused: 'invalid-registry-token', retryAfter: 0 };
    }
    return {
      via: 'registry-token', login: claims.userId === null && !bot ? null : claims.subject, tokenId: claims.tokenId, access: claims.access,
      subject: { userId: claims.userId, scopes: effectiveScopes(claims.scopes), repositoryLimit: claims.repositoryLimit, ...(bot ? { grant: bot } : {}) },
      ...(bot ? { bot } : {}),
    };
  }

  /** The session behind a cookie value, if it is live and its account enabled. */
  async #session(id: string): Promise<Caller<U> | CredentialRefusal> {
    if (id === '') return ANONYMOUS;
    const session = await this.#stores.sessions.resolve(id);
    const user = session ? await this.#stores.users.findById(session.userId) : null;
    if (!session || !user || user.disabled) return { refused: 'unknown', retryAfter: 0 };
    return {
      via: 'session', login: user.login, tokenId: null, user, session,
      subject: { userId: user.id, scopes: new Set(SCOPES), repositoryLimit: null },
    };
  }

  /**
   * Only failures are limited, so a client sharing an address with an attacker keeps working; guessing a 178-bit
   * token is hopeless anyway, the limit stops log floods and password-spraying scripts. Failures are charged to the
   * address only (auth/failure-limiter.ts `failureKeys`).
   */
  async #refuse(refused: CredentialRefusal['refused'], presented: Presented, accept: Acceptance, reason?: string): Promise<CredentialRefusal> {
    const why = reason === undefined ? {} : { reason };
    if (!accept.limitFailures) return { refused, retryAfter: 0, ...why };
    const now = this.#clock.now();
    const keys = failureKeys(presented.address);
    const retryAfter = Math.max(...keys.map((k) => this.#limiter.retryAfter(k, now)));
    for (const k of keys) this.#limiter.fail(k, now);
    // Recorded until the address is blocked: the limiter bounds how many records a flood of bad tokens writes.
    if (retryAfter === 0 && this.#audit) await this.#audit.recordAlone(failedUse(refused, presented, reason));
    return { refused, retryAfter, ...why };
  }
}
