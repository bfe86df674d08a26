// The Dockerfile and deploy/ examples stay true to Berth: every file parses, every BERTH_* variable and every key
// of the ConfigMap's berth.yaml is a real configuration key with a valid value, the probes and the health check
// hit endpoints a running Berth answers, and the Dockerfile's entry point, command and port match the package.
// The image itself is not built here (no registry access for base images in the test environment).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/config.js';
import { envName, SCHEMA } from '../../src/config/schema.js';
import { startBerth, type RunningBerth } from '../helpers/berth.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const DEPLOY = join(ROOT, 'deploy');
const work = mkdtempSync(join(tmpdir(), 'berth-deploy-'));
after(() => rmSync(work, { recursive: true, force: true }));

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every YAML file under deploy/, each as its parsed documents. */
function yamlFiles(): Map<string, Obj[]> {
  const files = new Map<string, Obj[]>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, name.name);
      if (name.isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(name.name)) {
        const docs = parseAllDocuments(readFileSync(path, 'utf8'));
        const list = Array.isArray(docs) ? docs : [docs];
        for (const d of list) assert.deepEqual(d.errors.map((e) => e.message), [], `${relative(ROOT, path)} parses`);
        files.set(relative(DEPLOY, path), list.map((d) => d.toJS() as Obj).filter(isObj));
      }
    }
  };
  walk(DEPLOY);
  return files;
}

/** Names Berth reads: `envName` of every schema key, their `_FILE` twins, and BERTH_CONFIG. */
const BERTH_ENV = new Set(['BERTH_CONFIG', ...Object.keys(SCHEMA).flatMap((k) => [envName(k), `${envName(k)}_FILE`])]);
/** Variables the containers may carry besides Berth's own: the AWS SDK's standard credentials, Node's mode. */
const OTHER_ENV = /^(AWS_[A-Z_]+|NODE_ENV)$/;

function assertBerthEnv(where: string, names: readonly string[]): void {
  for (const name of names) {
    if (name.startsWith('BERTH_')) assert.ok(BERTH_ENV.has(name), `${where}: ${name} is not a Berth setting (see src/config/schema.ts)`);
    else assert.match(name, OTHER_ENV, `${where}: unexpected variable ${name}`);
  }
}

