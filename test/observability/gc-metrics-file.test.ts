// `berth gc --metrics-file`: a command run from cron is never scraped, so it writes its run's berth_job_* metrics
// for node_exporter's textfile collector. The file must be valid Prometheus text (promtool check metrics) with the
// server's names and labels, for a successful run and for a failed one.
import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'berth-gc-metrics-'));
let berth: RunningBerth;

before(async () => {
  berth = await startBerth();
});
after(async () => {
  await berth.stop();
  rmSync(work, { recursive: true, force: true });
});

function gc(env: Record<string, string>, ...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [builtCli(), 'gc', '--data', berth.dataDir, ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...berth.metadataEnv, ...env },
  });
  return { status: r.status, stderr: r.stderr };
}

function promtoolCheck(text: string): void {
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
}

it('a gc run writes its job metrics, valid for Prometheus, with nothing left half-written beside them', () => {
  const file = join(work, 'berth-gc.prom');
  const r = gc({}, '--delete', '--grace', '0s', '--metrics-file', file);
  assert.equal(r.status, 0, r.stderr);
  const text = readFileSync(file, 'utf8');
  promtoolCheck(text);
  assert.match(text, /^berth_job_runs_total\{job="gc",result="success"\} 1$/m);
  assert.match(text, /^berth_job_duration_seconds_count\{job="gc"\} 1$/m);
  assert.match(text, /^berth_job_last_success_timestamp_seconds\{job="gc"\} \d/m);
  assert.deepEqual(readdirSync(work), ['berth-gc.prom']);
});

it('a failed gc run is written as a failure', () => {
  const file = join(work, 'berth-gc-failed.prom');
  // A database that cannot be opened: the run fails after it started.
  const r = gc({ BERTH_METADATA_URL: 'postgres://nobody@127.0.0.1:1/none' }, '--metrics-file', file);
  assert.notEqual(r.status, 0);
  const text = readFileSync(file, 'utf8');
  promtoolCheck(text);
  assert.match(text, /^berth_job_runs_total\{job="gc",result="failure"\} 1$/m);
  assert.doesNotMatch(text, /^berth_job_last_success_timestamp_seconds\{/m);
});
