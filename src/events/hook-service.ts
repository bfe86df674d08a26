import { randomUUID } from 'node:crypto';
import type { Db, HookDeliveriesTable, HooksTable } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from '../audit/audit-log.js';
import { BerthError, invalid } from '../util/errors.js';
import type { Selectable } from 'kysely';
import { deliveryHeaders } from './hook-sender.js';
import type { HookSecrets } from './hook-secrets.js';
import { parseHookUrl } from './target-guard.js';

export type Hook = Omit<Selectable<HooksTable>, 'secret'> & { readonly hasSecret: boolean };
export type DeliveryRow = Selectable<HookDeliveriesTable>;

export interface HookInput {
  readonly url?: unknown;
  readonly contentType?: unknown;
  readonly secret?: unknown;
  readonly events?: unknown;
  readonly active?: unknown;
}

/** What a hook can subscribe to (README "Webhooks"); `*` is every one of them. */
export const HOOK_EVENTS = ['package', 'registry_package', 'berth_package_version', 'berth_package', 'berth_retention', 'berth_quota', '*'] as const;

/**
 * Whose hooks: the instance's (every event; admins), an organization's or a user's (events of the account's
 * packages; `ownerId`), or one package's (`repositoryId`; its owner as `ownerId`, for the audit log).
 */
export type HookScope =
  | { readonly kind: 'instance' }
  | { readonly kind: 'org' | 'user'; readonly ownerId: number }
  | { readonly kind: 'package'; readonly ownerId: number; readonly repositoryId: number };

export const INSTANCE_HOOKS: HookScope = { kind: 'instance' };

export const hookNotFound = (): BerthError => new BerthError({ status: 404, code: 'NOT_FOUND', message: 'Not Found' });

/**
 * Hooks of a scope (HookScope): their settings, pings, delivery log and redelivery.
 * Who may call this is decided by the caller (auth's Policy.administers), not here.
 */
export class HookService {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #secrets: HookSecrets;
  readonly #allowPrivate: boolean;
  readonly #audit: AuditLog;

  constructor(deps: { db: Db; clock: Clock; secrets: HookSecrets; allowPrivateTargets: boolean; audit: AuditLog }) {
    this.#db = deps.db;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#secrets = deps.secrets;
    this.#allowPrivate = deps.allowPrivateTargets;
  }

