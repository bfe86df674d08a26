import { sql } from 'kysely';
import type { Dialect } from '../db/connect.js';
import type { Db } from '../db/schema.js';
import { quotaExceeded } from '../oci/errors.js';

/**
 * Berth's one storage figure ("Storage" wherever it is shown): for a package, the distinct blobs its live versions
 * reference (a layer shared by several versions counts once) plus those versions' manifests; for an owner, the same
 * over its live packages (a blob shared by two packages counts once). Deleted versions and packages do not count,
 * though their bytes stay until purged and collected.
 *
 * The figures are kept in tables (migration 0019) by the transactions that make versions live or not, so reading
 * one is a primary-key lookup and a push costs a few upserts, never a scan. Each step is one statement whose effect
 * does not depend on what the transaction read before: an upsert adding to a counter and RETURNING the new value.
 * On PostgreSQL (READ COMMITTED) concurrent pushes to one owner wait on the counter rows they share and each sees
 * the value the other committed, so exactly one of two pushes sharing a new blob counts it, and a quota check on
 * the returned total is exact. Rows are touched in digest order to keep lock order stable.
 */

/** A figure after a change, with the quota it is held to and how much the change added. */
export interface StorageFigure {
  readonly bytes: number;
  readonly quotaBytes: number | null;
  readonly addedBytes: number;
}

export interface StorageChange {
  readonly owner: string;
  readonly ownerFigure: StorageFigure | null;
  readonly packageFigure: StorageFigure;
}

/** Owners and packages holding blob rows: chunked IN lists (SQLite limits bound parameters per statement). */
const CHUNK = 400;

/** Versions `manifestIds` of package `repositoryId` became live (+1: pushed, restored) or stopped being (-1). */
export async function countVersions(tx: Db, repositoryId: number, manifestIds: readonly number[], sign: 1 | -1): Promise<StorageChange> {
  // Two reads: the package with the versions' manifest bytes, then their blob references with the blobs' sizes.
  const repo = await tx.selectFrom('repositories').where('id', '=', repositoryId)
    .select(['owner', 'deletedAt', (eb) => eb.selectFrom('manifests').select((e) => e.fn.sum('size').as('bytes')).where('id', 'in', manifestIds).as('bytes')])
    .executeTakeFirstOrThrow();
  const manifestBytes = Number(repo.bytes ?? 0);
  const refs = new Map<string, { n: number; size: number }>();
  for (let i = 0; i < manifestIds.length; i += CHUNK) {
    const rows = await tx.selectFrom('manifestReferences as r').leftJoin('blobs as b', 'b.digest', 'r.digest')
      .select(['r.digest', (eb) => eb.fn.countAll().as('n'), (eb) => eb.fn.max('b.size').as('size')])
      .where('r.manifestId', 'in', manifestIds.slice(i, i + CHUNK)).where('r.kind', '=', 'blob').groupBy('r.digest').execute();
    for (const r of rows) refs.set(r.digest, { n: (refs.get(r.digest)?.n ?? 0) + Number(r.n), size: Number(r.size ?? 0) });
  }
  const changed = await packageRefs(tx, repositoryId, refs, sign);
  const packageFigure = await addToPackage(tx, repositoryId, repo.owner, sign * (manifestBytes + total(changed)), sign * manifestIds.length);
  if (repo.deletedAt !== null) return { owner: repo.owner, ownerFigure: null, packageFigure };
  const ownerChanged = await ownerRefs(tx, repo.owner, changed, sign);
  const ownerFigure = await addToOwner(tx, repo.owner, sign * (manifestBytes + total(ownerChanged)), 0, sign * manifestIds.length);
  return { owner: repo.owner, ownerFigure, packageFigure };
}

/**
 * The bytes of blob `digest` arrived in package `repositoryId` after versions referencing it: a mirror caches a
 * manifest before its layers, so its versions were counted with those layers at size 0. Counts them now, once: only
 * rows still at 0 change. Lock order as countVersions: the package's rows, then the owner's.
 */
