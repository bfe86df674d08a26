import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import type { Action } from '../auth/actions.js';
import { checkBotName, type Bot, type BotInput } from '../auth/bot-grant.js';
import type { BotRefusal } from '../auth/credentials.js';
import { BOT_TOKEN_PREFIX, generateToken, hashToken, looksLikeToken, tokenHint } from '../auth/personal-token.js';
import { conflict, notFound, unlessStorageFull } from '../util/errors.js';
import type { Clock } from '../util/clock.js';

/** A bot as its organization's owners see it: never its secret (shown once, by create and rotate). */
export interface BotInfo {
  readonly id: number;
  readonly org: string;
  readonly name: string;
  readonly description: string;
  readonly packages: string[];
  readonly actions: Action[];
  /** The secret's prefix and first characters, to tell which one a client holds. */
  readonly hint: string;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
  readonly createdAt: number;
  readonly rotatedAt: number | null;
}

const LAST_USED_PRECISION_MS = 60_000;
/** How long a registry token's bot is taken as still live without asking the database again. */
const LIVENESS_TTL_MS = 5_000;

type Row = {
  id: number; orgId: number; login: string; name: string; description: string; packages: string; actions: string; hint: string;
  secretVersion: number; expiresAt: number | null; lastUsedAt: number | null; createdAt: number; rotatedAt: number | null;
};

/**
 * Organizations' bot accounts (migration 0018): created, listed, rotated and revoked by the organization's owners
 * (REST, the org settings page) or the operator (`berth bot`). The secret is returned once by `create` and `rotate`;
 * only its sha256 is stored. It is also the credential resolver's store for `berth_bot_…` secrets and for the
 * liveness of registry tokens issued from one (a rotated or revoked bot's registry tokens die within seconds).
 */
export class BotService {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #live = new Map<string, { bot: Bot | null; until: number }>();
  readonly #audit: AuditLog;

  constructor(deps: { db: Db; clock: Clock; audit: AuditLog }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
  }