  async create(scope: HookScope, input: HookInput): Promise<Hook> {
    const url = parseHookUrl(input.url, this.#allowPrivate).toString();
    const events = parseEvents(input.events ?? ['*']);
    const contentType = parseContentType(input.contentType ?? 'json');
    const active = input.active === undefined ? true : parseBool(input.active, 'active');
    const secret = input.secret === undefined || input.secret === null ? null : parseSecret(input.secret);
    const now = this.#clock.now();
    const id = await transaction(this.#db, async (tx) => {
      const row = await tx.insertInto('hooks').values({
        scope: scope.kind, ownerId: ownerOf(scope), repositoryId: scope.kind === 'package' ? scope.repositoryId : null,
        url, contentType, secret: null, events: JSON.stringify(events), active: active ? 1 : 0, disabledReason: null, createdAt: now, updatedAt: now,
      }).returning('id').executeTakeFirstOrThrow();
      // Sealed bound to the id, known only now (hook-secrets.ts).
      if (secret !== null) await tx.updateTable('hooks').set({ secret: this.#secrets.toStored(row.id, secret) }).where('id', '=', row.id).execute();
      await this.#audit.record(tx, { action: 'hook.create', org: ownerOf(scope), target: `hook:${row.id}`, after: { url: targetOrigin(url), events, active, secret: secret !== null } });
      return row.id;
    });
    return (await this.get(scope, id))!;
  }

  async list(scope: HookScope, page: number, perPage: number): Promise<Hook[]> {
    const rows = await this.#scope(scope).selectAll().orderBy('id').limit(perPage).offset((page - 1) * perPage).execute();
    return rows.map(view);
  }

  async get(scope: HookScope, id: number): Promise<Hook | null> {
    const row = await this.#scope(scope).selectAll().where('id', '=', id).executeTakeFirst();
    return row ? view(row) : null;
  }

  /** PATCH semantics: absent fields stay; `active: true` clears the reason a failing hook was disabled for. */
  async update(scope: HookScope, id: number, input: HookInput): Promise<Hook> {
    const hook = await this.get(scope, id);
    if (!hook) throw hookNotFound();
    const set: Partial<{ url: string; contentType: string; secret: string | null; events: string; active: number; disabledReason: string | null; updatedAt: number }> = {
      updatedAt: this.#clock.now(),
    };
    if (input.url !== undefined) set.url = parseHookUrl(input.url, this.#allowPrivate).toString();
    if (input.contentType !== undefined) set.contentType = parseContentType(input.contentType);
    if (input.secret !== undefined) set.secret = input.secret === null ? null : this.#secrets.toStored(id, parseSecret(input.secret));
    if (input.events !== undefined) set.events = JSON.stringify(parseEvents(input.events));
    if (input.active !== undefined) {
      const active = parseBool(input.active, 'active');
      set.active = active ? 1 : 0;
      if (active) set.disabledReason = null;
    }
    await transaction(this.#db, async (tx) => {
      await tx.updateTable('hooks').set(set).where('id', '=', id).execute();
      // The secret by whether there is one, never by value.
      const { secret, updatedAt: _at, ...changed } = set;
      await this.#audit.record(tx, {
        action: 'hook.config_changed', org: ownerOf(scope), target: `hook:${id}`,
        before: { url: targetOrigin(hook.url), events: JSON.parse(hook.events) as unknown, active: hook.active === 1, secret: hook.hasSecret },
        after: {
          ...(changed.url ? { url: targetOrigin(changed.url) } : {}), ...(changed.events ? { events: JSON.parse(changed.events) as unknown } : {}),
          ...(changed.active === undefined ? {} : { active: changed.active === 1 }), ...(secret === undefined ? {} : { secret: secret !== null }),
          ...(changed.contentType ? { content_type: changed.contentType } : {}),
        },
      });
    });
    return (await this.get(scope, id))!;
  }

