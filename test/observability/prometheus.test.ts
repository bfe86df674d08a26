// Berth's /metrics as a real Prometheus (the Debian package) sees it: the token on the main port, the separate
// listener, a Prometheus started here scraping Berth while skopeo pushes and pulls, the counters moving as PromQL
// through Prometheus's HTTP API reads them, the alert rules passing `promtool check rules`, and every metric the
// Grafana dashboard and the rules use existing in Berth's output.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { runTool, skopeoCopy } from '../helpers/clients.js';
import { pushBlob, useAuthorization } from '../helpers/http.js';
import { writeImageLayout } from '../helpers/oci-image.js';
import { freePort } from '../helpers/ports.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const RULES = join(ROOT, 'deploy/monitoring/berth-alerts.yaml');
const DASHBOARD = join(ROOT, 'deploy/monitoring/berth-dashboard.json');
const TOKEN = 'metrics-token-for-the-tests-0123456789';
const MANIFESTS = '/v2/<name>/manifests/<reference>';

const work = mkdtempSync(join(tmpdir(), 'berth-prometheus-'));
let berth: RunningBerth;
let metricsPort: number;

before(async () => {
  // The token from a file, as a Kubernetes Secret mounts it (BERTH_METRICS_TOKEN_FILE).
  writeFileSync(join(work, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  metricsPort = await freePort();
  berth = await startBerth({
    env: { BERTH_METRICS_TOKEN_FILE: join(work, 'token'), BERTH_METRICS_LISTEN: `127.0.0.1:${metricsPort}`, BERTH_STATS_FLUSH_INTERVAL: '200ms',
      BERTH_METRICS_OWNERS_REFRESH: '1s' },
  });
});
after(async () => {
  await berth?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function scrape(): Promise<string> {
  const res = await berth.fetch('/metrics', { auth: `Bearer ${TOKEN}` });
  assert.equal(res.status, 200);
  return res.text();
}

/** Metric names Berth exposes, from its `# TYPE` lines (a histogram also as _bucket, _count, _sum). */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_count', '_sum']) names.add(m[1]! + s);
    if (m[2] === 'summary') for (const s of ['_count', '_sum']) names.add(m[1]! + s);
  }
  return names;
}

describe('/metrics on the main port', () => {
  it('answers 401 with a Bearer challenge without the token or with a wrong one, 200 in Prometheus text format with it', async () => {
    const none = await berth.fetch('/metrics', { auth: null });
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm="metrics"/);
    assert.doesNotMatch(await none.text(), /berth_/);
    // The registry's own credentials are not the metrics token.
    const basic = await berth.fetch('/metrics');
    assert.equal(basic.status, 401);
    const wrong = await berth.fetch('/metrics', { auth: `Bearer ${TOKEN}x` });
    assert.equal(wrong.status, 401);

    const ok = await berth.fetch('/metrics', { auth: `Bearer ${TOKEN}` });
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await ok.text();
    for (const name of ['berth_http_request_duration_seconds', 'berth_database_up', 'berth_upload_sessions_open', 'berth_process_cpu_seconds_total']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.match(text, /^berth_database_up 1$/m);
    // PostgreSQL's pool is reported; SQLite has one connection and no pool.
    if (berth.backend === 'sqlite-fs') assert.doesNotMatch(text, /^berth_database_pool_connections\{/m);
    else assert.match(text, /^berth_database_pool_connections\{state="max"\} 10$/m);
    // The refused scrapes were counted under the route template, not a URL.
    assert.match(text, /^berth_http_request_duration_seconds_count\{surface="other",route="\/metrics",method="GET",status="401"\} [1-9]/m);
  });

  it('uses no raw URLs or repository names as labels', async () => {
    await berth.fetch('/v2/acme/secret-project/manifests/latest');
    await berth.fetch('/v2/acme/secret-project/tags/list?n=5');
    const text = await scrape();
    assert.doesNotMatch(text, /secret-project/);
    assert.match(text, /route="\/v2\/<name>\/manifests\/<reference>",method="GET",status="404"/);
  });
});

describe('blob store errors', () => {
  it('a blob whose bytes vanished from the store counts as a failed read of its driver', async () => {
    const driver = berth.backend === 'postgres-s3' ? 's3' : 'fs';
    const failedReads = (text: string): number => Number(new RegExp(`^berth_storage_errors_total\\{driver="${driver}",operation="read"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const before = failedReads(await scrape());
    useAuthorization(berth.authorization);
    const digest = await pushBlob(berth.url, 'acme/vanishing', 'bytes that will go missing');
    await (await berth.blobStore()).delete(digest as never);
    const res = await berth.fetch(`/v2/acme/vanishing/blobs/${digest}`);
    assert.ok(res.status >= 400, `GET of a vanished blob: ${res.status}`);
    await res.arrayBuffer().catch(() => undefined);
    // At least one (the fs driver's file path may be tried before its stream path).
    assert.ok(failedReads(await scrape()) > before, 'berth_storage_errors_total counted the failed read');
  });
});

describe('metrics.listen', () => {
  it('serves /metrics on its own address without a token, and nothing else', async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^# TYPE berth_http_request_duration_seconds histogram$/m);
    const other = await fetch(`http://127.0.0.1:${metricsPort}/v2/`);
    assert.equal(other.status, 404);
    await other.text();
  });
});

describe('with a real Prometheus', () => {
  let prometheus: ChildProcess;
  let api: string;

  before(async () => {
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    writeFileSync(join(work, 'prometheus.yml'), [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      `rule_files: ['${RULES}']`,
      'scrape_configs:',
      '  - job_name: berth',
      '    authorization:',
      `      credentials_file: ${join(work, 'token')}`,
      '    static_configs:',
      `      - targets: ['${berth.host}']`,
      '',
    ].join('\n'));
    prometheus = spawn('prometheus', [
      `--config.file=${join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${join(work, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    prometheus.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
    process.once('exit', () => prometheus.kill('SIGKILL'));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await fetch(`${api}/-/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline || prometheus.exitCode !== null) throw new Error(`prometheus did not become ready:\n${stderr}`);
      await sleep(250);
    }
  });
  after(() => {
    prometheus?.kill('SIGTERM');
  });

  async function query(expr: string): Promise<number | null> {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = await res.json() as { status: string; data: { result: { value: [number, string] }[] } };
    assert.equal(body.status, 'success', expr);
    const first = body.data.result[0];
    return first ? Number(first.value[1]) : null;
  }

  /** Polls until `expr` is at least `min` in Prometheus (it scrapes every second); returns the value seen. */
  async function eventually(expr: string, min: number): Promise<number> {
    const deadline = Date.now() + 60_000;
    let value: number | null = null;
    while (Date.now() < deadline) {
      value = await query(expr);
      if (value !== null && value >= min) return value;
      await sleep(500);
    }
    assert.fail(`${expr}: ${value} after 60 s, expected at least ${min}`);
  }

  it('scrapes Berth with the token, and sees the request, byte and storage counters move with a skopeo push and pull', async () => {
    await eventually('up{job="berth"}', 1);
    const manifestPuts = `sum(berth_http_request_duration_seconds_count{job="berth",surface="oci",route="${MANIFESTS}",method="PUT",status="201"})`;
    const manifestGets = `sum(berth_http_request_duration_seconds_count{job="berth",surface="oci",route="${MANIFESTS}",method="GET",status="200"})`;
    const received = 'sum(berth_http_received_bytes_total{job="berth",surface="oci"})';
    const commits = `sum(berth_storage_operation_duration_seconds_count{job="berth",operation="commit_upload",driver="${berth.backend === 'postgres-s3' ? 's3' : 'fs'}"})`;
    // Nothing was pushed yet: no successful manifest PUT in Prometheus's view.
    assert.equal(await query(manifestPuts), null);
    const receivedBefore = await query(received) ?? 0;

    const layout = join(work, 'image');
    await writeImageLayout(layout, { layers: [200_000, 1024], tag: '1.0' });
    const creds = `${berth.user}:${berth.token}`;
    await skopeoCopy(`oci:${layout}:1.0`, `docker://${berth.host}/acme/observed:1.0`, [], { creds });
    await skopeoCopy(`docker://${berth.host}/acme/observed:1.0`, `oci:${join(work, 'pulled')}:1.0`, [], { creds });

    assert.ok(await eventually(manifestPuts, 1) >= 1);
    assert.ok(await eventually(manifestGets, 1) >= 1);
    // The layers went over the wire: at least their bytes more than before the push.
    await eventually(received, receivedBefore + 200_000);
    // Two layers and a config committed to the blob store.
    await eventually(commits, 3);
    // Storage per owner: acme holds at least the layers (recomputed every second here, every 5 minutes by default).
    await eventually('berth_storage_owner_bytes{job="berth",owner="acme"}', 200_000);
    await eventually('count(berth_upload_sessions_open{job="berth"})', 1);
    await eventually('berth_database_up{job="berth"}', 1);
    // A background job ran and was counted (flush-downloads every 200 ms here).
    await eventually('sum(berth_job_runs_total{job="berth",result="success"})', 1);
  });

  it('loads the alert rules, and none of them fires on a healthy Berth', async () => {
    const res = await fetch(`${api}/api/v1/rules`);
    const body = await res.json() as { data: { groups: { rules: { name: string; health: string; state: string }[] }[] } };
    const rules = body.data.groups.flatMap((g) => g.rules);
    assert.ok(rules.length >= 7, `${rules.length} rules loaded`);
    for (const r of rules) {
      assert.notEqual(r.health, 'err', `${r.name} evaluates`);
      assert.equal(r.state, 'inactive', `${r.name} is not firing`);
    }
  });
});

describe('deploy/monitoring', () => {
  it('the alert rules pass `promtool check rules`', async () => {
    const { stdout } = await runTool('promtool', ['check', 'rules', RULES]);
    assert.match(stdout, /SUCCESS: \d+ rules found/);
  });

  it('every metric the dashboard and the alert rules use exists in Berth\'s /metrics output', async () => {
    const exposed = exposedNames(await scrape());
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const used = new Map<string, string>();
    for (const panel of dashboard.panels) {
      assert.ok(panel.targets.length > 0, `panel ${panel.title} has a query`);
      for (const t of panel.targets) for (const m of t.expr.matchAll(/\bberth_[a-z0-9_]+/g)) used.set(m[0], `dashboard panel "${panel.title}"`);
    }
    for (const m of readFileSync(RULES, 'utf8').matchAll(/\bberth_[a-z0-9_]+/g)) used.set(m[0], 'berth-alerts.yaml');
    assert.ok(used.size >= 15, `${used.size} metrics used`);
    const missing = [...used].filter(([name]) => !exposed.has(name)).map(([name, where]) => `${name} (${where})`);
    assert.deepEqual(missing, []);
  });
});
