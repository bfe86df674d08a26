// The download counter: a flush asked for while the scheduled one is still writing waits for it, so a page that
// flushes before reading its figures sees every pull counted before it. Each write is held open here by a plugin,
// as a busy database holds it, which is when the usage page read 0 downloads for pulls already made (CI, once).
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { after, it } from 'node:test';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { connect } from '../../src/db/connect.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/observability/logger.js';
import { DownloadCounter } from '../../src/registry/download-counter.js';
import { systemClock } from '../../src/util/clock.js';

const conn = connect(':memory:');
after(() => conn.close());

/** Holds every statement's result until `release` while `holding`. */
class Gate implements KyselyPlugin {
  holding = false;
  #open: Promise<void> = Promise.resolve();
  #release: () => void = () => {};
  hold(): void {
    this.holding = true;
    this.#open = new Promise((resolve) => { this.#release = resolve; });
  }
  release(): void {
    this.holding = false;
    this.#release();
  }
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.holding) await this.#open;
    return args.result;
  }
}

it('a flush asked for while another is writing resolves only once those counts are committed', async () => {
  await migrate(conn);
  const { db } = conn;
  const repo = await db.insertInto('repositories').values({ name: 'acme/app', owner: 'acme', ownerId: null, createdBy: null, sourceUrl: null, createdAt: 1, updatedAt: 1, deletedAt: null })
    .returning('id').executeTakeFirstOrThrow();
  const manifest = await db.insertInto('manifests').values({
    repositoryId: repo.id, digest: 'sha256:' + 'a'.repeat(64), mediaType: 'm', artifactType: null, subjectDigest: null, configDigest: null,
    size: 1, body: Buffer.alloc(1), annotations: '{}', createdAt: 1, updatedAt: 1, deletedAt: null,
  }).returning('id').executeTakeFirstOrThrow();
  const gate = new Gate();
  const counter = new DownloadCounter({ db: db.withPlugin(gate), clock: systemClock, log: createLogger('silent') });
  counter.record(manifest.id);
  counter.record(manifest.id);
  gate.hold();
  const scheduled = counter.flush(); // has taken the two counts out of memory, and is writing them
  let pageFlushed = false;
  const page = counter.flush().then(() => { pageFlushed = true; });
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(pageFlushed, false, 'the second flush waits for the first to commit');
  gate.release();
  await Promise.all([scheduled, page]);
  const rows = await db.selectFrom('downloadsDaily').select(['manifestId', 'count']).execute();
  assert.deepEqual(rows.map((r) => [r.manifestId, Number(r.count)]), [[manifest.id, 2]]);
  // Nothing pending: a flush now writes nothing and resolves at once.
  await counter.flush();
  assert.equal(Number((await db.selectFrom('downloadsDaily').select('count').executeTakeFirstOrThrow()).count), 2);
});