  async delete(scope: HookScope, id: number): Promise<void> {
    const hook = await this.get(scope, id);
    if (!hook) throw hookNotFound();
    await transaction(this.#db, async (tx) => {
      await tx.deleteFrom('hooks').where('id', '=', id).execute();
      await this.#audit.record(tx, { action: 'hook.destroy', org: ownerOf(scope), target: `hook:${id}`, before: { url: targetOrigin(hook.url) } });
    });
  }

  /** Queues GitHub's `ping` event for the hook; the worker sends it in the hook's order. */
  async ping(scope: HookScope, id: number): Promise<void> {
    const hook = await this.get(scope, id);
    if (!hook) throw hookNotFound();
    const now = this.#clock.now();
    const payload = JSON.stringify({
      zen: 'Deliveries are at least once; drop duplicates by X-GitHub-Delivery.', hook_id: id,
      hook: { type: hookType(scope.kind), id, active: hook.active === 1, events: JSON.parse(hook.events) as unknown },
    });
    await this.#db.insertInto('hookDeliveries').values({
      hookId: id, eventId: null, guid: randomUUID(), event: 'ping', action: null, payload, nextAttemptAt: now,
      statusCode: null, durationMs: null, response: null, createdAt: now, deliveredAt: null,
    }).execute();
  }

  /** The hook's delivery log, newest first, paged by id (`cursor`: below this id). */
  async deliveries(scope: HookScope, id: number, perPage: number, before: number | null): Promise<DeliveryRow[]> {
    if (!(await this.get(scope, id))) throw hookNotFound();
    let q = this.#db.selectFrom('hookDeliveries').selectAll().where('hookId', '=', id);
    if (before !== null) q = q.where('id', '<', before);
    return q.orderBy('id', 'desc').limit(perPage).execute();
  }

  async delivery(scope: HookScope, hookId: number, deliveryId: number): Promise<{ row: DeliveryRow; requestHeaders: Record<string, string> } | null> {
    const hook = await this.#scope(scope).select(['id', 'secret', 'url']).where('id', '=', hookId).executeTakeFirst();
    if (!hook) return null;
    const row = await this.#db.selectFrom('hookDeliveries').selectAll().where('hookId', '=', hookId).where('id', '=', deliveryId).executeTakeFirst();
    return row ? { row, requestHeaders: requestHeaders(hook, row) } : null;
  }

  /** The delivery log with each request's headers, as the settings page shows it (newest first). */
  async deliveryLog(scope: HookScope, hookId: number, perPage: number): Promise<{ row: DeliveryRow; requestHeaders: Record<string, string> }[]> {
    const hook = await this.#scope(scope).select(['id', 'secret', 'url']).where('id', '=', hookId).executeTakeFirst();
    if (!hook) throw hookNotFound();
    const rows = await this.deliveries(scope, hookId, perPage, null);
    return rows.map((row) => ({ row, requestHeaders: requestHeaders(hook, row) }));
  }

  /** A new attempt of a past delivery, with its id (`X-GitHub-Delivery`) and payload; queued after the hook's others. */
  async redeliver(scope: HookScope, hookId: number, deliveryId: number): Promise<void> {
    const found = await this.delivery(scope, hookId, deliveryId);
    if (!found) throw hookNotFound();
    const now = this.#clock.now();
    const r = found.row;
    await this.#db.insertInto('hookDeliveries').values({
      hookId, eventId: r.eventId, guid: r.guid, event: r.event, action: r.action, payload: r.payload, redelivery: 1, nextAttemptAt: now,
      statusCode: null, durationMs: null, response: null, createdAt: now, deliveredAt: null,
    }).execute();
  }

  #scope(scope: HookScope) {
    const q = this.#db.selectFrom('hooks').where('scope', '=', scope.kind);
    if (scope.kind === 'instance') return q;
    if (scope.kind === 'package') return q.where('repositoryId', '=', scope.repositoryId);
    return q.where('ownerId', '=', scope.ownerId);
  }
}

/** The headers a delivery was sent with; the signature shown elided (it is the secret's HMAC, but no one needs it). */
function requestHeaders(hook: { id: number; url: string; secret: string | null }, row: DeliveryRow): Record<string, string> {
  const headers = deliveryHeaders({ url: hook.url, guid: row.guid, event: row.event, hookId: hook.id, payload: row.payload, secret: null });
  if (hook.secret !== null) headers['x-hub-signature-256'] = 'sha256=…';
  return headers;
}

function ownerOf(scope: HookScope): number | null {
  return scope.kind === 'instance' ? null : scope.ownerId;
}

/** GitHub's `type` of a hook (`Organization`, `Repository`…), Berth's scopes in the same words. */
export function hookType(kind: HookScope['kind']): string {
  return { instance: 'Instance', org: 'Organization', user: 'User', package: 'Package' }[kind];
}

/** A hook URL as the audit log keeps it: scheme, host and port; paths and queries often carry a receiver's secret. */
function targetOrigin(url: string): string {
  return new URL(url).origin;
}

function view(row: Selectable<HooksTable>): Hook {
  const { secret, ...rest } = row;
  return { ...rest, hasSecret: secret !== null };
}

function parseEvents(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((e) => typeof e === 'string' && (HOOK_EVENTS as readonly string[]).includes(e))) {
    throw invalid(`events must be a non-empty list of ${HOOK_EVENTS.join(', ')}`);
  }
  return [...new Set(raw as string[])];
}

function parseContentType(raw: unknown): string {
  if (raw !== 'json') throw invalid('config.content_type must be "json" (Berth sends JSON bodies only)');
  return raw;
}

function parseSecret(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 1024) throw invalid('config.secret must be a string of at most 1024 characters');
  return raw;
}

function parseBool(raw: unknown, key: string): boolean {
  if (typeof raw !== 'boolean') throw invalid(`${key} must be true or false`);
  return raw;
}
