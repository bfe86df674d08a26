import type { Db } from '../db/schema.js';
import { outbox } from '../events/outbox.js';
import type { Role, Visibility } from '../auth/permissions.js';
import { invalid, notFound } from '../util/errors.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from '../audit/audit-log.js';
import { transaction } from '../db/transaction.js';

const VISIBILITIES: readonly Visibility[] = ['public', 'private', 'internal'];
const ROLES: readonly Role[] = ['read', 'write', 'admin'];
/** Longest README kept: a long one still fits the web UI's form body limit (64 KiB, URL-encoded). */
export const README_MAX_CHARS = 20_000;
const SOURCE_MAX_CHARS = 2048;

/** A package's visibility, its per-package roles for users and teams, its source link and README. */
export class PackageSettings {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #audit: AuditLog;

  constructor(deps: { db: Db; clock: Clock; audit: AuditLog }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
  }

  /**
   * Unlike ghcr.io, a public package may be made private again (a common request); the README says so. With
   * `orgPolicy` (a package admin who is not an owner of the organization) only the visibilities the organization's
   * package policy allows may be chosen, as on GitHub; owners and operators (the CLI) may choose any.
   */
  async setVisibility(name: string, visibility: string, opts: { orgPolicy?: boolean } = {}): Promise<void> {
    if (!(VISIBILITIES as readonly string[]).includes(visibility)) throw invalid(`visibility must be one of ${VISIBILITIES.join(', ')}`);
    const repo = await this.#repo(name);
    if (opts.orgPolicy && repo.ownerId !== null) {
      const owner = await this.#db.selectFrom('accounts').select(['login', 'type', 'allowedVisibilities']).where('id', '=', repo.ownerId).executeTakeFirst();
      const allowed: readonly string[] = owner?.type === 'org' ? owner.allowedVisibilities.split(',') : VISIBILITIES;
      if (!allowed.includes(visibility)) {
        throw invalid(`the organization ${owner!.login} allows only ${allowed.join(', ')} packages; an owner of ${owner!.login} can change that policy`);
      }
    }
    if (repo.visibility === visibility) return;
    await transaction(this.#db, async (tx) => {
      const now = this.#clock.now();
      await tx.updateTable('repositories').set({ visibility: visibility as Visibility, updatedAt: now }).where('id', '=', repo.id).execute();
      await outbox.visibilityChanged(tx, { repositoryId: repo.id, from: repo.visibility, senderId: this.#audit.current()?.actorId ?? null, at: now });
      await this.#audit.record(tx, {
        action: 'package.visibility_change', org: repo.owner, target: name, repository: name, before: { visibility: repo.visibility }, after: { visibility },
      });
    });
  }

  async grant(name: string, principal: { type: 'user' | 'team'; id: number }, role: string): Promise<void> {
    if (!(ROLES as readonly string[]).includes(role)) throw invalid(`role must be one of ${ROLES.join(', ')}`);
    const repo = await this.#repo(name);
    await transaction(this.#db, async (tx) => {
      await tx.insertInto('packagePermissions')
        .values({ repositoryId: repo.id, principalType: principal.type, principalId: principal.id, role: role as Role })
        .onConflict((oc) => oc.columns(['repositoryId', 'principalType', 'principalId']).doUpdateSet({ role: role as Role }))
        .execute();
      await this.#audit.record(tx, { action: 'package.grant', org: repo.owner, target: name, repository: name, after: { [principal.type]: principal.id, role } });
    });
  }

  async revoke(name: string, principal: { type: 'user' | 'team'; id: number }): Promise<void> {
    const repo = await this.#repo(name);
    await transaction(this.#db, async (tx) => {
      const gone = await tx.deleteFrom('packagePermissions').where('repositoryId', '=', repo.id)
        .where('principalType', '=', principal.type).where('principalId', '=', principal.id).executeTakeFirst();
      if (Number(gone.numDeletedRows) > 0) {
        await this.#audit.record(tx, { action: 'package.revoke_grant', org: repo.owner, target: name, repository: name, before: { [principal.type]: principal.id } });
      }
    });
  }

  /**
   * Links the package to its source ("Connect repository"): an absolute http(s) URL, or '' to unlink. A link set
   * here stays: a later push naming another source does not move it (manifest-service.ts links only unlinked ones).
   */
  async setSource(name: string, url: string): Promise<void> {
    const sourceUrl = url.trim() === '' ? null : sourceLink(url.trim());
    const repo = await this.#repo(name);
    if (repo.sourceUrl === sourceUrl) return;
    await transaction(this.#db, async (tx) => {
      await tx.updateTable('repositories').set({ sourceUrl, updatedAt: this.#clock.now() }).where('id', '=', repo.id).execute();
      await this.#audit.record(tx, {
        action: 'package.update_source', org: repo.owner, target: name, repository: name, before: { source_url: repo.sourceUrl }, after: { source_url: sourceUrl },
      });
    });
  }

  /** Sets the package's README (Markdown, kept as written); '' (or only blanks) removes it. */
  async setReadme(name: string, markdown: string): Promise<void> {
    const readme = markdown.replace(/\r\n?/g, '\n');
    if (readme.length > README_MAX_CHARS) throw invalid(`the README has ${readme.length} characters; at most ${README_MAX_CHARS} are kept`);
    const repo = await this.#repo(name);
    await transaction(this.#db, async (tx) => {
      await tx.updateTable('repositories').set({ readme: readme.trim() === '' ? null : readme, updatedAt: this.#clock.now() }).where('id', '=', repo.id).execute();
      // The text itself is not copied into the audit log: its size, so the record stays small.
      await this.#audit.record(tx, { action: 'package.update_readme', org: repo.owner, target: name, repository: name, after: { characters: readme.trim() === '' ? 0 : readme.length } });
    });
  }

  /** Who has a role on the package (direct grants to users and teams), by kind and name. */
  async grants(name: string): Promise<{ type: 'user' | 'team'; id: number; name: string; role: Role }[]> {
    const repo = await this.#repo(name);
    const [users, teams] = await Promise.all([
      this.#db.selectFrom('packagePermissions as p').innerJoin('accounts as a', 'a.id', 'p.principalId')
        .select(['a.id', 'a.login as name', 'p.role']).where('p.repositoryId', '=', repo.id).where('p.principalType', '=', 'user')
        .orderBy('a.lowerLogin').execute(),
      this.#db.selectFrom('packagePermissions as p').innerJoin('teams as t', 't.id', 'p.principalId')
        .select(['t.id', 't.name', 'p.role']).where('p.repositoryId', '=', repo.id).where('p.principalType', '=', 'team')
        .orderBy('t.lowerName').execute(),
    ]);
    return [
      ...users.map((u) => ({ type: 'user' as const, id: Number(u.id), name: u.name, role: u.role })),
      ...teams.map((t) => ({ type: 'team' as const, id: Number(t.id), name: t.name, role: t.role })),
    ];
  }

  async #repo(name: string): Promise<{ id: number; ownerId: number | null; owner: string; visibility: string; sourceUrl: string | null }> {
    const repo = await this.#db.selectFrom('repositories').select(['id', 'ownerId', 'owner', 'visibility', 'sourceUrl']).where('name', '=', name).executeTakeFirst();
    if (!repo) throw notFound(`no package named "${name}"`);
    return repo;
  }
}

/** An absolute http(s) URL with a host, as written (a `javascript:` or relative link is refused). */
function sourceLink(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`"${url.slice(0, 100)}" is not a URL: write it in full, e.g. https://github.com/acme/api`);
  }
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.host === '') throw invalid('the source link must be an http:// or https:// URL');
  if (url.length > SOURCE_MAX_CHARS || /\s/.test(url)) throw invalid(`the source link must be one URL of at most ${SOURCE_MAX_CHARS} characters`);
  return url;
}
