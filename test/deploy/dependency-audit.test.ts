// scripts/audit-deps.mjs, the dependency audit in `npm run test:ci` (issue 12.12), run with the real npm against a
// stand-in advisory service on loopback (npm's bulk advisory endpoint): a high advisory against a production
// dependency fails it, a clean answer passes, and an endpoint that cannot be reached (refused, or a registry
// without the audit API) prints one notice and passes. Also: it is part of test:ci, and prom-client is gone.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';

const ROOT = new URL('../..', import.meta.url).pathname;

/** Runs the script with extra npm arguments; resolves with its exit code and output. */
function audit(...args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['scripts/audit-deps.mjs', ...args], { cwd: ROOT });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    child.on('close', (status) => resolve({ status, out }));
  });
}

describe('dependency audit', () => {
  let server: Server;
  let registry: string;
  /** What the advisory endpoint answers: `advisories` as JSON, or an HTTP status without a body. */
  let answer: { advisories: Record<string, unknown[]> } | { status: number } = { advisories: {} };
  const asked: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        if (req.method === 'POST' && req.url?.includes('/-/npm/v1/security/')) {
          asked.push(body.toString());
          if ('status' in answer) {
            res.statusCode = answer.status;
            res.end();
          } else {
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify(answer.advisories));
          }
          return;
        }
        res.statusCode = 404;
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => {
    server?.close();
  });

  it('fails on a high advisory against a production dependency, naming it', async () => {
    answer = {
      advisories: {
        fastify: [{
          id: 1, url: 'https://github.com/advisories/GHSA-test-0000-0000', title: 'Test advisory', severity: 'high',
          vulnerable_versions: '<1000.0.0', cwe: [], cvss: { score: 7.5, vectorString: null },
        }],
      },
    };
    const run = await audit('--registry', registry);
    assert.equal(run.status, 1, run.out);
    assert.match(run.out, /fastify.*\[high\].*Test advisory/);
    // Production dependencies only: the request names them and not the dev ones.
    const sent = JSON.parse(asked.at(-1)!) as Record<string, string[]>;
    assert.ok(sent.fastify && !sent.typescript && !sent['playwright-core'], Object.keys(sent).join(' '));
  });

  it('passes on a clean report, and on a moderate advisory', async () => {
    answer = { advisories: {} };
    const clean = await audit('--registry', registry);
    assert.equal(clean.status, 0, clean.out);
    assert.match(clean.out, /no high or critical advisories/);
    answer = {
      advisories: {
        pino: [{ id: 2, url: 'https://github.com/advisories/GHSA-test-0000-0001', title: 'Minor', severity: 'moderate', vulnerable_versions: '<1000.0.0', cwe: [], cvss: { score: 4, vectorString: null } }],
      },
    };
    const moderate = await audit('--registry', registry);
    assert.equal(moderate.status, 0, moderate.out);
  });

  it('prints one notice and passes when the endpoint cannot be reached', async () => {
    answer = { status: 405 };
    const refusedApi = await audit('--registry', registry);
    assert.equal(refusedApi.status, 0, refusedApi.out);
    assert.equal(refusedApi.out.trim().split('\n').length, 1, refusedApi.out);
    assert.match(refusedApi.out, /^npm audit: skipped, the advisory endpoint could not be reached/);

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = await audit('--registry', `http://127.0.0.1:${port}/`, '--fetch-retries=0');
    assert.equal(unreachable.status, 0, unreachable.out);
    assert.match(unreachable.out, /^npm audit: skipped/);
  });

  it('runs in test:ci before the tests', () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts['test:ci']!, /node scripts\/audit-deps\.mjs && node scripts\/run-tests\.mjs/);
  });
});
