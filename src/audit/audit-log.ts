import { AsyncLocalStorage } from 'node:async_hooks';
import type { Selectable } from 'kysely';
import type { AuditLogTable, Db } from '../db/schema.js';
import type { Clock } from '../util/clock.js';

/**
 * GitHub-style action names (`<category>.<operation>`, README "Audit log"); the category is what `action:package`
 * in a phrase matches.
 */
export type AuditAction =
  | 'user.login' | 'user.failed_login' | 'user.create' | 'user.disable' | 'user.enable' | 'user.change_password'
  | 'token.create' | 'token.revoke' | 'token.failed_use'
  | 'org.create' | 'org.add_member' | 'org.update_member' | 'org.remove_member' | 'org.update_package_policy'
  | 'team.create' | 'team.destroy' | 'team.add_member' | 'team.remove_member'
  | 'package.push' | 'package.pull' | 'package.delete' | 'package.restore' | 'package.visibility_change' | 'package.grant' | 'package.revoke_grant'
  | 'package.update_policy' | 'package.update_source' | 'package.update_readme'
  | 'package.retention_run' | 'package_version.delete' | 'package_version.restore' | 'tag.move' | 'tag.delete'
  | 'hook.create' | 'hook.config_changed' | 'hook.destroy'
  | 'trust_policy.create' | 'trust_policy.destroy' | 'bot.create' | 'bot.rotate' | 'bot.destroy'
  | 'gc.run' | 'quota.update' | 'mirror.create' | 'mirror.destroy';

/**
 * Who acts and from where: set once per request by the HTTP layer (the credential resolver's answer, the client
 * address and User-Agent) or once per command by the CLI, and read by `record` so that services, which are called
 * by every surface, record without each surface passing it along. Never holds a secret: a token by its id only.
 */
export interface AuditScope {
  actorId: number | null;
  actorLogin: string | null;
  tokenId: number | null;
  address: string | null;
  userAgent: string | null;
}

/** One record as a service describes it; actor, address and time come from the scope and the clock. */
export interface AuditEntry {
  readonly action: AuditAction;
  /** The organization (or user namespace) the action belongs to: an account, or its login or id to look up. */
  readonly org?: { readonly id: number; readonly login: string } | string | number | null;
  readonly target?: string | null;
  /** `owner/name` of the package acted on (what `repo:` matches). */
  readonly repository?: string | null;
  readonly before?: Record<string, unknown> | null;
  readonly after?: Record<string, unknown> | null;
  /** Overrides the scope's actor (a sign-in is the user's own, known only once the password checked out). */
  readonly actor?: { readonly id: number | null; readonly login: string | null };
  /** Overrides the scope's address (credentials refused before the request's scope is entered). */
  readonly address?: string | null;
}

export type AuditRecord = Selectable<AuditLogTable>;

/**
 * The audit log: append-only. `record` writes in the caller's transaction (`tx`), the outbox way
 * (events/outbox.ts): a change is never committed without its record nor a record without its change.
 */
export class AuditLog {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #scope = new AsyncLocalStorage<AuditScope>();

  constructor(deps: { db: Db; clock: Clock }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
  }

  /** Runs `work` with `scope` as the actor of every record written inside it; the scope may be filled in later. */
  run<T>(scope: AuditScope, work: () => T): T {
    return this.#scope.run(scope, work);
  }

  /** The scope of the running request or command (mutable: the HTTP layer adds the actor once auth resolved it). */
  current(): AuditScope | undefined {
    return this.#scope.getStore();
  }

  async record(tx: Db, e: AuditEntry): Promise<void> {
    const scope = this.#scope.getStore();
    const org = typeof e.org === 'string'
      ? await tx.selectFrom('accounts').select(['id', 'login']).where('lowerLogin', '=', e.org.toLowerCase()).executeTakeFirst() ?? null
      : typeof e.org === 'number'
        ? await tx.selectFrom('accounts').select(['id', 'login']).where('id', '=', e.org).executeTakeFirst() ?? null
        : e.org ?? null;
    await tx.insertInto('auditLog').values({
      action: e.action,
      orgId: org?.id ?? null,
      orgLogin: org?.login ?? (typeof e.org === 'string' ? e.org : null),
      actorId: e.actor ? e.actor.id : scope?.actorId ?? null,
      actorLogin: e.actor ? e.actor.login : scope?.actorLogin ?? null,
      tokenId: e.actor ? null : scope?.tokenId ?? null,
      target: e.target ?? null,
      repository: e.repository?.toLowerCase() ?? null,
      before: e.before ? JSON.stringify(e.before) : null,
      after: e.after ? JSON.stringify(e.after) : null,
      address: e.address !== undefined ? e.address : scope?.address ?? null,
      userAgent: scope?.userAgent?.slice(0, 512) ?? null,
      createdAt: this.#clock.now(),
    }).execute();
  }

