/**
 * `npx tsx bench/quota-check.ts [blobs]` (also `npm run bench -- --quota`): the server time storage accounting and
 * the quota check add to a push. An owner already holds `blobs` distinct blobs (default 100,000) over 1,000 packages,
 * under a quota; each measured push is one manifest PUT's transaction (repository lock, manifest row, its three
 * references), timed with and without the accounting (registry/storage-usage.ts: counter upserts, then the quota
 * check on the returned totals). SQLite in a temp directory of this disk. Target: under 1 ms added per push.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from '../src/db/connect.js';
import { migrate } from '../src/db/migrate.js';
import type { Db } from '../src/db/schema.js';
import { lockRepository } from '../src/db/transaction.js';
import { countVersions, enforceQuota, recomputeUsage, refuseIfOverQuota } from '../src/registry/storage-usage.js';

const BLOBS = Number(process.argv[2] ?? 100_000);
const PACKAGES = 1000;
const PUSHES = 500;
const TARGET_MS = 1;
const hex = (n: number): string => n.toString(16).padStart(64, '0');

const dir = mkdtempSync(join(tmpdir(), 'berth-bench-quota-'));
try {
  const conn = connect(`sqlite:${join(dir, 'bench.db')}`);
  await migrate(conn);
  const db = conn.db;
  const now = Date.now();
  const repos: number[] = [];
  await db.transaction().execute(async (tx) => {
    for (let p = 0; p < PACKAGES; p++) {
      repos.push((await tx.insertInto('repositories').values({ name: `acme/p${p}`, owner: 'acme', ownerId: null, sourceUrl: null, createdBy: null, createdAt: now, updatedAt: now })
        .returning('id').executeTakeFirstOrThrow()).id);
    }
  });
  // Seed: one version per blob, in the package `blob % PACKAGES`, then the figures as `berth usage recompute` builds them.
  const seeded = performance.now();
  for (let b = 0; b < BLOBS; b += 2000) {
    await db.transaction().execute(async (tx) => {
      const blobs = Array.from({ length: Math.min(2000, BLOBS - b) }, (_, i) => ({ digest: `sha256:${hex(b + i)}`, size: 1000, createdAt: now }));
      await tx.insertInto('blobs').values(blobs).execute();
      for (const [i, blob] of blobs.entries()) {
        const m = await tx.insertInto('manifests').values({
          repositoryId: repos[(b + i) % PACKAGES]!, digest: `sha256:m${hex(b + i)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: null,
          subjectDigest: null, configDigest: null, size: 400, body: Buffer.alloc(400), annotations: '{}', createdAt: now, updatedAt: now,
        }).returning('id').executeTakeFirstOrThrow();
        await tx.insertInto('manifestReferences').values({ manifestId: m.id, digest: blob.digest, kind: 'blob' }).execute();
      }
    });
  }
  await recomputeUsage(db, conn.dialect, null);
  await db.updateTable('ownerStorage').set({ quotaBytes: 1024 ** 4 }).where('owner', '=', 'acme').execute();
  const seedS = (performance.now() - seeded) / 1000;

  let next = BLOBS;
  /** One manifest PUT's transaction: a new version referencing a new config, a new layer and a layer the owner has. */
  const push = async (accounting: boolean): Promise<number> => {
    const repositoryId = repos[next % PACKAGES]!;
    const [config, layer] = [`sha256:${hex(next++)}`, `sha256:${hex(next++)}`];
    await db.insertInto('blobs').values([{ digest: config, size: 500, createdAt: now }, { digest: layer, size: 5000, createdAt: now }]).execute();
    const t = performance.now();
    await db.transaction().execute(async (tx: Db) => {
      await lockRepository(tx, repositoryId);
      const m = await tx.insertInto('manifests').values({
        repositoryId, digest: `sha256:m${config.slice(7)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: null,
        subjectDigest: null, configDigest: config, size: 400, body: Buffer.alloc(400), annotations: '{}', createdAt: now, updatedAt: now,
      }).returning('id').executeTakeFirstOrThrow();
      await tx.insertInto('manifestReferences').values([config, layer, `sha256:${hex(next % BLOBS)}`].map((digest) => ({ manifestId: m.id, digest, kind: 'blob' as const }))).execute();
      if (accounting) enforceQuota(await countVersions(tx, repositoryId, [m.id], 1), `acme/p${next % PACKAGES}`, null);
    });
    return performance.now() - t;
  };
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (let i = 0; i < 50; i++) await push(i % 2 === 0); // warm up both paths
  const without: number[] = [];
  const withQuota: number[] = [];
  // Interleaved, so both see the same cache and file state.
  for (let i = 0; i < PUSHES; i++) {
    without.push(await push(false));
    withQuota.push(await push(true));
  }
  const uploadChecks: number[] = [];
  for (let i = 0; i < PUSHES; i++) {
    const t = performance.now();
    await refuseIfOverQuota(db, 'acme', null);
    uploadChecks.push(performance.now() - t);
  }
  const added = median(withQuota) - median(without);
  await conn.close();
  process.stdout.write([
    `Quota check cost per push: an owner with ${BLOBS.toLocaleString('en')} blobs in ${PACKAGES} packages (SQLite; seeded in ${seedS.toFixed(0)} s), ${PUSHES} pushes each way`,
    `  manifest PUT transaction without accounting: median ${median(without).toFixed(3)} ms`,
    `  with accounting and quota check:            median ${median(withQuota).toFixed(3)} ms`,
    `  added per push: ${added.toFixed(3)} ms (target < ${TARGET_MS} ms) ${added < TARGET_MS ? 'PASS' : 'MISS'}: two reads and up to four counter upserts`,
    `    (the baseline's lock, insert and references take ${(median(without) / 3).toFixed(3)} ms a statement here); the check itself only compares the totals they return`,
    `  upload check (owner over quota?): median ${median(uploadChecks).toFixed(3)} ms`,
    '',
  ].join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
