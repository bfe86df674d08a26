import type { Db } from '../db/schema.js';

/** What a change tells the receivers: GitHub's `package`/`registry_package` events, or Berth's own in their style. */
export type PackageAction = 'published' | 'updated';
export type BerthAction = 'deleted' | 'restored';

/** Berth's events for what GitHub does not announce (README "Webhooks"). */
export const BERTH_VERSION_EVENT = 'berth_package_version';
export const BERTH_PACKAGE_EVENT = 'berth_package';
export const BERTH_RETENTION_EVENT = 'berth_retention';
export const BERTH_QUOTA_EVENT = 'berth_quota';

/**
 * The outbox: events written inside the transaction of the change that caused them (`tx`), so a change is never
 * committed without its event nor an event without its change. The delivery worker (webhook-worker.ts) reads them
 * afterwards and delivers them at least once to every hook that wants them.
 */
export const outbox = {
  /** A version pushed (`published`) or a tag moved onto an existing version (`updated`): both GitHub events. */
  async versionPushed(tx: Db, e: { manifestId: number; tag: string | null; action: PackageAction; senderId: number | null; at: number }): Promise<void> {
    const body = await versionBody(tx, e.manifestId, e.senderId, e.tag);
    if (!body) return;
    for (const event of ['package', 'registry_package'] as const) {
      await write(tx, body.about, event, e.action, { action: e.action, [event]: body.pkg, ...body.common }, e.at);
    }
  },

  /** A version deleted or restored (REST, retention). */
  async versionChanged(tx: Db, e: { manifestId: number; action: BerthAction; senderId: number | null; at: number }): Promise<void> {
    const body = await versionBody(tx, e.manifestId, e.senderId, null);
    if (body) await write(tx, body.about, BERTH_VERSION_EVENT, e.action, { action: e.action, package: body.pkg, ...body.common }, e.at);
  },

  /** A whole package deleted or restored. */
  async packageChanged(tx: Db, e: { repositoryId: number; action: BerthAction; senderId: number | null; at: number }): Promise<void> {
    await packageEvent(tx, e.repositoryId, BERTH_PACKAGE_EVENT, e.action, {}, e.senderId, e.at);
  },

  /** A package's visibility changed: `changes` as in GitHub's `edited` events, the value it had `from`. */
  async visibilityChanged(tx: Db, e: { repositoryId: number; from: string; senderId: number | null; at: number }): Promise<void> {
    await packageEvent(tx, e.repositoryId, BERTH_PACKAGE_EVENT, 'visibility_changed', { changes: { visibility: { from: e.from } } }, e.senderId, e.at);
  },

  /**
   * A tag that pointed at another version now points at this one (`tag_moved`, `changes.tag.from` the digest it
   * left), or was removed from this one (`tag_deleted`). A push onto a new tag is `published`/`updated` only.
   */
  async tagChanged(tx: Db, e: { manifestId: number; tag: string; action: 'tag_moved' | 'tag_deleted'; fromDigest: string | null; senderId: number | null; at: number }): Promise<void> {
    const body = await versionBody(tx, e.manifestId, e.senderId, e.tag);
    if (!body) return;
    const changes = e.action === 'tag_moved' ? { changes: { tag: { name: e.tag, from: e.fromDigest } } } : {};
    await write(tx, body.about, BERTH_VERSION_EVENT, e.action, { action: e.action, package: body.pkg, ...changes, ...body.common }, e.at);
  },

  /**
   * A push took its owner (`scope: owner`) or its package across the warning threshold of the quota (`warning`):
   * once per crossing, in the push's transaction, so the owner hears of it before pushes start to be refused.
   */
  async quotaWarning(tx: Db, e: { repositoryId: number; scope: 'owner' | 'package'; usedBytes: number; quotaBytes: number; warningPercent: number; senderId: number | null; at: number }): Promise<void> {
    await packageEvent(tx, e.repositoryId, BERTH_QUOTA_EVENT, 'warning', {
      quota: {
        scope: e.scope, used_bytes: e.usedBytes, limit_bytes: e.quotaBytes, warning_percent: e.warningPercent,
        percent_used: Math.floor((e.usedBytes * 100) / e.quotaBytes),
      },
    }, e.senderId, e.at);
  },

  /**
   * A retention run that deleted versions of a package: one summary (`completed`), beside the `deleted` event of each
   * version, so a receiver can report a run without counting them.
   */
  async retentionRun(tx: Db, e: { repositoryId: number; versions: readonly { id: number; digest: string }[]; at: number }): Promise<void> {
    await packageEvent(tx, e.repositoryId, BERTH_RETENTION_EVENT, 'completed', {
      retention: { deleted: e.versions.length, versions: e.versions.slice(0, 100), truncated: e.versions.length > 100 },
    }, null, e.at);
  },
};

