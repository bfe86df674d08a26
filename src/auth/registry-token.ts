import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import type { Action } from './actions.js';
import { REGISTRY_TOKEN_ALG, type SigningKeys } from './signing-keys.js';
import { isUnavailable } from '../util/errors.js';

/** One entry of the Docker token's `access` claim (distribution auth/jwt spec). */
export interface AccessEntry {
  readonly type: 'repository';
  readonly name: string;
  readonly actions: Action[];
}

export interface RegistryClaims {
  /** The user's login, or '' for an anonymous token. */
  readonly subject: string;
  readonly userId: number | null;
  /** The access token the registry token was issued from, so revoking it takes effect before expiry. */
  readonly tokenId: number | null;
  readonly access: AccessEntry[];
  /** The credential's scopes and package limit, so later checks (mount sources, catalog) need no new token. */
  readonly scopes: string[];
  readonly repositoryLimit: string | null;
  /** The bot it was issued to and the version of the secret presented: rotating or revoking the bot ends it. */
  readonly bot?: { readonly id: number; readonly secretVersion: number };
  /** When the registry token expires (set on verification). */
  readonly expiresMs?: number;
}

const ISSUER = 'berth';

/** Short-lived registry bearer tokens (JWT, ES256 pinned) for the Docker token flow. */
export class RegistryTokens {
  readonly #keys: SigningKeys;
  readonly ttlSeconds: number;
  readonly #verified = new Map<string, { claims: RegistryClaims; audience: string; expiresMs: number }>();

  constructor(deps: { keys: SigningKeys; ttlSeconds: number }) {
    this.#keys = deps.keys;
    this.ttlSeconds = deps.ttlSeconds;
  }

  async issue(claims: RegistryClaims, audience: string, nowMs: number, ttlSeconds = this.ttlSeconds): Promise<string> {
    const key = await this.#keys.current();
    const iat = Math.floor(nowMs / 1000);
    const bot = claims.bot ? { bid: claims.bot.id, bsv: claims.bot.secretVersion } : {};
    return new SignJWT({ access: claims.access, uid: claims.userId, tid: claims.tokenId, scp: claims.scopes, lim: claims.repositoryLimit, ...bot })
      .setProtectedHeader({ alg: REGISTRY_TOKEN_ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(claims.subject)
      .setAudience(audience)
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setNotBefore(iat - 5)
      .setExpirationTime(iat + ttlSeconds)
      .sign(key.privateKey);
  }

  /**
   * Verifies signature (with the pinned algorithm), issuer, audience and expiry; null when any check fails. Every
   * token Berth issues has an id (`jti`) and an expiry: one without either was not made here and is refused. A
   * token that verified once is remembered until it expires: clients send the same token on every request, and
   * an ECDSA verification per request would cost more than the rest of a manifest GET.
   */
  async verify(token: string, audience: string, nowMs: number): Promise<RegistryClaims | null> {
    const hit = this.#verified.get(token);
    if (hit && hit.audience === audience && hit.expiresMs > nowMs) return hit.claims;
    const claims = await this.#verify(token, audience, nowMs);
    if (claims) {
      if (this.#verified.size >= 10_000) this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.set(token, { claims, audience, expiresMs: claims.expiresMs ?? 0 });
    }
    return claims;
  }

  async #verify(token: string, audience: string, nowMs: number): Promise<RegistryClaims | null> {
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== REGISTRY_TOKEN_ALG || typeof header.kid !== 'string') return null;
      const key = await this.#keys.verifier(header.kid);
      if (!key) return null;
      const { payload } = await jwtVerify(token, key, {
        algorithms: [REGISTRY_TOKEN_ALG], issuer: ISSUER, audience, currentDate: new Date(nowMs), clockTolerance: 5,
        requiredClaims: ['jti', 'exp'],
      });
      return {
        subject: typeof payload.sub === 'string' ? payload.sub : '',
        userId: typeof payload.uid === 'number' ? payload.uid : null,
        tokenId: typeof payload.tid === 'number' ? payload.tid : null,
        access: Array.isArray(payload.access) ? (payload.access as AccessEntry[]) : [],
        scopes: Array.isArray(payload.scp) ? (payload.scp as string[]) : [],
        repositoryLimit: typeof payload.lim === 'string' ? payload.lim : null,
        expiresMs: (payload.exp ?? 0) * 1000,
        ...(typeof payload.bid === 'number' && typeof payload.bsv === 'number' ? { bot: { id: payload.bid, secretVersion: payload.bsv } } : {}),
      };
    } catch (err) {
      // A bad token is no token; a database that cannot be asked for the key is a 503, not a 401.
      if (isUnavailable(err)) throw err;
      return null;
    }
  }
}
