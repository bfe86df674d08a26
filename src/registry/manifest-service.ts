import { createHash } from 'node:crypto';
import { preparedQuery } from '../db/prepared-query.js';
import type { Db } from '../db/schema.js';
import { lockRepository, transaction } from '../db/transaction.js';
import { outbox } from '../events/outbox.js';
import type { AuditLog } from '../audit/audit-log.js';
import { digestAlgorithm, makeDigest, type Digest } from '../oci/digest.js';
import { digestInvalid, manifestBlobUnknown, manifestUnknown, nameUnknown, tagImmutable } from '../oci/errors.js';
import { parseManifest, type ParsedManifest } from '../oci/manifest.js';
import { repoOwner, type Reference, type RepoName } from '../oci/names.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Clock } from '../util/clock.js';
import { readLimited } from '../util/read-limited.js';
import type { DownloadCounter } from './download-counter.js';
import type { CacheLimits, ChangeBoundCache } from '../db/change-bound-cache.js';
import type { RepositoryStore } from './repositories.js';
import { countVersions, enforceQuota, quotaWarnings } from './storage-usage.js';
import { refuseProtectedDeletion, type TagProtection } from './tag-protection.js';

export interface ManifestHead {
  readonly id: number;
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
  readonly subjectDigest: Digest | null;
}

export interface StoredManifest extends ManifestHead {
  readonly body: Buffer;
}

const SOURCE_LABEL = 'org.opencontainers.image.source';
const DESCRIPTION_LABEL = 'org.opencontainers.image.description';
const LICENSES_LABEL = 'org.opencontainers.image.licenses';
const MAX_CONFIG_BYTES = 1024 * 1024;

/** The labels Berth reads from a pushed image: annotations first, else the image config's labels. */
interface ImageLabels {
  readonly sourceUrl: string | null;
  /** GitHub's limits: description ≤ 512 characters, licences ≤ 256. */
  readonly description: string | null;
  readonly license: string | null;
}

/** The manifest cache: a few thousand manifests of ordinary size; big indexes are read from the database each time. */
export const MANIFEST_CACHE_LIMITS: CacheLimits<StoredManifest> = { maxBytes: 32 * 1024 * 1024, maxEntryBytes: 1024 * 1024, sizeOf: (m) => m.body.length };

/** Pushing, pulling and deleting manifests (spec "Pushing manifests", "Pulling manifests", "Deleting manifests"). */
export class ManifestService {
  readonly #db: Db;
  readonly #repos: RepositoryStore;
  readonly #clock: Clock;
  readonly #downloads: DownloadCounter;
  readonly #blobs: BlobStore;
  readonly #protection: TagProtection;
  readonly #audit: AuditLog;
  /** Config `quota.default`: the quota of owners without their own. */
  readonly #defaultQuota: number | null;
  readonly #quotaWarningPercent: number;
  readonly #auditPulls: boolean;
  readonly #cache: ChangeBoundCache<StoredManifest>;
  /** The manifest GET/HEAD lookups, compiled once: they are the registry's hottest queries. */
  readonly #lookups: Record<`${'tag' | 'digest'}:${'body' | 'head'}`, (name: string, reference: string) => Promise<(ManifestHead & { body?: Buffer })[]>>;

