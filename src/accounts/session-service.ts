import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SessionGrant } from '../auth/credentials.js';
import type { Db } from '../db/schema.js';
import type { Clock } from '../util/clock.js';
import { unlessStorageFull } from '../util/errors.js';

/** A live web UI session; its id is what the cookie carries, never stored. */
export type Session = SessionGrant;

/** Sessions last 14 days after their last use (sliding), as GitHub's do roughly. */
export const SESSION_TTL_MS = 14 * 86_400_000;
/** How stale `last_seen_at` may get before a request moves the expiry (saves a write per page view). */
const SLIDE_EVERY_MS = 3_600_000;

/**
 * Web UI sessions stored in the database, so every replica accepts the same cookie. The id is 256 random bits;
 * only its sha256 is stored. Each session also yields its CSRF token: an HMAC keyed by the session id, which
 * the browser never reveals to other sites (the cookie is HttpOnly) and which cannot be turned back into the id.
 */
export class SessionService {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #ttlMs: number;

  constructor(deps: { db: Db; clock: Clock; ttlMs?: number }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#ttlMs = deps.ttlMs ?? SESSION_TTL_MS;
  }

  /** Starts a session for a user who has just proved who they are. */
  async create(userId: number): Promise<Session> {
    const id = randomBytes(32).toString('base64url');
    const now = this.#clock.now();
    const expiresAt = now + this.#ttlMs;
    // Expired sessions go as new ones come (indexed delete): no background job needed.
    await this.purgeExpired();
    await this.#db.insertInto('sessions').values({ idHash: hashId(id), userId, createdAt: now, lastSeenAt: now, expiresAt }).execute();
    return { id, userId, expiresAt, renewed: true };
  }

  /** The session behind a cookie value, while it has not expired; its expiry slides forward with use. */
  async resolve(id: string): Promise<Session | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
    const idHash = hashId(id);
    const row = await this.#db.selectFrom('sessions').select(['userId', 'lastSeenAt', 'expiresAt']).where('idHash', '=', idHash).executeTakeFirst();
    const now = this.#clock.now();
    if (!row || row.expiresAt <= now) return null;
    if (now - row.lastSeenAt < SLIDE_EVERY_MS) return { id, userId: Number(row.userId), expiresAt: row.expiresAt, renewed: false };
    const expiresAt = now + this.#ttlMs;
    // On a full disk the session keeps its old expiry rather than every page failing.
    let renewed = true;
    await this.#db.updateTable('sessions').set({ lastSeenAt: now, expiresAt }).where('idHash', '=', idHash).execute().catch((err: unknown) => {
      unlessStorageFull(err);
      renewed = false;
    });
    return { id, userId: Number(row.userId), expiresAt: renewed ? expiresAt : row.expiresAt, renewed };
  }

  /** Signs out: the cookie is worthless from now on, on every replica. */
  async delete(id: string): Promise<void> {
    await this.#db.deleteFrom('sessions').where('idHash', '=', hashId(id)).execute();
  }

  /** Removes expired sessions; returns how many. */
  async purgeExpired(): Promise<number> {
    const res = await this.#db.deleteFrom('sessions').where('expiresAt', '<=', this.#clock.now()).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** The CSRF token every form of this session carries. */
  csrfToken(session: Session): string {
    return createHmac('sha256', session.id).update('berth-csrf-v1').digest('base64url');
  }

  /** Whether a submitted token is this session's (constant-time comparison). */
  checkCsrf(session: Session, token: string): boolean {
    const expected = Buffer.from(this.csrfToken(session));
    const actual = Buffer.from(token);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}

/** What the sessions table stores for a session id (its sha256): other services name a session by it. */
export function hashId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}