export async function countArrivedBlob(tx: Db, repositoryId: number, digest: string): Promise<void> {
  const blob = await tx.selectFrom('blobs').select('size').where('digest', '=', digest).executeTakeFirst();
  const size = Number(blob?.size ?? 0);
  if (size === 0) return;
  const pkg = await tx.updateTable('packageBlobRefs').set({ size }).where('repositoryId', '=', repositoryId).where('digest', '=', digest)
    .where('size', '=', 0).returning('repositoryId').executeTakeFirst();
  if (!pkg) return;
  const repo = await tx.selectFrom('repositories').select(['owner', 'deletedAt']).where('id', '=', repositoryId).executeTakeFirstOrThrow();
  await addToPackage(tx, repositoryId, repo.owner, size, 0);
  const owner = await tx.updateTable('ownerBlobRefs').set({ size }).where('owner', '=', repo.owner).where('digest', '=', digest)
    .where('size', '=', 0).returning('owner').executeTakeFirst();
  if (owner) await addToOwner(tx, repo.owner, size);
}

/**
 * Package `repositoryId` of `owner` was just created: its figures start at zero, and its owner has one live package
 * more. In the transaction that inserted it.
 */
export async function countNewPackage(tx: Db, repositoryId: number, owner: string): Promise<void> {
  await tx.insertInto('packageStorage').values({ repositoryId, owner, quotaBytes: null }).onConflict((oc) => oc.column('repositoryId').doNothing()).execute();
  await addToOwner(tx, owner, 0, 1);
}

/** Package `repositoryId` was deleted (-1) or restored (+1): its figure leaves or rejoins its owner's, with its count. */
export async function countPackage(tx: Db, repositoryId: number, sign: 1 | -1): Promise<void> {
  const repo = await tx.selectFrom('repositories').select('owner').where('id', '=', repositoryId).executeTakeFirstOrThrow();
  const manifests = await tx.selectFrom('manifests').select((eb) => eb.fn.sum('size').as('bytes'))
    .where('repositoryId', '=', repositoryId).where('deletedAt', 'is', null).executeTakeFirst();
  let delta = Number(manifests?.bytes ?? 0);
  // Keyset pages: a package may reference many blobs.
  for (let after = ''; ;) {
    const rows = await tx.selectFrom('packageBlobRefs').select(['digest', 'size']).where('repositoryId', '=', repositoryId)
      .where('digest', '>', after).orderBy('digest').limit(CHUNK).execute();
    if (rows.length === 0) break;
    delta += total(await ownerRefs(tx, repo.owner, new Map(rows.map((r) => [r.digest, Number(r.size)])), sign));
    after = rows[rows.length - 1]!.digest;
  }
  const versions = await tx.selectFrom('packageStorage').select('versionCount').where('repositoryId', '=', repositoryId).executeTakeFirst();
  await addToOwner(tx, repo.owner, sign * delta, sign, sign * Number(versions?.versionCount ?? 0));
}

/** An owner or package whose push took it across the warning threshold (config `quota.warning`) of its quota. */
export interface QuotaWarning {
  readonly scope: 'owner' | 'package';
  readonly usedBytes: number;
  readonly quotaBytes: number;
}

/**
 * The figures `change` took from below `warningPercent` of their quota to at or above it (each crossing once, not
 * every push above the line; under the quota itself, as enforceQuota has let the change through).
 */
export function quotaWarnings(change: StorageChange, defaultQuota: number | null, warningPercent: number): QuotaWarning[] {
  const crossed = (scope: QuotaWarning['scope'], f: StorageFigure | null, quota: number | null): QuotaWarning[] => {
    if (!f || quota === null || f.addedBytes <= 0) return [];
    const line = (quota * warningPercent) / 100;
    return f.bytes - f.addedBytes < line && f.bytes >= line ? [{ scope, usedBytes: f.bytes, quotaBytes: quota }] : [];
  };
  return [
    ...crossed('owner', change.ownerFigure, change.ownerFigure?.quotaBytes ?? defaultQuota),
    ...crossed('package', change.packageFigure, change.packageFigure.quotaBytes),
  ];
}

/**
 * Refuses (DENIED) a change that added bytes and left the owner or the package over its quota. Called inside the
 * transaction that made the change, so throwing rolls it back: nothing of the push becomes visible.
 */