  constructor(deps: {
    db: Db; repos: RepositoryStore; clock: Clock; downloads: DownloadCounter; blobs: BlobStore; protection: TagProtection; audit: AuditLog; defaultQuota: number | null; quotaWarningPercent: number; auditPulls: boolean;
    /** Manifest lookups remembered (MANIFEST_CACHE_LIMITS): the database query was the largest cost of the registry's hottest request. */
    cache: ChangeBoundCache<StoredManifest>;
  }) {
    this.#db = deps.db;
    this.#cache = deps.cache;
    this.#defaultQuota = deps.defaultQuota;
    this.#quotaWarningPercent = deps.quotaWarningPercent;
    this.#auditPulls = deps.auditPulls;
    this.#audit = deps.audit;
    this.#blobs = deps.blobs;
    this.#protection = deps.protection;
    const lookup = (by: 'tag' | 'digest', withBody: boolean) => preparedQuery(this.#db as never, 2, (name, reference) => {
      let q = this.#db.selectFrom('manifests as m')
        .innerJoin('repositories as r', 'r.id', 'm.repositoryId')
        .select(['m.id', 'm.digest', 'm.mediaType', 'm.size', 'm.subjectDigest'])
        .where('r.name', '=', name!)
        // A deleted version is gone for /v2 (its tags were moved aside), though restorable through the REST API.
        .where('m.deletedAt', 'is', null);
      q = by === 'tag'
        ? q.innerJoin('tags as t', 't.manifestId', 'm.id').where('t.name', '=', reference!)
        : q.where('m.digest', '=', reference!);
      return (withBody ? q.select('m.body') : q) as never;
    }) as (name: string, reference: string) => Promise<(ManifestHead & { body?: Buffer })[]>;
    this.#lookups = {
      'tag:body': lookup('tag', true), 'tag:head': lookup('tag', false), 'digest:body': lookup('digest', true), 'digest:head': lookup('digest', false),
    };
    this.#repos = deps.repos;
    this.#clock = deps.clock;
    this.#downloads = deps.downloads;
  }

  /**
   * Stores `body` exactly as received under its digest and, for a tag reference, points the tag at it. Every
   * blob and child manifest it references must already be in the repository, except in a pull-through mirror
   * (`fromUpstream`): there the upstream vouches for them and they are fetched when first pulled (src/mirror/).
   */
  async put(
    name: RepoName, reference: Reference, body: Buffer, contentType: string | undefined, pusher: number | null, opts: { fromUpstream?: boolean } = {},
  ): Promise<ManifestHead> {
    const parsed = parseManifest(body, contentType);
    const algorithm = reference.kind === 'digest' ? digestAlgorithm(reference.digest) : 'sha256';
    const digest = makeDigest(algorithm, createHash(algorithm).update(body).digest('hex'));
    if (reference.kind === 'digest' && reference.digest !== digest) {
      throw digestInvalid('the manifest body does not match the digest in the URL', { expected: reference.digest, actual: digest });
    }
    const repo = await this.#repos.ensure(name, pusher);
    const { sourceUrl, description, license } = await this.#labels(parsed);

    const now = this.#clock.now();
    // Lock order (src/db/transaction.ts): the repository row, then manifests, references and tags.
    const id = await transaction(this.#db, async (tx) => {
      // First the repository row: on PostgreSQL the UPDATE row-locks it until commit, and GC's link removal takes
      // the same lock (GarbageCollector), so under READ COMMITTED a link cannot vanish between the reference check
      // below and this transaction's commit. SQLite runs one transaction at a time anyway.
      await tx.updateTable('repositories').set({ updatedAt: now }).where('id', '=', repo.id).execute();
      // Checked inside the transaction that writes the references, so GC cannot unlink a blob in between.
      if (!opts.fromUpstream) await this.#checkReferences(tx, repo.id, parsed);
      const inserted = await tx.insertInto('manifests').values({
        repositoryId: repo.id,
        digest,
        mediaType: parsed.mediaType,
        artifactType: parsed.artifactType,
        subjectDigest: parsed.subject?.digest ?? null,
        configDigest: parsed.config?.digest ?? null,
        size: body.length,
        body,
        annotations: JSON.stringify(parsed.annotations),
        description,
        license,
        pushedBy: pusher,
        createdAt: now,
        updatedAt: now,
      }).onConflict((oc) => oc.columns(['repositoryId', 'digest']).doNothing()).executeTakeFirst();
      let published = Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
      let tagMoved = false;
      let tagWas: number | null = null;
      const row = await tx.selectFrom('manifests').select(['id', 'deletedAt']).where('repositoryId', '=', repo.id).where('digest', '=', digest).executeTakeFirstOrThrow();
      if (row.deletedAt !== null) {
        // Pushing a deleted version again brings it back as a new version would be (GHCR); its old tags stay gone.
        await tx.updateTable('manifests').set({ deletedAt: null, updatedAt: now }).where('id', '=', row.id).execute();
        await tx.deleteFrom('deletedTags').where('manifestId', '=', row.id).execute();
        published = true;
      }
      const refs = [
        ...parsed.blobs.map((d) => ({ manifestId: row.id, digest: d.digest, kind: 'blob' as const })),
        ...parsed.children.map((d) => ({ manifestId: row.id, digest: d.digest, kind: 'manifest' as const })),
      ];
      const unique = [...new Map(refs.map((r) => [r.digest, r])).values()];
      if (unique.length > 0) {
        await tx.insertInto('manifestReferences').values(unique).onConflict((oc) => oc.columns(['manifestId', 'digest']).doNothing()).execute();
      }
      if (published) {
        // The storage figure counts the new version in this transaction; over quota, the throw rolls the push back.
        // A mirror filling its cache is the instance's doing: counted, never refused.
        const change = await countVersions(tx, repo.id, [row.id], 1);
        if (!opts.fromUpstream) {
          enforceQuota(change, name, this.#defaultQuota);
          for (const w of quotaWarnings(change, this.#defaultQuota, this.#quotaWarningPercent)) {
            await outbox.quotaWarning(tx, { repositoryId: repo.id, ...w, warningPercent: this.#quotaWarningPercent, senderId: pusher, at: now });
          }
        }
      }
      if (reference.kind === 'tag') {
        // An immutable tag may be pushed again with the digest it has (a CI retry), never moved. Checked after the
        // repository row lock above, so two pushes of one new tag cannot both see it free.
        const current = await tx.selectFrom('tags').select('manifestId').where('repositoryId', '=', repo.id).where('name', '=', reference.tag).executeTakeFirst();
        if (current && current.manifestId !== row.id) {
          const rule = (await this.#protection.protectedTags(tx, repo.id, [reference.tag])).get(reference.tag);
          if (rule) throw tagImmutable(reference.tag, name, rule, 'move');
        }
        tagMoved = current?.manifestId !== row.id;
        tagWas = current && current.manifestId !== row.id ? current.manifestId : null;
        await tx.insertInto('tags').values({ repositoryId: repo.id, name: reference.tag, manifestId: row.id, updatedAt: now })
          .onConflict((oc) => oc.columns(['repositoryId', 'name']).doUpdateSet({ manifestId: row.id, updatedAt: now }))
          .execute();
        await tx.updateTable('manifests').set({ updatedAt: now }).where('id', '=', row.id).execute();
      }
      if (sourceUrl) {
        // The first push that names a source links the package to it (ghcr.io does the same); later ones do not move it.
        await tx.updateTable('repositories').set({ sourceUrl }).where('id', '=', repo.id).where('sourceUrl', 'is', null).execute();
      }
      // The outbox, in this transaction (src/events/): a new version is `published`, a tag moved onto a version
      // already there `updated` (GitHub's actions). A mirror filling its cache publishes nothing.
      if (!opts.fromUpstream && (published || tagMoved)) {
        await outbox.versionPushed(tx, {
          manifestId: row.id, tag: reference.kind === 'tag' ? reference.tag : null, action: published ? 'published' : 'updated', senderId: pusher, at: now,
        });
        // The audit record, once per manifest PUT (never per blob): a new version, or a tag moved onto one there.
        const tag = reference.kind === 'tag' ? reference.tag : null;
        const was = tagWas === null ? null : (await tx.selectFrom('manifests').select('digest').where('id', '=', tagWas).executeTakeFirst())?.digest ?? null;
        if (tag !== null && tagWas !== null) {
          await outbox.tagChanged(tx, { manifestId: row.id, tag, action: 'tag_moved', fromDigest: was, senderId: pusher, at: now });
        }
        await this.#audit.record(tx, {
          action: published ? 'package.push' : 'tag.move', org: repoOwner(name), target: `${name}${tag ? `:${tag}` : `@${digest}`}`, repository: name,
          ...(was ? { before: { tag, digest: was } } : {}), after: { tag, digest, media_type: parsed.mediaType },
        });
      }
      return row.id;
    });
    return { id, digest, mediaType: parsed.mediaType, size: body.length, subjectDigest: parsed.subject?.digest ?? null };
  }

  /** Resolves a tag or digest to its manifest; `withBody` false for HEAD. A GET counts as one download. */
  async get(name: RepoName, reference: Reference, withBody: true): Promise<StoredManifest>;
  async get(name: RepoName, reference: Reference, withBody: false): Promise<ManifestHead>;
  async get(name: RepoName, reference: Reference, withBody: boolean): Promise<ManifestHead | StoredManifest> {
    const value = reference.kind === 'tag' ? reference.tag : reference.digest;
    const cacheKey = `${name}\n${reference.kind}\n${value}`;
    let row = this.#cache.get(cacheKey);
    if (!row) {
      const ticket = this.#cache.ticket();
      // With a cache, a HEAD reads the body too, so the GET that usually follows finds it.
      const [found] = await this.#lookups[`${reference.kind}:${withBody || ticket !== null ? 'body' : 'head'}`](name, value);
      if (!found) {
        if (!(await this.#repos.find(name))) throw nameUnknown(name);
        throw manifestUnknown(value);
      }
      row = found as StoredManifest;
      if (ticket !== null) this.#cache.put(cacheKey, row, ticket);
    }
    if (!withBody) return { id: row.id, digest: row.digest, mediaType: row.mediaType, size: row.size, subjectDigest: row.subjectDigest };
    this.#downloads.record(row.id);
    // Opt-in (config audit.pulls): a row per pull, in its own statement, as a pull changes nothing else.
    if (this.#auditPulls) {
      await this.#audit.record(this.#db, { action: 'package.pull', org: repoOwner(name), target: `${name}${reference.kind === 'tag' ? `:${reference.tag}` : `@${reference.digest}`}`, repository: name, after: { digest: row.digest } });
    }
    return row;
  }

  /**
   * Deleting by tag removes the tag only; by digest, the manifest and every tag pointing at it. Neither when an
   * immutable-tag rule protects the tag, or a tag on the manifest or on an index listing it.
   */
  async delete(name: RepoName, reference: Reference): Promise<void> {
    const repo = await this.#repos.get(name);
    await transaction(this.#db, async (tx) => {
      // The repository row first (lock order): a push moving a tag and this delete serialise.
      await lockRepository(tx, repo.id);
      if (reference.kind === 'tag') {
        const rule = (await this.#protection.protectedTags(tx, repo.id, [reference.tag])).get(reference.tag);
        const tag = await tx.selectFrom('tags').select('manifestId').where('repositoryId', '=', repo.id).where('name', '=', reference.tag).executeTakeFirst();
        if (!tag) throw manifestUnknown(reference.tag);
        if (rule) throw tagImmutable(reference.tag, name, rule, 'delete-tag');
        await tx.deleteFrom('tags').where('repositoryId', '=', repo.id).where('name', '=', reference.tag).execute();
        await outbox.tagChanged(tx, {
          manifestId: tag.manifestId, tag: reference.tag, action: 'tag_deleted', fromDigest: null, senderId: this.#audit.current()?.actorId ?? null, at: this.#clock.now(),
        });
        await this.#audit.record(tx, { action: 'tag.delete', org: repoOwner(name), target: `${name}:${reference.tag}`, repository: name });
        return;
      }
      const row = await tx.selectFrom('manifests').select('id').where('repositoryId', '=', repo.id).where('digest', '=', reference.digest)
        .where('deletedAt', 'is', null).executeTakeFirst();
      if (!row) throw manifestUnknown(reference.digest);
      await refuseProtectedDeletion(tx, this.#protection, { id: repo.id, name }, [row.id]);
      // Written before the row goes: the payload is read from it.
      await outbox.versionChanged(tx, { manifestId: row.id, action: 'deleted', senderId: null, at: this.#clock.now() });
      await countVersions(tx, repo.id, [row.id], -1);
      await tx.deleteFrom('manifests').where('id', '=', row.id).execute();
      await this.#audit.record(tx, { action: 'package_version.delete', org: repoOwner(name), target: `${name}@${reference.digest}`, repository: name, after: { permanent: true } });
    });
  }

  /**
   * `org.opencontainers.image.source`, `.description` and `.licenses`, each from the manifest's annotations (an
   * index's own for a multi-arch image), else from the image config's labels.
   */
  async #labels(parsed: ParsedManifest): Promise<ImageLabels> {
    const from = (key: string): unknown => parsed.annotations[key];
    let labels: Record<string, unknown> = {};
    const wanted = [SOURCE_LABEL, DESCRIPTION_LABEL, LICENSES_LABEL];
    if (wanted.some((k) => from(k) === undefined) && parsed.config && parsed.config.size <= MAX_CONFIG_BYTES) {
      try {
        const config = JSON.parse((await readLimited(await this.#blobs.read(parsed.config.digest), MAX_CONFIG_BYTES)).toString('utf8')) as {
          config?: { Labels?: Record<string, unknown> | null };
        };
        labels = config.config?.Labels ?? {};
      } catch {
        // not a JSON image config (an artifact): no labels to read
      }
    }
    const value = (key: string): unknown => from(key) ?? labels[key];
    const source = value(SOURCE_LABEL);
    return {
      sourceUrl: typeof source === 'string' && /^https?:\/\/\S+$/.test(source) && source.length <= 2048 ? source : null,
      description: text(value(DESCRIPTION_LABEL), 512),
      license: text(value(LICENSES_LABEL), 256),
    };
  }

  async #checkReferences(db: Db, repositoryId: number, parsed: ParsedManifest): Promise<void> {
    const wanted = [...parsed.blobs, ...parsed.children].map((d) => d.digest);
    if (wanted.length === 0) return;
    const found = new Set<string>();
    // Chunk the IN lists: SQLite limits bound parameters per statement.
    for (let i = 0; i < wanted.length; i += 500) {
      const part = wanted.slice(i, i + 500);
      const [blobs, manifests] = await Promise.all([
        // A quarantined blob counts as absent (MANIFEST_BLOB_UNKNOWN): the client uploads it again, which repairs it.
        db.selectFrom('repositoryBlobs as rb').innerJoin('blobs as b', 'b.digest', 'rb.digest').select('rb.digest')
          .where('rb.repositoryId', '=', repositoryId).where('rb.digest', 'in', part).where('b.quarantinedAt', 'is', null).execute(),
        db.selectFrom('manifests').select('digest').where('repositoryId', '=', repositoryId).where('digest', 'in', part)
          .where('deletedAt', 'is', null).execute(),
      ]);
      for (const r of [...blobs, ...manifests]) found.add(r.digest);
    }
    // An index entry may be a manifest or (buildx cache) a plain blob; image manifests reference blobs only.
    const missing = wanted.find((d) => !found.has(d));
    if (missing) throw manifestBlobUnknown(missing);
  }
}

function text(value: unknown, max: number): string | null {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, max) : null;
}
