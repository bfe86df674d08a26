// A registry seeded by bench/seed.ts into the database of the test's backend (SQLite file or a PostgreSQL database),
// for the scale suites, and the package service they query it through.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/audit-log.js';
import { Policy } from '../../src/auth/policy.js';
import { connect, type Connection } from '../../src/db/connect.js';
import { migrate } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/schema.js';
import { PackageService, type Owner } from '../../src/packages/package-service.js';
import { systemClock } from '../../src/util/clock.js';
import { BIG_ORG, seed, type SeedResult, type SeedShape } from '../../bench/seed.js';
import { backendEnv } from './berth.js';

export interface SeededRegistry {
  /** The data directory to start Berth on (`startBerth({ dataDir })`): it holds berth.db on SQLite. */
  readonly dataDir: string;
  readonly conn: Connection;
  readonly seeded: SeedResult;
  /** The seed's big organization. */
  readonly bigOrg: Owner;
}

/** Migrates a fresh database of the test's backend and seeds `shape` into it. */
export async function seedRegistry(shape: SeedShape): Promise<SeededRegistry> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-test-'));
  const env = await backendEnv(dataDir);
  const conn = connect(env.BERTH_METADATA_URL ?? `sqlite:${join(dataDir, 'berth.db')}`);
  await migrate(conn);
  const seeded = await seed(conn, shape);
  const org = await conn.db.selectFrom('accounts').select(['id', 'login']).where('lowerLogin', '=', BIG_ORG).executeTakeFirstOrThrow();
  return { dataDir, conn, seeded, bigOrg: { id: org.id, login: org.login, type: 'org' } };
}

/** The package service over `db` (by default the connection's own), with only what listing and finding need. */
export function listingService(conn: Connection, db: Db = conn.db): PackageService {
  return new PackageService({
    db, changes: conn.changes, clock: systemClock, audit: new AuditLog({ db, clock: systemClock }),
    downloads: null as never, rules: null as never, protection: null as never, policy: new Policy({ db }),
  });
}