export function enforceQuota(change: StorageChange, packageName: string, defaultQuota: number | null): void {
  const owner = change.ownerFigure;
  const ownerQuota = owner?.quotaBytes ?? defaultQuota;
  if (owner && ownerQuota !== null && owner.addedBytes > 0 && owner.bytes > ownerQuota) {
    throw quotaExceeded(change.owner, owner.bytes, ownerQuota, 'push');
  }
  const pkg = change.packageFigure;
  if (pkg.quotaBytes !== null && pkg.addedBytes > 0 && pkg.bytes > pkg.quotaBytes) {
    throw quotaExceeded(packageName, pkg.bytes, pkg.quotaBytes, 'push');
  }
}

/** Refuses (DENIED) new blobs for an owner already at or over its quota: one primary-key read. */
export async function refuseIfOverQuota(db: Db, owner: string, defaultQuota: number | null): Promise<void> {
  const row = await db.selectFrom('ownerStorage').select(['bytes', 'quotaBytes']).where('owner', '=', owner).executeTakeFirst();
  const quota = row?.quotaBytes ?? defaultQuota;
  const used = Number(row?.bytes ?? 0);
  if (quota !== null && used >= quota) throw quotaExceeded(owner, used, quota, 'upload');
}

/**
 * Rebuilds the figures of `owner` (every owner when null) from the versions themselves, in one transaction: what
 * `berth usage recompute` runs after a restore from backup or to check the counters. Quotas are kept.
 */
