// Request lines are written through a buffer (src/observability/logger.ts): the last request's line must still
// reach the log when Berth stops on SIGTERM and when it crashes on an uncaught exception.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';

const work = mkdtempSync(join(tmpdir(), 'berth-log-flush-'));
after(() => rmSync(work, { recursive: true, force: true }));

/**
 * Loaded into the server process only (NODE_OPTIONS): a real uncaught exception on demand, thrown from the event
 * loop like any bug in a callback would be. Berth itself has no such switch.
 */
const CRASH_ON_SIGUSR2 = join(work, 'crash-on-sigusr2.mjs');
writeFileSync(CRASH_ON_SIGUSR2, `process.on('SIGUSR2', () => setImmediate(() => { throw new Error('crash requested by the test'); }));\n`);

/** One REST request; its id (X-GitHub-Request-Id) is the reqId of its log line. */
async function request(berth: RunningBerth): Promise<string> {
  const res = await berth.fetch('/api/v3/rate_limit');
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const id = res.headers.get('x-github-request-id');
  assert.ok(id);
  return id;
}

/** The server's lines reach server.log through the test process's pipe: wait for them to arrive. */
async function waitForLine(berth: RunningBerth, match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown> | undefined> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const line = berth.logLines().find(match);
    if (line || Date.now() > deadline) return line;
    await sleep(100);
  }
}

async function waitGone(pid: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await sleep(100);
  assert.ok(!existsSync(`/proc/${pid}`), `server process ${pid} exited`);
}

describe('buffered request log', () => {
  it('the last request\'s line is in the log after SIGTERM', async () => {
    const berth = await startBerth({ env: { BERTH_LOG_LEVEL: 'info' } });
    const id = await request(berth);
    await berth.stop();
    const line = await waitForLine(berth, (l) => l.reqId === id && l.msg === 'request');
    assert.ok(line, `request line ${id} in the log:\n${berth.serverLog().slice(-2000)}`);
    assert.equal(line.route, '/api/v3/rate_limit');
    assert.equal(line.status, 200);
    assert.ok(berth.logLines().some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'));
  });

  it('the last request\'s line is in the log after a crash on an uncaught exception, with the error at fatal', async () => {
    const berth = await startBerth({
      env: { BERTH_LOG_LEVEL: 'info', NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(CRASH_ON_SIGUSR2).href}`.trim() },
    });
    const pid = berth.pid;
    try {
      const id = await request(berth);
      process.kill(pid, 'SIGUSR2');
      await waitGone(pid);
      const line = await waitForLine(berth, (l) => l.reqId === id && l.msg === 'request');
      assert.ok(line, `request line ${id} in the log:\n${berth.serverLog().slice(-2000)}`);
      const fatal = await waitForLine(berth, (l) => l.level === 60);
      assert.ok(fatal, 'the crash logged at fatal');
      assert.equal(fatal.msg, 'uncaught exception: stopping');
      assert.match(JSON.stringify(fatal.err), /crash requested by the test/);
    } finally {
      await berth.kill();
    }
  });
});