/** Flattened dotted keys of a YAML mapping, as the config loader sees them. */
function flatKeys(obj: Obj, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) => (isObj(v) && !(`${prefix}${k}` in SCHEMA) ? flatKeys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

const files = yamlFiles();
const k8s = [...files].filter(([f]) => f.startsWith('kubernetes/')).flatMap(([, docs]) => docs);
const ofKind = (kind: string): Obj[] => k8s.filter((d) => d.kind === kind);
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
/** Dockerfile instructions with continuation lines joined. */
const instructions = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const instruction = (name: string): string[] => instructions.filter((l) => l.toUpperCase().startsWith(`${name} `)).map((l) => l.slice(name.length + 1).trim());

let berth: RunningBerth;
before(async () => { berth = await startBerth({ backend: 'sqlite-fs' }); });
after(async () => berth.stop());

describe('deploy/ files', () => {
  it('every YAML file parses, and the Kubernetes set has the Deployment, Service, ConfigMap, Secret and Ingress', () => {
    assert.ok(files.has('compose.yaml'), 'deploy/compose.yaml');
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'Secret', 'Ingress']) assert.equal(ofKind(kind).length, 1, `one ${kind}`);
    const kustomization = files.get('kubernetes/kustomization.yaml')?.[0];
    if (kustomization) {
      const listed = new Set(kustomization.resources as string[]);
      for (const f of files.keys()) if (f.startsWith('kubernetes/') && !f.endsWith('kustomization.yaml')) assert.ok(listed.has(f.slice('kubernetes/'.length)), `kustomization lists ${f}`);
    }
  });

  it('the ConfigMap\'s berth.yaml uses only real keys with valid values', () => {
    const text = (ofKind('ConfigMap')[0]!.data as Obj)['berth.yaml'];
    assert.equal(typeof text, 'string');
    const [doc] = parseAllDocuments(text as string) as unknown as [{ toJS(): Obj }];
    for (const key of flatKeys(doc.toJS())) assert.ok(key in SCHEMA, `berth.yaml key ${key} is not in src/config/schema.ts`);
    const file = join(work, 'berth.yaml');
    writeFileSync(file, text as string);
    const config = loadConfig({ file, env: {} });
    assert.equal(config.server.host, '0.0.0.0', 'listens on all interfaces in a pod');
    assert.equal(config.storage.driver, 's3');
  });

  it('the Deployment: 2+ replicas, config and secrets wired, probes on /healthz and /livez at the container port', () => {
    const deployment = ofKind('Deployment')[0]! as { spec: { replicas: number; template: { spec: Obj } } };
    assert.ok(deployment.spec.replicas >= 2, `replicas: ${deployment.spec.replicas}`);
    const pod = deployment.spec.template.spec as { containers: Obj[]; volumes: Obj[] };
    const container = pod.containers[0] as {
      env: { name: string; value?: string }[]; envFrom: { secretRef?: { name: string }; configMapRef?: { name: string } }[];
      ports: { name: string; containerPort: number }[]; readinessProbe: { httpGet: { path: string; port: string | number } };
      livenessProbe: { httpGet: { path: string; port: string | number } }; volumeMounts: { name: string; mountPath: string }[];
    };
    assertBerthEnv('Deployment env', container.env.map((e) => e.name));
    const secret = ofKind('Secret')[0]! as { metadata: { name: string }; stringData?: Obj; data?: Obj };
    assert.ok(container.envFrom.some((e) => e.secretRef?.name === secret.metadata.name), 'the Secret is the environment');
    const secretKeys = Object.keys(secret.stringData ?? secret.data ?? {});
    assertBerthEnv('Secret', secretKeys);
    assert.ok(secretKeys.includes('BERTH_METADATA_URL'), 'the Secret holds the metadata URL');
    assert.ok(secretKeys.includes('AWS_ACCESS_KEY_ID') && secretKeys.includes('AWS_SECRET_ACCESS_KEY'), 'and the S3 credentials');

    // BERTH_CONFIG points into the ConfigMap's mount.
    const configPath = container.env.find((e) => e.name === 'BERTH_CONFIG')?.value;
    const configMap = ofKind('ConfigMap')[0]! as { metadata: { name: string } };
    const volume = pod.volumes.find((v) => (v.configMap as Obj | undefined)?.name === configMap.metadata.name);
    const mount = container.volumeMounts.find((m) => m.name === volume?.name);
    assert.ok(mount && configPath === `${mount.mountPath}/berth.yaml`, `BERTH_CONFIG ${configPath} is the mounted berth.yaml`);

    const port = container.ports[0]!;
    const configured = loadConfig({ file: join(work, 'berth.yaml'), env: {} }).server.port;
    assert.equal(port.containerPort, configured, 'the container port is the configured server.port');
    assert.equal(container.readinessProbe.httpGet.path, '/healthz');
    assert.equal(container.livenessProbe.httpGet.path, '/livez');
    for (const probe of [container.readinessProbe, container.livenessProbe]) assert.ok([port.name, port.containerPort].includes(probe.httpGet.port));

    const service = ofKind('Service')[0]! as { spec: { ports: { targetPort: string | number }[]; selector: Obj } };
    assert.ok([port.name, port.containerPort].includes(service.spec.ports[0]!.targetPort), 'the Service targets the container port');
    assert.deepEqual(service.spec.selector, (deployment.spec as unknown as { selector: { matchLabels: Obj } }).selector.matchLabels);
    const ingress = ofKind('Ingress')[0]! as { metadata: { annotations: Obj } };
    assert.equal(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-body-size'], '0', 'no body size limit');
  });

  it('the probe and health-check paths are endpoints a running Berth answers with 200', async () => {
    const paths = new Set(['/healthz', '/livez', ...[...dockerfile.matchAll(/(\/[a-z]+z)\b/g)].map((m) => m[1]!)]);
    for (const path of paths) {
      const res = await berth.fetch(path, { auth: null });
      assert.equal(res.status, 200, `GET ${path}`);
    }
  });

  it('compose: 2+ Berth replicas on PostgreSQL and S3 behind nginx, with real settings only', () => {
    const compose = files.get('compose.yaml')![0]! as { services: Record<string, Obj> };
    const berthServices = Object.entries(compose.services).filter(([, s]) => s.image === 'berth:local' || isObj(s.build));
    const replicas = berthServices.reduce((n, [, s]) => n + Number((s.deploy as Obj | undefined)?.replicas ?? 1), 0);
    assert.ok(replicas >= 2, `${replicas} Berth replicas`);
    for (const [name, service] of berthServices) {
      const env = service.environment as Record<string, string>;
      assertBerthEnv(`compose service ${name}`, Object.keys(env));
      const config = loadConfig({ env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) });
      assert.match(config.metadata.url, /^postgres:\/\//, 'PostgreSQL metadata');
      assert.equal(config.storage.driver, 's3');
      assert.ok(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY, 'S3 credentials');
    }
    const images = Object.values(compose.services).map((s) => String(s.image ?? ''));
    assert.ok(images.some((i) => i.startsWith('postgres:')), 'a PostgreSQL service');
    assert.ok(images.some((i) => /minio|ceph/.test(i)), 'an S3 service');
    const nginx = Object.values(compose.services).find((s) => String(s.image).startsWith('nginx'))!;
    assert.ok((nginx.volumes as string[]).some((v) => v.startsWith('./nginx.conf:')), 'nginx uses deploy/nginx.conf');
  });

  it('nginx.conf is valid nginx, streams bodies unbuffered and unlimited, and keeps the Host port', () => {
    const conf = readFileSync(join(DEPLOY, 'nginx.conf'), 'utf8');
    for (const directive of [/client_max_body_size 0;/, /proxy_request_buffering off;/, /proxy_buffering off;/, /proxy_set_header Host \$http_host;/]) {
      assert.match(conf, directive);
    }
    const upstream = /server berth:(\d+);/.exec(conf);
    assert.equal(Number(upstream?.[1]), SCHEMA['server.port'].default, 'the upstream port is Berth\'s');
    // `nginx -t` on a copy whose upstream resolves here.
    const nginx = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
    if (!nginx) return;
    const copy = join(work, 'nginx.conf');
    writeFileSync(copy, conf.replace('server berth:', 'server 127.0.0.1:'));
    const r = spawnSync(nginx, ['-t', '-q', '-p', work, '-c', copy, '-g', `pid ${join(work, 'nginx.pid')}; error_log stderr;`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});

describe('Dockerfile', () => {
  it('multi-stage on node:24-bookworm-slim (the current LTS): npm ci + build, production dependencies only at runtime', () => {
    const from = instruction('FROM');
    assert.ok(from.length >= 2, 'multi-stage');
    for (const f of from) assert.match(f, /^node:24-bookworm-slim\b/);
    assert.ok(instruction('RUN').some((r) => /\bnpm ci\b(?! --omit)/.test(r)) && instruction('RUN').some((r) => /npm run build/.test(r)));
    assert.ok(instruction('RUN').some((r) => /npm ci --omit=dev/.test(r)));
  });

  it('runs `node dist/main.js serve` (the package bin) as a non-root user, port and data volume as configured', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    assert.deepEqual(JSON.parse(instruction('ENTRYPOINT').at(-1)!), ['node', pkg.bin.berth]);
    assert.deepEqual(JSON.parse(instruction('CMD').at(-1)!), ['serve']);
    // The admin commands as the README writes them (`berth user create …`) work inside the container too.
    assert.ok(instruction('RUN').some((r) => new RegExp(`ln -s /app/${pkg.bin.berth} /usr/local/bin/berth`).test(r)), 'berth on PATH');
    const user = instruction('USER').at(-1);
    assert.ok(user && !/^(root|0)$/.test(user), `USER ${user}`);

    const env = Object.fromEntries(instruction('ENV').flatMap((l) => [...l.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));
    assertBerthEnv('Dockerfile ENV', Object.keys(env));
    const config = loadConfig({ env });
    assert.equal(config.server.host, '0.0.0.0');
    assert.deepEqual(instruction('EXPOSE').map(Number), [config.server.port]);
    assert.deepEqual(instruction('VOLUME'), [config.dataDir]);
    const healthcheck = instruction('HEALTHCHECK').at(-1) ?? '';
    assert.match(healthcheck, /\/healthz/);
    assert.match(healthcheck, /BERTH_SERVER_PORT \|\| 5000/);
  });

  it('.dockerignore keeps build output, dependencies and local data out of the context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', 'data', '.git']) assert.ok(ignored.includes(entry), entry);
    // …but not what the Dockerfile copies.
    for (const copied of instruction('COPY').filter((c) => !c.startsWith('--from')).flatMap((c) => c.split(/\s+/).slice(0, -1))) {
      assert.ok(!ignored.includes(copied.replace(/\/$/, '')), `${copied} is copied, so it must not be ignored`);
    }
  });
});