  async create(orgId: number, input: BotInput, createdBy: number | null): Promise<{ token: string; bot: BotInfo }> {
    const now = this.#clock.now();
    const token = generateToken('bot');
    const lowerName = checkBotName(input.name);
    const taken = await this.#db.selectFrom('bots').select('id').where('orgId', '=', orgId).where('lowerName', '=', lowerName).executeTakeFirst();
    if (taken) throw conflict(`the organization already has a bot named ${lowerName}: rotate its secret or revoke it first`);
    try {
      await transaction(this.#db, async (tx) => {
        await tx.insertInto('bots').values({
          orgId, name: lowerName, lowerName, description: input.description, packages: JSON.stringify(input.packages), actions: input.actions.join(','),
          tokenHash: hashToken(token), hint: tokenHint(token), expiresAt: input.expiresAt, lastUsedAt: null, createdBy, createdAt: now, rotatedAt: null,
        }).execute();
        await this.#audit.record(tx, {
          action: 'bot.create', org: orgId, target: `bot:${lowerName}`, after: { packages: input.packages, actions: input.actions, expiresAt: input.expiresAt },
        });
      });
    } catch (err) {
      // Two creates of one name at once: the unique index decides.
      if (await this.#db.selectFrom('bots').select('id').where('orgId', '=', orgId).where('lowerName', '=', lowerName).executeTakeFirst()) {
        throw conflict(`the organization already has a bot named ${lowerName}`);
      }
      throw err;
    }
    return { token, bot: (await this.find(orgId, lowerName))! };
  }

  async list(orgId: number): Promise<BotInfo[]> {
    return (await this.#select().where('bots.orgId', '=', orgId).orderBy('bots.lowerName').execute()).map(toInfo);
  }

  async find(orgId: number, name: string): Promise<BotInfo | null> {
    const row = await this.#select().where('bots.orgId', '=', orgId).where('bots.lowerName', '=', name.toLowerCase()).executeTakeFirst();
    return row ? toInfo(row) : null;
  }

  /**
   * A new secret; the old one stops working at once, and registry tokens issued from it within seconds. The expiry
   * stays unless `expiresAt` is given.
   */
  async rotate(orgId: number, name: string, expiresAt?: number | null): Promise<{ token: string; bot: BotInfo }> {
    const token = generateToken('bot');
    const now = this.#clock.now();
    await transaction(this.#db, async (tx) => {
      const res = await tx.updateTable('bots')
        .set((eb) => ({
          tokenHash: hashToken(token), hint: tokenHint(token), secretVersion: eb('secretVersion', '+', 1), rotatedAt: now, lastUsedAt: null,
          ...(expiresAt === undefined ? {} : { expiresAt }),
        }))
        .where('orgId', '=', orgId).where('lowerName', '=', name.toLowerCase()).executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) throw notFound(`there is no bot ${name} in this organization`);
      await this.#audit.record(tx, { action: 'bot.rotate', org: orgId, target: `bot:${name.toLowerCase()}`, ...(expiresAt === undefined ? {} : { after: { expiresAt } }) });
    });
    this.#live.clear();
    return { token, bot: (await this.find(orgId, name))! };
  }

  /** Deletes the bot: its secret and the registry tokens issued from it stop working. */
  async revoke(orgId: number, name: string): Promise<void> {
    await transaction(this.#db, async (tx) => {
      const res = await tx.deleteFrom('bots').where('orgId', '=', orgId).where('lowerName', '=', name.toLowerCase()).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) throw notFound(`there is no bot ${name} in this organization`);
      await this.#audit.record(tx, { action: 'bot.destroy', org: orgId, target: `bot:${name.toLowerCase()}` });
    });
    this.#live.clear();
  }

  /** The credential resolver's store: the bot a `berth_bot_…` secret belongs to, or why it is refused. */
  async authenticate(secret: string): Promise<Bot | BotRefusal> {
    if (!looksLikeToken(secret, [BOT_TOKEN_PREFIX])) return 'malformed';
    const row = await this.#select().select(['bots.tokenHash', 'accounts.disabledAt']).where('bots.tokenHash', '=', hashToken(secret)).executeTakeFirst();
    if (!row) return 'unknown';
    const now = this.#clock.now();
    if (row.expiresAt !== null && row.expiresAt <= now) return 'expired';
    if (row.disabledAt !== null) return 'disabled';
    // Last use to the minute; bookkeeping only: a full disk must not stop a deployment pulling what is stored.
    if (row.lastUsedAt === null || now - row.lastUsedAt >= LAST_USED_PRECISION_MS) {
      await this.#db.updateTable('bots').set({ lastUsedAt: now }).where('id', '=', row.id).execute().catch(unlessStorageFull);
    }
    return toBot(row);
  }

  /**
   * The bot behind a registry token (`botId`, `secretVersion` from its claims) if it still exists with that secret,
   * has not expired and its organization is enabled; cached for a few seconds (/v2 asks on every request).
   */
  async live(botId: number, secretVersion: number): Promise<Bot | null> {
    const now = this.#clock.now();
    const key = `${botId}:${secretVersion}`;
    const hit = this.#live.get(key);
    if (hit && hit.until > now) return hit.bot;
    const row = await this.#select().select('accounts.disabledAt').where('bots.id', '=', botId).executeTakeFirst();
    const bot = row && row.secretVersion === secretVersion && row.disabledAt === null && (row.expiresAt === null || row.expiresAt > now) ? toBot(row) : null;
    if (this.#live.size > 10_000) this.#live.clear();
    this.#live.set(key, { bot, until: now + LIVENESS_TTL_MS });
    return bot;
  }

  #select() {
    return this.#db.selectFrom('bots').innerJoin('accounts', 'accounts.id', 'bots.orgId')
      .select(['bots.id', 'bots.orgId', 'accounts.login', 'bots.name', 'bots.description', 'bots.packages', 'bots.actions', 'bots.hint',
        'bots.secretVersion', 'bots.expiresAt', 'bots.lastUsedAt', 'bots.createdAt', 'bots.rotatedAt']);
  }
}

function toBot(r: Row): Bot {
  return {
    id: r.id, orgId: r.orgId, org: r.login.toLowerCase(), name: r.name, secretVersion: r.secretVersion,
    packages: JSON.parse(r.packages) as string[], actions: r.actions.split(',') as Action[],
  };
}

function toInfo(r: Row): BotInfo {
  return {
    id: r.id, org: r.login.toLowerCase(), name: r.name, description: r.description, packages: JSON.parse(r.packages) as string[],
    actions: r.actions.split(',') as Action[], hint: r.hint, expiresAt: r.expiresAt, lastUsedAt: r.lastUsedAt, createdAt: r.createdAt, rotatedAt: r.rotatedAt,
  };
}
