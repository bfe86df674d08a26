import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Config } from '../config/config.js';
import { connect, type Connection } from '../db/connect.js';
import { migrate } from '../db/migrate.js';
import { openAccess } from '../http/oci/access.js';
import { buildServer } from '../http/server.js';
import { Scheduler } from '../maintenance/scheduler.js';
import type { Logger } from '../observability/logger.js';
import { createRegistry, type Registry } from '../registry/registry.js';
import { FsBlobStore } from '../storage/fs/fs-blob-store.js';
import { systemClock } from '../util/clock.js';

export interface App {
  readonly server: FastifyInstance;
  readonly registry: Registry;
  readonly db: Connection;
  /** Listens on the configured address; returns the base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/**
 * The composition root: builds the database, blob store, services, jobs and HTTP server from the config, and
 * closes them in reverse order. The only place that names concrete drivers.
 */
export async function createApp(config: Config, log: Logger): Promise<App> {
  const db = connect(config.metadata.url);
  const applied = await migrate(db);
  if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');

  const blobs = new FsBlobStore(config.storage.fs.root);
  await blobs.init();

  const clock = systemClock;
  const registry = createRegistry({ db: db.db, blobs, clock, log });

  const scheduler = new Scheduler({ log: log.child({ module: 'maintenance' }) });
  scheduler.every({ name: 'flush-downloads', everyMs: config.stats.flushIntervalMs, run: () => registry.downloads.flush() });
  scheduler.every({
    name: 'purge-uploads',
    everyMs: config.uploads.purgeIntervalMs,
    run: async () => {
      const purged = await registry.uploads.purgeIdleSince(clock.now() - config.uploads.expireAfterMs);
      if (purged > 0) log.info({ purged }, 'expired upload sessions purged');
    },
  });

  const server = buildServer({
    log,
    ready: async () => { await sql`select 1`.execute(db.db); },
    oci: {
      registry,
      access: openAccess,
      limits: { ...config.registry, chunkMinLength: config.uploads.chunkMinLength },
    },
  });

  return {
    server,
    registry,
    db,
    async listen() {
      const address = await server.listen({ host: config.server.host, port: config.server.port });
      return address;
    },
    async close() {
      await server.close();
      await scheduler.stop();
      await registry.downloads.flush();
      await db.close();
    },
  };
}