  /** A record outside any other change (a sign-in, a failed one): its own statement. */
  async recordAlone(e: AuditEntry): Promise<void> {
    await this.record(this.#db, e);
  }

  /**
   * One page of records, newest first. `orgId` null reads the whole instance. Cursors are record ids: `after`
   * gives the records older than it, `before` the ones newer (still newest first).
   */
  async page(q: { orgId: number | null; filter: AuditFilter; perPage: number; after?: number; before?: number }): Promise<{ rows: AuditRecord[]; older: boolean; newer: boolean }> {
    let query = this.#filtered(q.orgId, q.filter);
    if (q.before !== undefined) {
      // The page just above the cursor: the oldest perPage newer than it, read ascending, then turned round.
      const rows = await query.where('id', '>', q.before).orderBy('id', 'asc').limit(q.perPage + 1).execute();
      const newer = rows.length > q.perPage;
      return { rows: rows.slice(0, q.perPage).reverse(), older: true, newer };
    }
    if (q.after !== undefined) query = query.where('id', '<', q.after);
    const rows = await query.orderBy('id', 'desc').limit(q.perPage + 1).execute();
    return { rows: rows.slice(0, q.perPage), older: rows.length > q.perPage, newer: q.after !== undefined };
  }

  /** Every matching record since `since` (ms), oldest first, for `berth audit`; read in batches by id. */
  async *export(q: { orgId: number | null; since: number | null }): AsyncGenerator<AuditRecord> {
    let last = 0;
    for (;;) {
      let query = this.#filtered(q.orgId, {}).where('id', '>', last);
      if (q.since !== null) query = query.where('createdAt', '>=', q.since);
      const rows = await query.orderBy('id', 'asc').limit(500).execute();
      for (const r of rows) yield r;
      if (rows.length < 500) return;
      last = rows[rows.length - 1]!.id;
    }
  }

  /** Deletes records older than `olderThan` (ms), in batches so no statement holds the table long. */
  async prune(olderThan: number, signal?: AbortSignal): Promise<number> {
    let total = 0;
    for (;;) {
      if (signal?.aborted) return total;
      const batch = this.#db.selectFrom('auditLog').select('id').where('createdAt', '<', olderThan).orderBy('id').limit(1000);
      const done = await this.#db.deleteFrom('auditLog').where('id', 'in', batch).executeTakeFirst();
      const n = Number(done.numDeletedRows);
      total += n;
      if (n < 1000) return total;
    }
  }

  #filtered(orgId: number | null, f: AuditFilter) {
    let query = this.#db.selectFrom('auditLog').selectAll();
    if (orgId !== null) query = query.where('orgId', '=', orgId);
    for (const a of f.actions ?? []) {
      query = a.endsWith('.') ? query.where('action', 'like', `${a}%`) : query.where('action', '=', a);
    }
    if (f.actor !== undefined) query = query.where((eb) => eb.fn<string>('lower', ['actorLogin']), '=', f.actor.toLowerCase());
    if (f.repository !== undefined) {
      const repo = f.repository;
      query = repo.includes('/') ? query.where('repository', '=', repo) : query.where('repository', 'like', `%/${repo}`);
    }
    if (f.createdFrom !== undefined) query = query.where('createdAt', '>=', f.createdFrom);
    if (f.createdTo !== undefined) query = query.where('createdAt', '<', f.createdTo);
    return query;
  }
}

/**
 * What a phrase (audit-phrase.ts) narrows to; every field must hold. Values are checked against the action and
 * package-name grammars there, so they carry no LIKE wildcard but `_`, which matches itself among Berth's names.
 */
export interface AuditFilter {
  /** Exact names, or a category as `package.` (prefix). Several must all hold (GitHub ANDs qualifiers). */
  readonly actions?: readonly string[];
  readonly actor?: string;
  readonly repository?: string;
  readonly createdFrom?: number;
  readonly createdTo?: number;
}
