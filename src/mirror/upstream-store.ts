import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import { MIRROR_NAMESPACE, parseMirrorReaders, parseUpstreamUrl, type MirrorReaders } from '../oci/names.js';
import type { Clock } from '../util/clock.js';
import { conflict, invalid, notFound } from '../util/errors.js';
import type { SecretSeal } from '../util/secret-seal.js';
import type { UpstreamSettings } from './upstream-client.js';

/** An upstream and where it is defined: the configuration (mirror.upstreams) or an admin at run time. */
export interface MirrorUpstream extends UpstreamSettings {
  readonly source: 'config' | 'admin';
}

export interface NewUpstream {
  readonly namespace: string;
  readonly url: string;
  readonly username?: string | null;
  readonly password?: string | null;
  readonly isDefault?: boolean;
  /** public, signed-in or org:LOGIN; absent or null: mirror.access. */
  readonly access?: string | null;
  readonly evictAfterMs?: number | null;
}

/**
 * The pull-through mirrors: those of the configuration, fixed for the process's life, and those an instance admin
 * adds and removes at run time (`berth mirror add|delete`, `/admin/mirrors`), kept in `mirror_upstreams`. A
 * namespace is one or the other. Adding one checks what the configuration checks (namespace, URL, credentials
 * together, one default), and that no account or live package already answers to the namespace: a mirror there
 * would take over their names. Removing one needs its cache empty (`berth mirror remove NAMESPACE` first), so no
 * cached package is left without the upstream that makes it read-only.
 */
export class UpstreamStore {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #audit: AuditLog;
  readonly #configured: readonly UpstreamSettings[];
  readonly #defaultAccess: MirrorReaders;
  readonly #seal: SecretSeal | null;

  /**
   * `configured`: mirror.upstreams; `defaultAccess`: mirror.access, for mirrors added without one; `seal`: with
   * auth.keyEncryptionKey, else passwords are stored as given.
   */
  constructor(deps: {
    db: Db; clock: Clock; audit: AuditLog; configured: readonly UpstreamSettings[]; defaultAccess: MirrorReaders; seal: SecretSeal | null;
  }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#configured = deps.configured;
    this.#defaultAccess = deps.defaultAccess;
    this.#seal = deps.seal;
  }

  /** Who may pull through a mirror added without saying (mirror.access). */
  get defaultAccess(): MirrorReaders {
    return this.#defaultAccess;
  }

  /** Whether passwords are stored sealed (auth.keyEncryptionKey is set). */
  get seals(): boolean {
    return this.#seal !== null;
  }

  /**
   * Every upstream in namespace order. A stored password that cannot be opened (sealed under another
   * auth.keyEncryptionKey) leaves its upstream anonymous: the upstream then refuses what needs signing in, and says so.
   */
  async list(): Promise<MirrorUpstream[]> {
    return this.#list(this.#db);
  }

  async #list(db: Db): Promise<MirrorUpstream[]> {
    const rows = await db.selectFrom('mirrorUpstreams').selectAll().execute();
    const stored = rows.map((r): MirrorUpstream => ({
      namespace: r.namespace, url: r.url, source: 'admin', isDefault: r.isDefault === 1, evictAfterMs: r.evictAfterMs,
      access: (r.access === null ? null : parseMirrorReaders(r.access)) ?? this.#defaultAccess,
      credentials: r.username !== null && r.password !== null ? this.#credentials(r.namespace, r.username, r.password) : null,
    }));
    return [...this.#configured.map((u): MirrorUpstream => ({ ...u, source: 'config' })), ...stored]
      .sort((a, b) => a.namespace.localeCompare(b.namespace));
  }