/** `about`: the account and the package the event concerns, whose hooks get it (the instance's get them all). */
async function write(tx: Db, about: { ownerId: number | null; repositoryId: number | null }, event: string, action: string, payload: object, at: number): Promise<void> {
  await tx.insertInto('webhookEvents').values({ ...about, event, action, payload: JSON.stringify(payload), createdAt: at }).execute();
}

async function packageEvent(tx: Db, repositoryId: number, event: string, action: string, extra: object, senderId: number | null, at: number): Promise<void> {
  const repo = await tx.selectFrom('repositories').select(['id', 'name', 'deletedName', 'owner', 'createdAt', 'updatedAt', 'visibility'])
    .where('id', '=', repositoryId).executeTakeFirst();
  if (!repo) return;
  const name = repo.deletedName ?? repo.name;
  const ctx = await context(tx, repo.owner, senderId);
  const pkg = packageJson({ ...repo, name }, ctx.owner);
  await write(tx, { ownerId: ctx.ownerId, repositoryId: repo.id }, event, action, { action, package: pkg, ...extra, ...ctx.common }, at);
}

interface AccountJson { readonly login: string; readonly id: number; readonly type: 'User' | 'Organization' }

async function context(tx: Db, ownerLogin: string, senderId: number | null): Promise<{ ownerId: number | null; owner: AccountJson | null; common: Record<string, unknown> }> {
  const owner = await tx.selectFrom('accounts').select(['id', 'login', 'type']).where('lowerLogin', '=', ownerLogin.toLowerCase()).executeTakeFirst();
  const sender = senderId === null ? null
    : await tx.selectFrom('accounts').select(['id', 'login', 'type']).where('id', '=', senderId).executeTakeFirst();
  const json = (a: { id: number; login: string; type: 'user' | 'org' }): AccountJson => ({ login: a.login, id: a.id, type: a.type === 'org' ? 'Organization' : 'User' });
  const common: Record<string, unknown> = {};
  if (owner?.type === 'org') common.organization = { login: owner.login, id: owner.id };
  if (sender) common.sender = json(sender);
  return { ownerId: owner?.id ?? null, owner: owner ? json(owner) : null, common };
}

function packageJson(repo: { id: number; name: string; createdAt: number; updatedAt: number; visibility: string }, owner: AccountJson | null): Record<string, unknown> {
  const slash = repo.name.indexOf('/');
  return {
    id: repo.id,
    name: repo.name.slice(slash + 1),
    namespace: repo.name.slice(0, slash),
    ecosystem: 'CONTAINER',
    package_type: 'CONTAINER',
    visibility: repo.visibility,
    created_at: new Date(repo.createdAt).toISOString(),
    updated_at: new Date(repo.updatedAt).toISOString(),
    owner,
    registry: { type: 'docker', vendor: 'Berth', name: 'Berth' },
  };
}

/** GitHub's `package` object with its `package_version` (digest as version name, tags in container metadata). */
async function versionBody(tx: Db, manifestId: number, senderId: number | null, tag: string | null) {
  const m = await tx.selectFrom('manifests as m').innerJoin('repositories as r', 'r.id', 'm.repositoryId')
    .select(['m.id', 'm.digest', 'm.mediaType', 'm.description', 'm.createdAt', 'm.updatedAt',
      'r.id as repositoryId', 'r.name', 'r.owner', 'r.createdAt as repoCreatedAt', 'r.updatedAt as repoUpdatedAt', 'r.visibility'])
    .where('m.id', '=', manifestId).executeTakeFirst();
  if (!m) return null;
  const tags = [
    ...await tx.selectFrom('tags').select('name').where('manifestId', '=', manifestId).orderBy('name').execute(),
    ...await tx.selectFrom('deletedTags').select('name').where('manifestId', '=', manifestId).orderBy('name').execute(),
  ].map((t) => t.name);
  const ctx = await context(tx, m.owner, senderId);
  const pkg = packageJson({ id: m.repositoryId, name: m.name, createdAt: m.repoCreatedAt, updatedAt: m.repoUpdatedAt, visibility: m.visibility }, ctx.owner);
  pkg.package_version = {
    id: m.id,
    version: m.digest,
    name: m.digest,
    description: m.description ?? '',
    created_at: new Date(m.createdAt).toISOString(),
    updated_at: new Date(m.updatedAt).toISOString(),
    package_url: `${m.name}${tag ? `:${tag}` : `@${m.digest}`}`,
    container_metadata: { tag: { name: tag ?? '', digest: m.digest }, manifest: { media_type: m.mediaType }, tags },
    metadata: { package_type: 'container', container: { tags } },
  };
  return { about: { ownerId: ctx.ownerId, repositoryId: m.repositoryId }, pkg, common: ctx.common };
}
