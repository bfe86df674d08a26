import type { TokenIdentity, TokenRefusal } from '../auth/credentials.js';
import type { Db } from '../db/schema.js';
import { effectiveScopes, SCOPES, type Scope } from '../auth/permissions.js';
import { generateToken, hashToken, looksLikeToken, tokenHint, type TokenKind } from '../auth/personal-token.js';
import { invalid, notFound, unlessStorageFull } from '../util/errors.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from '../audit/audit-log.js';
import { transaction } from '../db/transaction.js';

export interface TokenInfo {
  readonly id: number;
  readonly kind: TokenKind;
  readonly note: string;
  readonly hint: string;
  readonly scopes: Scope[];
  readonly repositoryLimit: string | null;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
  readonly createdAt: number;
}


const LAST_USED_PRECISION_MS = 60_000;

/** The CI token lifetime: like a workflow's GITHUB_TOKEN, it lives for one job at most. */
export const CI_TOKEN_MAX_MS = 24 * 3_600_000;


/**
 * Personal access tokens (GitHub "classic" style) and short-lived, package-scoped CI tokens. The token is returned
 * once by `create`; only its hash is stored. Last use is recorded on every successful authentication.
 */
export class TokenService {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #audit: AuditLog;

  constructor(deps: { db: Db; clock: Clock; audit: AuditLog }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
  }

  async create(input: {
    userId: number; note: string; scopes: string[]; expiresAt: number | null; kind?: TokenKind; repositoryLimit?: string | null;
    /** A CI token may carry delete:packages (and so delete and restore) only when this is asked for explicitly. */
    allowDelete?: boolean;
  }): Promise<{ token: string; info: TokenInfo }> {
    const kind = input.kind ?? 'personal';
    const unknown = input.scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (unknown.length > 0) throw invalid(`unknown scope ${unknown.join(', ')} (use ${SCOPES.join(', ')})`);
    if (input.scopes.includes('delete:packages') && !effectiveScopes(input.scopes).has('read:packages')) {
      throw invalid('delete:packages needs read:packages (or write:packages) as well');
    }
    if (input.scopes.length === 0) throw invalid('a token needs at least one scope');
    const now = this.#clock.now();
    if (input.expiresAt !== null && input.expiresAt <= now) throw invalid('the expiry date is in the past');
    if (kind === 'ci' && (input.expiresAt === null || input.expiresAt - now > CI_TOKEN_MAX_MS || !input.repositoryLimit)) {
      throw invalid('a CI token is limited to one package and expires within 24 hours');
    }
    if (kind === 'ci' && input.scopes.includes('delete:packages') && !input.allowDelete) {
      throw invalid('a CI token pulls and pushes only; to let it delete and restore versions of its package, create it with --allow-delete');
    }
    const token = generateToken(kind);
    const scopes = [...new Set(input.scopes)].sort().join(',');
    const row = await transaction(this.#db, async (tx) => {
      const row = await tx.insertInto('accessTokens').values({
        userId: input.userId, kind, note: input.note, tokenHash: hashToken(token), hint: tokenHint(token), scopes,
        repositoryLimit: input.repositoryLimit ?? null, expiresAt: input.expiresAt, lastUsedAt: null, revokedAt: null, createdAt: now,
      }).returningAll().executeTakeFirstOrThrow();
      await this.#audit.record(tx, { action: 'token.create', ...await tokenRecord(tx, row), after: { kind, note: input.note, scopes: scopes.split(','), expires_at: input.expiresAt } });
      return row;
    });
    return { token, info: toInfo(row) };
  }

  async list(userId: number): Promise<TokenInfo[]> {
    const rows = await this.#db.selectFrom('accessTokens').selectAll().where('userId', '=', userId).where('revokedAt', 'is', null).orderBy('id', 'desc').execute();
    return rows.map(toInfo);
  }

  async revoke(userId: number, tokenId: number): Promise<void> {
    await transaction(this.#db, async (tx) => {
      const row = await tx.updateTable('accessTokens').set({ revokedAt: this.#clock.now() })
        .where('id', '=', tokenId).where('userId', '=', userId).where('revokedAt', 'is', null).returningAll().executeTakeFirst();
      if (!row) throw notFound(`no active token ${tokenId} for this user`);
      await this.#audit.record(tx, { action: 'token.revoke', ...await tokenRecord(tx, row) });
    });
  }

  /** Resolves a presented token to its identity, or says why it is refused (the credential resolver's store). */
  async authenticate(token: string): Promise<TokenIdentity | TokenRefusal> {
    if (!looksLikeToken(token)) return 'malformed';
    const row = await this.#db.selectFrom('accessTokens as t').innerJoin('accounts as a', 'a.id', 't.userId')
      .select(['t.id', 't.userId', 't.scopes', 't.repositoryLimit', 't.expiresAt', 't.revokedAt', 't.lastUsedAt', 'a.login', 'a.disabledAt'])
      .where('t.tokenHash', '=', hashToken(token)).executeTakeFirst();
    if (!row) return 'unknown';
    if (row.revokedAt !== null) return 'revoked';
    const now = this.#clock.now();
    if (row.expiresAt !== null && row.expiresAt <= now) return 'expired';
    if (row.disabledAt !== null) return 'disabled';
    // Last use is shown to the minute: no database write (an fsync on SQLite) for every request a token makes.
    // Bookkeeping only: a full disk must not stop anyone pulling what is already stored.
    if (row.lastUsedAt === null || now - row.lastUsedAt >= LAST_USED_PRECISION_MS) {
      await this.#db.updateTable('accessTokens').set({ lastUsedAt: now }).where('id', '=', row.id).execute().catch(unlessStorageFull);
    }
    return {
      tokenId: row.id, userId: row.userId, login: row.login,
      scopes: effectiveScopes(row.scopes.split(',')), repositoryLimit: row.repositoryLimit,
    };
  }
}