export async function recomputeUsage(db: Db, dialect: Dialect, owner: string | null): Promise<{ owners: number; packages: number }> {
  return db.transaction().execute(async (tx) => {
    // PostgreSQL: wait for pushes that already counted to commit (their versions are then read below), and make
    // later ones wait for this rebuild (they then count on top of it). SQLite runs one transaction at a time.
    if (dialect === 'postgres') {
      await sql`lock table package_blob_refs, owner_blob_refs, package_storage, owner_storage in share row exclusive mode`.execute(tx);
    }
    const packages = tx.selectFrom('repositories').select('id').$if(owner !== null, (q) => q.where('owner', '=', owner!));
    await tx.deleteFrom('packageBlobRefs').where('repositoryId', 'in', packages).execute();
    await tx.insertInto('packageBlobRefs').columns(['repositoryId', 'digest', 'size', 'refs']).expression(
      tx.selectFrom('manifestReferences as r').innerJoin('manifests as m', 'm.id', 'r.manifestId').leftJoin('blobs as b', 'b.digest', 'r.digest')
        .select(['m.repositoryId', 'r.digest', (eb) => eb.fn.coalesce(eb.fn.max('b.size'), eb.lit(0)).as('size'), (eb) => eb.fn.countAll().as('refs')])
        .where('r.kind', '=', 'blob').where('m.deletedAt', 'is', null).where('m.repositoryId', 'in', packages)
        .groupBy(['m.repositoryId', 'r.digest']),
    ).execute();
    await tx.deleteFrom('ownerBlobRefs').$if(owner !== null, (q) => q.where('owner', '=', owner!)).execute();
    await tx.insertInto('ownerBlobRefs').columns(['owner', 'digest', 'size', 'packages']).expression(
      tx.selectFrom('packageBlobRefs as x').innerJoin('repositories as p', 'p.id', 'x.repositoryId')
        .select(['p.owner', 'x.digest', (eb) => eb.fn.max('x.size').as('size'), (eb) => eb.fn.countAll().as('packages')])
        .where('p.deletedAt', 'is', null).$if(owner !== null, (q) => q.where('p.owner', '=', owner!))
        .groupBy(['p.owner', 'x.digest']),
    ).execute();
    const manifestBytes = (live: 'package' | 'owner') => tx.selectFrom('manifests as m').innerJoin('repositories as p', 'p.id', 'm.repositoryId')
      .select(['m.repositoryId', 'p.owner', (eb) => eb.fn.sum('m.size').as('bytes'), (eb) => eb.fn.countAll().as('versions')]).where('m.deletedAt', 'is', null)
      .$if(live === 'owner', (q) => q.where('p.deletedAt', 'is', null)).$if(owner !== null, (q) => q.where('p.owner', '=', owner!))
      .groupBy(['m.repositoryId', 'p.owner']).execute();
    const [pkgBlobs, ownerBlobs, pkgManifests, ownerManifests, repos] = await Promise.all([
      tx.selectFrom('packageBlobRefs').select(['repositoryId', (eb) => eb.fn.sum('size').as('bytes')]).where('repositoryId', 'in', packages)
        .groupBy('repositoryId').execute(),
      tx.selectFrom('ownerBlobRefs').select(['owner', (eb) => eb.fn.sum('size').as('bytes')])
        .$if(owner !== null, (q) => q.where('owner', '=', owner!)).groupBy('owner').execute(),
      manifestBytes('package'),
      manifestBytes('owner'),
      tx.selectFrom('repositories').select(['id', 'owner', 'deletedAt']).$if(owner !== null, (q) => q.where('owner', '=', owner!)).execute(),
    ]);
    const perPackage = new Map<number, number>();
    for (const r of [...pkgBlobs, ...pkgManifests]) perPackage.set(r.repositoryId, (perPackage.get(r.repositoryId) ?? 0) + Number(r.bytes));
    const perOwner = new Map<string, number>(repos.map((r) => [r.owner, 0]));
    if (owner !== null) perOwner.set(owner, 0);
    for (const r of ownerBlobs) perOwner.set(r.owner, (perOwner.get(r.owner) ?? 0) + Number(r.bytes));
    for (const r of ownerManifests) perOwner.set(r.owner, (perOwner.get(r.owner) ?? 0) + Number(r.bytes));
    const versions = new Map(pkgManifests.map((r) => [r.repositoryId, Number(r.versions)]));
    const liveVersions = new Map<string, number>();
    for (const r of ownerManifests) liveVersions.set(r.owner, (liveVersions.get(r.owner) ?? 0) + Number(r.versions));
    const livePackages = new Map<string, number>();
    for (const r of repos) {
      const bytes = perPackage.get(r.id) ?? 0;
      const versionCount = versions.get(r.id) ?? 0;
      await tx.insertInto('packageStorage').values({ repositoryId: r.id, owner: r.owner, bytes, quotaBytes: null, versionCount })
        .onConflict((oc) => oc.column('repositoryId').doUpdateSet({ bytes, versionCount })).execute();
      if (r.deletedAt === null) livePackages.set(r.owner, (livePackages.get(r.owner) ?? 0) + 1);
    }
    for (const [login, bytes] of perOwner) {
      const packageCount = livePackages.get(login) ?? 0;
      const versionCount = liveVersions.get(login) ?? 0;
      await tx.insertInto('ownerStorage').values({ owner: login, bytes, quotaBytes: null, packageCount, versionCount })
        .onConflict((oc) => oc.column('owner').doUpdateSet({ bytes, packageCount, versionCount })).execute();
    }
    return { owners: perOwner.size, packages: repos.length };
  });
}

/** Adds `refs` (digest → references) to the package's counters; returns the blobs that came (+1) or went (-1), with their sizes. */
async function packageRefs(tx: Db, repositoryId: number, refs: Map<string, { n: number; size: number }>, sign: 1 | -1): Promise<Map<string, number>> {
  const changed = new Map<string, number>();
  const digests = [...refs.keys()].sort();
  for (let i = 0; i < digests.length; i += CHUNK) {
    const part = digests.slice(i, i + CHUNK);
    if (sign > 0) {
      const rows = await tx.insertInto('packageBlobRefs')
        .values(part.map((digest) => ({ repositoryId, digest, size: refs.get(digest)!.size, refs: refs.get(digest)!.n })))
        .onConflict((oc) => oc.columns(['repositoryId', 'digest']).doUpdateSet((eb) => ({ refs: eb('packageBlobRefs.refs', '+', eb.ref('excluded.refs')) })))
        .returning(['digest', 'size', 'refs']).execute();
      // The counter equals what this change added: the blob was not referenced before.
      for (const r of rows) if (Number(r.refs) === refs.get(r.digest)!.n) changed.set(r.digest, Number(r.size));
    } else {
      // Versions reference a blob once each, so the amounts are usually all 1: one UPDATE per distinct amount.
      for (const n of new Set(part.map((d) => refs.get(d)!.n))) {
        const rows = await tx.updateTable('packageBlobRefs').set((eb) => ({ refs: eb('refs', '-', n) }))
          .where('repositoryId', '=', repositoryId).where('digest', 'in', part.filter((d) => refs.get(d)!.n === n))
          .returning(['digest', 'size', 'refs']).execute();
        for (const r of rows) if (Number(r.refs) <= 0) changed.set(r.digest, Number(r.size));
      }
      if (changed.size > 0) {
        await tx.deleteFrom('packageBlobRefs').where('repositoryId', '=', repositoryId).where('digest', 'in', part).where('refs', '<=', 0).execute();
      }
    }
  }
  return changed;
}

