import { randomUUID } from 'node:crypto';
import type { Db } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import type { Clock } from '../util/clock.js';
import type { HookSecrets } from './hook-secrets.js';
import { sendDelivery, type Attempt } from './hook-sender.js';

export interface WebhookTiming {
  readonly timeoutMs: number;
  readonly retryPeriodMs: number;
  readonly maxBackoffMs: number;
  readonly allowPrivateTargets: boolean;
}

/** The first retry waits this long; each further one twice as long, up to maxBackoffMs. */
const FIRST_BACKOFF_MS = 1000;
const BATCH = 100;
/** The delivery log keeps finished deliveries this long (GitHub keeps 3 days; Berth a month). */
const LOG_KEEP_MS = 30 * 24 * 3600_000;
const PRUNE_EVERY_MS = 10 * 60_000;
/** Hooks delivered to at once in one run: a slow receiver holds up only its own queue. */
const PARALLEL_HOOKS = 8;

/** A hook wants an event when its `events` list names it, or `*`. */
export function wants(events: readonly string[], event: string): boolean {
  return event === 'ping' || events.includes('*') || events.includes(event);
}

/**
 * Delivers the outbox (a cluster-wide job under a lease, src/maintenance/scheduler.ts). Two steps per run, both
 * resumable from the database alone, so a restart or a replica dying loses nothing:
 * 1. fan-out: each new event becomes one delivery per hook wanting it, in one transaction with the event's mark;
 * 2. delivery: per hook, the oldest pending delivery is sent; only on success does the next one go (per-hook order).
 *    A failure is retried with exponential backoff; once a delivery has failed for `retryPeriodMs` it is marked
 *    failed and the hook disabled with the reason, its later deliveries kept for when it is enabled again.
 * A delivery is sent before its success is recorded, so a crash in between sends it again: at least once, with
 * the same `X-GitHub-Delivery` id.
 */
export class WebhookWorker {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #secrets: HookSecrets;
  readonly #timing: WebhookTiming;
  readonly #onResult: (result: Attempt['result']) => void;
  #prunedAt = 0;

  constructor(deps: { db: Db; clock: Clock; secrets: HookSecrets; timing: WebhookTiming; onResult?: (result: Attempt['result']) => void }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#secrets = deps.secrets;
    this.#timing = deps.timing;
    this.#onResult = deps.onResult ?? (() => {});
  }

  async run(signal: AbortSignal): Promise<void> {
    await this.fanOut();
    await this.#deliverDue(signal);
    await this.#prune();
  }

  /**
   * Fanned-out events are kept as long as their deliveries may be retried (each delivery holds its own copy of the
   * payload), finished deliveries for LOG_KEEP_MS; pending ones always.
   */
  async #prune(): Promise<void> {
    const now = this.#clock.now();
    // Two scans of small tables, but not on every tick.
    if (now - this.#prunedAt < PRUNE_EVERY_MS) return;
    this.#prunedAt = now;
    await this.#db.deleteFrom('webhookEvents').where('fannedOut', '=', 1).where('createdAt', '<', now - this.#timing.retryPeriodMs).execute();
    await this.#db.deleteFrom('hookDeliveries').where('status', '!=', 'pending').where('createdAt', '<', now - LOG_KEEP_MS).execute();
  }

