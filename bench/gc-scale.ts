/**
 * `npm run bench -- --gc [--scale F]`: `berth gc` over a registry of issue 14's size (SQLite). The seed of
 * bench/seed.ts has manifests but no blobs, so this adds what GC reads: per manifest a config and a layer reference,
 * the blob rows and the repository links, plus 1% more links and blobs that nothing references (uploaded, never
 * used). No blob bytes: the blob store is empty, so the orphan-file scan is nothing here. It then times the CLI's
 * dry run and a real run (`--delete --grace 0s`) and checks the real run removed exactly the unreferenced ones.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { connect } from '../src/db/connect.js';
import type { Cleanup } from './cleanup.js';
import { seedBackend } from './listings.js';
import { fragments } from './seed.js';

const ROOT = new URL('..', import.meta.url).pathname;
const CONFIG_DIGEST = `sha256:${'0'.repeat(64)}`;

export async function benchGcAtScale(scale: number, cleanup: Cleanup, progress: (message: string) => void): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-gc-'));
  cleanup.add('remove the gc bench data', () => rm(work, { recursive: true, force: true }));
  const seeded = await seedBackend('sqlite', scale, work, progress);
  const conn = connect(`sqlite:${join(seeded.dataDir, 'berth.db')}`);
  const old = Date.now() - 86_400_000;
  let manifests = 0;
  let repositories = 0;
  let unreferenced = 0;
  try {
    const { series, digest } = fragments('sqlite');
    // Layer digests far above the manifests' own (bench/seed.ts makes a manifest's digest from its id).
    const layer = (id: string): string => digest(`${id} + 1000000000000`);
    manifests = Number((await sql<{ n: number }>`select max(id) as n from manifests`.execute(conn.db)).rows[0]!.n);
    repositories = Number((await sql<{ n: number }>`select max(id) as n from repositories`.execute(conn.db)).rows[0]!.n);
    unreferenced = Math.ceil(manifests / 100);
    const t = performance.now();
    await conn.db.transaction().execute(async (tx) => {
      await sql.raw(`insert into blobs (digest, size, created_at) values ('${CONFIG_DIGEST}', 2, ${old})`).execute(tx);
      await sql.raw(`${series(manifests)}insert into blobs (digest, size, created_at) select ${layer('i + 1')}, 1000, ${old} from s`).execute(tx);
      await sql.raw(`${series(manifests)}insert into manifest_references (manifest_id, digest, kind) select i + 1, '${CONFIG_DIGEST}', 'blob' from s`).execute(tx);
      await sql.raw(`${series(manifests)}insert into manifest_references (manifest_id, digest, kind) select i + 1, ${layer('i + 1')}, 'blob' from s`).execute(tx);
      await sql.raw(`${series(repositories)}insert into repository_blobs (repository_id, digest, created_at) select i + 1, '${CONFIG_DIGEST}', ${old} from s`).execute(tx);
      await sql.raw(`insert into repository_blobs (repository_id, digest, created_at) select repository_id, ${layer('id')}, ${old} from manifests`).execute(tx);
      // Uploaded and never referenced: a blob each, linked from one repository.
      await sql.raw(`${series(unreferenced)}insert into blobs (digest, size, created_at) select ${layer(`i + ${manifests} + 1`)}, 1000, ${old} from s`).execute(tx);
      await sql.raw(`${series(unreferenced)}insert into repository_blobs (repository_id, digest, created_at) select 1 + i % ${repositories}, ${layer(`i + ${manifests} + 1`)}, ${old} from s`).execute(tx);
    });
    progress(`blobs, references and links added in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  } finally {
    await conn.close();
  }
  const gc = (...args: string[]): { seconds: number; out: string } => {
    const t = performance.now();
    const run = spawnSync(process.execPath, [join(ROOT, 'dist/main.js'), 'gc', '--data', seeded.dataDir, ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, BERTH_LOG_LEVEL: 'warn' } });
    if (run.status !== 0) throw new Error(`berth gc ${args.join(' ')} failed: ${run.stderr}`);
    return { seconds: (performance.now() - t) / 1000, out: run.stdout.trim() };
  };
  progress('berth gc (dry run)');
  const dry = gc();
  progress('berth gc --delete --grace 0s');
  const real = gc('--delete', '--grace', '0s');
  const expected = `unreferenced links: deleted ${unreferenced}`;
  if (!real.out.includes(expected)) throw new Error(`expected "${expected}" in:\n${real.out}`);
  const links = manifests + repositories + unreferenced;
  process.stdout.write([
    `berth gc over a seeded registry (SQLite, scale ${scale}): ${manifests.toLocaleString('en')} manifests, ${links.toLocaleString('en')} links, `
      + `${(manifests + unreferenced + 1).toLocaleString('en')} blobs, ${unreferenced.toLocaleString('en')} of them unreferenced`,
    `  dry run           ${dry.seconds.toFixed(1)} s`,
    `  --delete          ${real.seconds.toFixed(1)} s (process start included, ~0.5 s)`,
    ...real.out.split('\n').map((l) => `    ${l}`),
    '',
  ].join('\n'));
}