  async add(input: NewUpstream): Promise<MirrorUpstream> {
    const namespace = input.namespace;
    if (!MIRROR_NAMESPACE.test(namespace)) {
      throw invalid(`"${namespace}" is not a valid mirror namespace: lowercase letters and digits, single dashes inside (e.g. dockerhub)`);
    }
    let url: string;
    try {
      url = parseUpstreamUrl(input.url);
    } catch (err) {
      throw invalid((err as Error).message);
    }
    const username = input.username || null;
    const password = input.password || null;
    if ((username === null) !== (password === null)) throw invalid('a user name and a password go together (or neither: anonymous)');
    const evictAfterMs = input.evictAfterMs ?? null;
    if (evictAfterMs !== null && !(Number.isSafeInteger(evictAfterMs) && evictAfterMs > 0)) throw invalid('the eviction period must be a positive duration');
    const access = input.access ? parseMirrorReaders(input.access) : null;
    if (input.access && access === null) throw invalid(`"${input.access}" is not who may pull: public, signed-in or org:LOGIN`);
    const upstream: MirrorUpstream = {
      namespace, url, source: 'admin', isDefault: input.isDefault ?? false, evictAfterMs,
      access: access ?? this.#defaultAccess,
      credentials: username !== null && password !== null ? { username, password } : null,
    };
    await transaction(this.#db, async (tx) => {
      // Inside the transaction: SQLite's one connection is held by it.
      const existing = await this.#list(tx);
      const same = existing.find((u) => u.namespace === namespace);
      if (same) {
        throw conflict(same.source === 'config'
          ? `${namespace} is a mirror of the configuration (mirror.upstreams.${namespace}): change it there`
          : `${namespace} is already a mirror of ${same.url}: delete it first to change it`);
      }
      const otherDefault = existing.find((u) => u.isDefault);
      if (upstream.isDefault && otherDefault) throw conflict(`${otherDefault.namespace} is the default mirror already; only one may be`);
      if (await tx.selectFrom('accounts').select('id').where('lowerLogin', '=', namespace).executeTakeFirst()) {
        throw conflict(`an account is named ${namespace}: a mirror there would take over its packages' names`);
      }
      if (await holdsLiveVersions(tx, namespace)) throw conflict(`packages under ${namespace}/ hold versions: choose another namespace`);
      const org = access?.startsWith('org:') ? access.slice('org:'.length) : null;
      if (org !== null && !(await tx.selectFrom('accounts').select('id').where('lowerLogin', '=', org).where('type', '=', 'org').executeTakeFirst())) {
        throw invalid(`there is no organization ${org} to restrict the mirror to`);
      }
      await tx.insertInto('mirrorUpstreams').values({
        namespace, url: upstream.url, username, password: password === null ? null : this.#sealed(namespace, password), access,
        isDefault: upstream.isDefault ? 1 : 0, evictAfterMs, createdAt: this.#clock.now(),
      }).execute();
      await this.#audit.record(tx, {
        action: 'mirror.create', target: `mirror:${namespace}`,
        after: { url: upstream.url, username, access: upstream.access, isDefault: upstream.isDefault, evictAfterMs },
      });
    });
    return upstream;
  }

  async remove(namespace: string): Promise<void> {
    if (this.#configured.some((u) => u.namespace === namespace)) {
      throw conflict(`${namespace} is a mirror of the configuration (mirror.upstreams.${namespace}): remove it there`);
    }
    await transaction(this.#db, async (tx) => {
      const row = await tx.selectFrom('mirrorUpstreams').select(['url']).where('namespace', '=', namespace).executeTakeFirst();
      if (!row) throw notFound(`no mirror namespace ${namespace} (berth mirror list shows them)`);
      if (await holdsLiveVersions(tx, namespace)) {
        throw conflict(`${namespace} still caches images: remove them first (berth mirror remove ${namespace}), then delete the mirror`);
      }
      await tx.deleteFrom('mirrorUpstreams').where('namespace', '=', namespace).execute();
      await this.#audit.record(tx, { action: 'mirror.destroy', target: `mirror:${namespace}`, before: { url: row.url } });
    });
  }

  #sealed(namespace: string, password: string): string {
    return this.#seal ? this.#seal.seal(`mirror:${namespace}`, password) : password;
  }

  #credentials(namespace: string, username: string, stored: string): UpstreamSettings['credentials'] {
    try {
      return { username, password: this.#seal ? this.#seal.open(`mirror:${namespace}`, stored) : stored };
    } catch {
      return null;
    }
  }
}

/** Whether a live package under `namespace/` holds a live version. */
async function holdsLiveVersions(db: Db, namespace: string): Promise<boolean> {
  const row = await db.selectFrom('repositories as r').innerJoin('manifests as m', 'm.repositoryId', 'r.id')
    .select('m.id').where('r.owner', '=', namespace).where('r.deletedAt', 'is', null).where('m.deletedAt', 'is', null)
    .limit(1).executeTakeFirst();
  return row !== undefined;
}
