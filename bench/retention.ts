/**
 * `npx tsx bench/retention.ts [versions]`: what a retention dry run costs over one package of many versions
 * (default 100,000), on SQLite in a temp directory of this disk. The package holds multi-arch images (an index and
 * two platform manifests, every third image tagged, a cosign-style `.sig` tag on every tenth), untagged images,
 * and pull counts on some; the rules use every kind. Prints the load (one query per table), the plan, and the
 * whole dry run as the REST API and `berth retention run --dry-run` do it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from '../src/db/connect.js';
import { migrate } from '../src/db/migrate.js';
import { LifecyclePolicies } from '../src/lifecycle/lifecycle-policies.js';
import { parseImmutableTagRules } from '../src/lifecycle/immutable-tags.js';
import { parseRetentionPolicy } from '../src/lifecycle/retention-policy.js';
import { RetentionService } from '../src/lifecycle/retention-service.js';
import { AuditLog } from '../src/audit/audit-log.js';
import { systemClock } from '../src/util/clock.js';

const VERSIONS = Number(process.argv[2] ?? 100_000);
const DAY = 86_400_000;
const hex = (n: number): string => n.toString(16).padStart(64, '0');

const dir = mkdtempSync(join(tmpdir(), 'berth-bench-retention-'));
try {
  const conn = connect(`sqlite:${join(dir, 'bench.db')}`);
  await migrate(conn);
  const db = conn.db;
  const now = Date.now();
  const org = await db.insertInto('accounts').values({ login: 'acme', lowerLogin: 'acme', type: 'org', displayName: null, email: null, passwordHash: null, disabledAt: null, createdAt: now, updatedAt: now })
    .returning('id').executeTakeFirstOrThrow();
  const repo = await db.insertInto('repositories').values({ name: 'acme/big', owner: 'acme', ownerId: org.id, sourceUrl: null, createdBy: null, createdAt: now, updatedAt: now })
    .returning('id').executeTakeFirstOrThrow();

  // Seed: groups of 3 versions (index + 2 platform manifests) or single untagged images, oldest first.
  let seeded = 0;
  let n = 0;
  const started = performance.now();
  while (seeded < VERSIONS) {
    await db.transaction().execute(async (tx) => {
      for (let k = 0; k < 2000 && seeded < VERSIONS; k++, n++) {
        const createdAt = now - (VERSIONS - seeded) * 60_000;
        const multi = n % 4 !== 3 && seeded + 3 <= VERSIONS;
        const ids: number[] = [];
        const digests = Array.from({ length: multi ? 3 : 1 }, (_, i) => `sha256:${hex(seeded + i + 1)}`);
        for (const d of digests) {
          const row = await tx.insertInto('manifests').values({
            repositoryId: repo.id, digest: d, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: null, subjectDigest: null,
            configDigest: null, size: 2, body: Buffer.from('{}'), annotations: '{}', createdAt, updatedAt: createdAt,
          }).returning('id').executeTakeFirstOrThrow();
          ids.push(row.id);
        }
        if (multi) {
          await tx.insertInto('manifestReferences').values(digests.slice(1).map((d) => ({ manifestId: ids[0]!, digest: d, kind: 'manifest' as const }))).execute();
          if (n % 3 === 0) await tx.insertInto('tags').values({ repositoryId: repo.id, name: `1.${n}.0`, manifestId: ids[0]!, updatedAt: createdAt }).execute();
          if (n % 10 === 0) await tx.insertInto('tags').values({ repositoryId: repo.id, name: `sha256-${digests[0]!.slice(7)}.sig`, manifestId: ids[1]!, updatedAt: createdAt }).execute();
          if (n % 7 === 0) await tx.insertInto('downloadsDaily').values({ manifestId: ids[0]!, day: Math.floor((now - (n % 60) * DAY) / DAY), count: 3 }).execute();
        }
        seeded += digests.length;
      }
    });
  }
  const seedS = (performance.now() - started) / 1000;

  const policies = new LifecyclePolicies({ db, clock: systemClock, audit: new AuditLog({ db, clock: systemClock }) });
  await policies.setImmutableTags({ ownerId: org.id, repositoryId: null }, parseImmutableTagRules({ patterns: ['1.1*'] }), null);
  await policies.setRetention({ ownerId: org.id, repositoryId: repo.id }, parseRetentionPolicy({
    keep_most_recent: 50, keep_tags: ['semver:>=1.5000 <1.6000', '/^1\\.9[0-9]*\\.0$/'], keep_pulled_within: '14d', delete_untagged_after: '7d', delete_not_pulled_for: '30d',
  }), null);
  const retention = new RetentionService({ db, clock: systemClock, audit: new AuditLog({ db, clock: systemClock }), policies });

  const times: number[] = [];
  let last = null as Awaited<ReturnType<RetentionService['runPackage']>> | null;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    last = await retention.runPackage(repo.id, { dryRun: true });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const rss = process.memoryUsage().rss / 1e6;
  await conn.close();
  process.stdout.write([
    `Retention dry run over ${VERSIONS.toLocaleString('en')} versions of one package (SQLite; seeded in ${seedS.toFixed(0)} s)`,
    `  plan: ${last!.kept.toLocaleString('en')} kept, ${last!.deleted.toLocaleString('en')} deleted`,
    `  dry run (load, plan, result): median ${times[2]!.toFixed(0)} ms, min ${times[0]!.toFixed(0)} ms, max ${times[4]!.toFixed(0)} ms (5 runs)`,
    `  resident memory after the runs: ${rss.toFixed(0)} MB`,
    '',
  ].join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