/**
 * What a token record names: the token (by id, never the secret nor its hint), its user, and, for a token limited to one
 * package, that package and its organization (so the organization's audit log shows the CI tokens made for it).
 */
async function tokenRecord(tx: Db, row: { id: number; userId: number; repositoryLimit: string | null }): Promise<{ target: string; org?: string; repository?: string }> {
  const user = await tx.selectFrom('accounts').select('login').where('id', '=', row.userId).executeTakeFirst();
  const target = `${user?.login ?? row.userId}:token:${row.id}`;
  if (!row.repositoryLimit) return { target };
  return { target, org: row.repositoryLimit.split('/')[0]!, repository: row.repositoryLimit };
}

function toInfo(row: { id: number; kind: TokenKind; note: string; hint: string; scopes: string; repositoryLimit: string | null; expiresAt: number | null; lastUsedAt: number | null; createdAt: number }): TokenInfo {
  return {
    id: row.id, kind: row.kind, note: row.note, hint: row.hint, scopes: row.scopes.split(',') as Scope[],
    repositoryLimit: row.repositoryLimit, expiresAt: row.expiresAt, lastUsedAt: row.lastUsedAt, createdAt: row.createdAt,
  };
}

/**
 * Whether a token is still usable, cached briefly: registry tokens carry the id of the access token they came
 * from, and every /v2 request checks it, so revoking a token takes effect within `ttlMs` and not at JWT expiry.
 */
export class TokenLiveness {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #cache = new Map<number, { active: boolean; until: number }>();

  constructor(deps: { db: Db; clock: Clock; ttlMs: number }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#ttlMs = deps.ttlMs;
  }

  async isActive(tokenId: number): Promise<boolean> {
    const now = this.#clock.now();
    const hit = this.#cache.get(tokenId);
    if (hit && hit.until > now) return hit.active;
    const row = await this.#db.selectFrom('accessTokens as t').innerJoin('accounts as a', 'a.id', 't.userId')
      .select(['t.revokedAt', 't.expiresAt', 'a.disabledAt']).where('t.id', '=', tokenId).executeTakeFirst();
    const active = row !== undefined && row.revokedAt === null && row.disabledAt === null && (row.expiresAt === null || row.expiresAt > now);
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(tokenId, { active, until: now + this.#ttlMs });
    return active;
  }
}