/** One package more (+1) or fewer (-1) references each blob of `blobs` for the owner; returns those that came or went. */
async function ownerRefs(tx: Db, owner: string, blobs: Map<string, number>, sign: 1 | -1): Promise<Map<string, number>> {
  const changed = new Map<string, number>();
  const digests = [...blobs.keys()].sort();
  for (let i = 0; i < digests.length; i += CHUNK) {
    const part = digests.slice(i, i + CHUNK);
    if (sign > 0) {
      const rows = await tx.insertInto('ownerBlobRefs').values(part.map((digest) => ({ owner, digest, size: blobs.get(digest)!, packages: 1 })))
        .onConflict((oc) => oc.columns(['owner', 'digest']).doUpdateSet((eb) => ({ packages: eb('ownerBlobRefs.packages', '+', 1) })))
        .returning(['digest', 'size', 'packages']).execute();
      for (const r of rows) if (Number(r.packages) === 1) changed.set(r.digest, Number(r.size));
    } else {
      const rows = await tx.updateTable('ownerBlobRefs').set((eb) => ({ packages: eb('packages', '-', 1) }))
        .where('owner', '=', owner).where('digest', 'in', part).returning(['digest', 'size', 'packages']).execute();
      for (const r of rows) if (Number(r.packages) <= 0) changed.set(r.digest, Number(r.size));
      if (changed.size > 0) await tx.deleteFrom('ownerBlobRefs').where('owner', '=', owner).where('digest', 'in', part).where('packages', '<=', 0).execute();
    }
  }
  return changed;
}

/** Adds `delta` bytes and `versions` live versions to the figures of package `repositoryId` of `owner`. */
async function addToPackage(tx: Db, repositoryId: number, owner: string, delta: number, versions: number): Promise<StorageFigure> {
  const row = await tx.insertInto('packageStorage').values({ repositoryId, owner, bytes: delta, quotaBytes: null, versionCount: versions })
    .onConflict((oc) => oc.column('repositoryId').doUpdateSet((eb) => ({
      bytes: eb('packageStorage.bytes', '+', delta),
      versionCount: eb('packageStorage.versionCount', '+', versions),
    })))
    .returning(['bytes', 'quotaBytes']).executeTakeFirstOrThrow();
  return { bytes: Number(row.bytes), quotaBytes: row.quotaBytes === null ? null : Number(row.quotaBytes), addedBytes: delta };
}

/** Adds `delta` bytes, `packages` live packages and `versions` live versions to the owner's figures. */
async function addToOwner(tx: Db, owner: string, delta: number, packages = 0, versions = 0): Promise<StorageFigure> {
  const row = await tx.insertInto('ownerStorage').values({ owner, bytes: delta, quotaBytes: null, packageCount: packages, versionCount: versions })
    .onConflict((oc) => oc.column('owner').doUpdateSet((eb) => ({
      bytes: eb('ownerStorage.bytes', '+', delta),
      packageCount: eb('ownerStorage.packageCount', '+', packages),
      versionCount: eb('ownerStorage.versionCount', '+', versions),
    })))
    .returning(['bytes', 'quotaBytes']).executeTakeFirstOrThrow();
  return { bytes: Number(row.bytes), quotaBytes: row.quotaBytes === null ? null : Number(row.quotaBytes), addedBytes: delta };
}

function total(sizes: Map<string, number>): number {
  let sum = 0;
  for (const size of sizes.values()) sum += size;
  return sum;
}