  /** Turns new events into deliveries; returns how many events it handled. */
  async fanOut(): Promise<number> {
    let handled = 0;
    for (;;) {
      const events = await this.#db.selectFrom('webhookEvents').select(['id', 'ownerId', 'repositoryId', 'event', 'action', 'payload'])
        .where('fannedOut', '=', 0).orderBy('id').limit(BATCH).execute();
      if (events.length === 0) return handled;
      const now = this.#clock.now();
      await transaction(this.#db, async (tx) => {
        for (const e of events) {
          // A hook Berth disabled after failures (a reason is set) still queues: its events wait for it to be
          // enabled again. One its admin turned off gets nothing, as on GitHub.
          // The instance's hooks get every event, an account's those of its packages, a package's its own.
          const q = tx.selectFrom('hooks').select(['id', 'events']).where((eb) => eb.or([eb('active', '=', 1), eb('disabledReason', 'is not', null)]))
            .where((eb) => eb.or([
              eb('scope', '=', 'instance'),
              ...(e.ownerId === null ? [] : [eb.and([eb('scope', 'in', ['org', 'user']), eb('ownerId', '=', e.ownerId)])]),
              ...(e.repositoryId === null ? [] : [eb.and([eb('scope', '=', 'package'), eb('repositoryId', '=', e.repositoryId)])]),
            ]));
          const hooks = (await q.execute()).filter((h) => wants(JSON.parse(h.events) as string[], e.event));
          if (hooks.length > 0) {
            await tx.insertInto('hookDeliveries').values(hooks.map((h) => ({
              hookId: h.id, eventId: e.id, guid: randomUUID(), event: e.event, action: e.action, payload: e.payload,
              nextAttemptAt: now, statusCode: null, durationMs: null, response: null, createdAt: now, deliveredAt: null,
            }))).execute();
          }
          await tx.updateTable('webhookEvents').set({ fannedOut: 1 }).where('id', '=', e.id).execute();
        }
      });
      handled += events.length;
    }
  }

  async #deliverDue(signal: AbortSignal): Promise<void> {
    const hooks = await this.#db.selectFrom('hookDeliveries as d').innerJoin('hooks as h', 'h.id', 'd.hookId')
      .select('d.hookId').distinct().where('d.status', '=', 'pending').where('h.active', '=', 1)
      .where('d.nextAttemptAt', '<=', this.#clock.now()).execute();
    const queue = hooks.map((h) => h.hookId);
    const workers = Array.from({ length: Math.min(PARALLEL_HOOKS, queue.length) }, async () => {
      for (let id = queue.shift(); id !== undefined && !signal.aborted; id = queue.shift()) await this.#drain(id, signal);
    });
    await Promise.all(workers);
  }

  /** Sends the hook's pending deliveries in order, stopping at the first failure or one not yet due. */
  async #drain(hookId: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const hook = await this.#db.selectFrom('hooks').select(['id', 'url', 'secret', 'active']).where('id', '=', hookId).executeTakeFirst();
      if (!hook || hook.active !== 1) return;
      const head = await this.#db.selectFrom('hookDeliveries').selectAll().where('hookId', '=', hookId).where('status', '=', 'pending')
        .orderBy('id').limit(1).executeTakeFirst();
      if (!head || head.nextAttemptAt > this.#clock.now()) return;
      const attempt = await sendDelivery(
        { url: hook.url, guid: head.guid, event: head.event, hookId, payload: head.payload, secret: this.#secrets.open(hook.id, hook.secret) },
        this.#timing,
      );
      this.#onResult(attempt.result);
      const now = this.#clock.now();
      const response = JSON.stringify({ message: attempt.message, body: attempt.responseBody });
      const outcome = { attempts: head.attempts + 1, statusCode: attempt.statusCode, durationMs: attempt.durationMs, response };
      if (attempt.ok) {
        await this.#db.updateTable('hookDeliveries').set({ ...outcome, status: 'delivered', deliveredAt: now }).where('id', '=', head.id).execute();
        continue;
      }
      if (now - head.createdAt >= this.#timing.retryPeriodMs) {
        const reason = `delivery ${head.guid} failed for ${Math.round((now - head.createdAt) / 1000)} s: ${attempt.message}`;
        await transaction(this.#db, async (tx) => {
          await tx.updateTable('hookDeliveries').set({ ...outcome, status: 'failed', deliveredAt: now }).where('id', '=', head.id).execute();
          await tx.updateTable('hooks').set({ active: 0, disabledReason: reason, updatedAt: now }).where('id', '=', hookId).execute();
        });
        return;
      }
      const backoff = Math.min(this.#timing.maxBackoffMs, FIRST_BACKOFF_MS * 2 ** head.attempts);
      await this.#db.updateTable('hookDeliveries').set({ ...outcome, nextAttemptAt: now + backoff }).where('id', '=', head.id).execute();
      return;
    }
  }
}
