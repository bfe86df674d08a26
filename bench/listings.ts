/**
 * `npm run bench -- --seed [--scale F]`: a registry at the size of issue 14, seeded into SQLite and PostgreSQL
 * (bench/seed.ts), prints the seeding time per backend.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/db/connect.js';
import { migrate } from '../src/db/migrate.js';
import { createDatabase } from '../test/helpers/postgres.js';
import type { Cleanup } from './cleanup.js';
import { seed, seedShape, type SeedResult } from './seed.js';

export type Backend = 'sqlite' | 'postgres';

export interface SeededBackend {
  readonly backend: Backend;
  readonly seed: SeedResult;
  /** The data directory to serve from (holds berth.db for SQLite). */
  readonly dataDir: string;
  /** Environment for `berth serve` (the PostgreSQL URL). */
  readonly env: Record<string, string>;
}

/** Seeds a fresh database of `backend` at `scale` under `work`: the SQLite file `berth serve` opens by default. */
export async function seedBackend(backend: Backend, scale: number, work: string, progress: (message: string) => void): Promise<SeededBackend> {
  const dataDir = join(work, `seeded-${backend}`);
  const url = backend === 'sqlite' ? `sqlite:${join(dataDir, 'berth.db')}` : await createDatabase();
  const conn = connect(url);
  try {
    await migrate(conn);
    const result = await seed(conn, seedShape(scale), progress);
    progress(`seeded ${backend} in ${result.seconds.toFixed(1)} s: ${Object.entries(result.rows).map(([t, n]) => `${t} ${n.toLocaleString('en')}`).join(', ')}`);
    return { backend, seed: result, dataDir, env: backend === 'postgres' ? { BERTH_METADATA_URL: url } : {} };
  } finally {
    await conn.close();
  }
}

export async function benchListings(scale: number, cleanup: Cleanup, progress: (message: string) => void): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-listings-'));
  cleanup.add('remove seeded data', () => rm(work, { recursive: true, force: true }));
  const seeded: SeededBackend[] = [];
  for (const backend of ['sqlite', 'postgres'] as const) seeded.push(await seedBackend(backend, scale, work, progress));
  const lines = [`Seeding at scale ${scale}:`];
  for (const s of seeded) {
    lines.push(`  ${s.backend.padEnd(9)} ${s.seed.seconds.toFixed(1).padStart(7)} s  (${s.seed.rows.repositories!.toLocaleString('en')} repositories, `
      + `${s.seed.rows.manifests!.toLocaleString('en')} manifests, ${s.seed.rows.tags!.toLocaleString('en')} tags, `
      + `${s.seed.rows.accounts!.toLocaleString('en')} accounts, ${s.seed.rows.package_permissions!.toLocaleString('en')} roles)`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
