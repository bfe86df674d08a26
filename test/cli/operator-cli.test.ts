import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { startBerth } from '../helpers/berth.js';
import { skopeoCopy, skopeoInspect } from '../helpers/clients.js';
import { writeImageLayout } from '../helpers/oci-image.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'berth-opcli-'));
after(() => rmSync(work, { recursive: true, force: true }));

function berth(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [builtCli(), ...args], {
    cwd: ROOT, encoding: 'utf8', input: opts.input, env: { ...process.env, ...opts.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('kube-secret prints a dockerconfigjson Secret that pulls a private image (used as a skopeo auth file)', async () => {
  const server = await startBerth();
  try {
    const layout = join(work, 'layout');
    const image = await writeImageLayout(layout, { layers: [1024], tag: 'v1' });
    await skopeoCopy(`oci:${layout}:v1`, `docker://${server.host}/acme/private:1`, [], { creds: `${server.user}:${server.token}` });
    const reader = await server.admin(async (s) => (await s.tokens.create({
      userId: (await s.accounts.getUser(server.user)).id, note: 'k8s', scopes: ['read:packages'], expiresAt: null,
    })).token);

    const out = berth(['kube-secret', '--server', server.host, '--username', server.user, '--token-stdin', '--namespace', 'api', '--name', 'ghcr-secret'], { input: `${reader}\n` });
    assert.equal(out.status, 0, out.stderr);
    const [doc] = out.stdout.split('\n# In the Deployment');
    const secret = parse(doc!) as { kind: string; type: string; metadata: { name: string; namespace: string }; data: Record<string, string> };
    assert.equal(secret.kind, 'Secret');
    assert.equal(secret.type, 'kubernetes.io/dockerconfigjson');
    assert.deepEqual(secret.metadata, { name: 'ghcr-secret', namespace: 'api' });
    assert.match(out.stdout, /imagePullSecrets:\n#\s+- name: ghcr-secret/);
    const dockerConfig = Buffer.from(secret.data['.dockerconfigjson']!, 'base64').toString();
    const authfile = join(work, 'config.json');
    writeFileSync(authfile, dockerConfig);
    const raw = await skopeoInspect(`docker://${server.host}/acme/private:1`, { raw: true, authfile });
    assert.equal(raw, image.manifestBytes.toString());

    const missing = berth(['kube-secret', '--server', server.host, '--username', 'x'], { env: { BERTH_TOKEN: '', GITHUB_TOKEN: '' } });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /no token/);
  } finally {
    await server.stop();
  }
});

test('ci-template prints a valid workflow: a matrix of services, manual choice of all or one, login and push to Berth', () => {
  const out = berth(['ci-template', '--registry', 'registry.example.com', '--org', 'acme', '--services', 'auth-api,my-api']);
  assert.equal(out.status, 0, out.stderr);
  const wf = parse(out.stdout) as {
    name: string; on: { push: { paths: string[] }; workflow_dispatch: { inputs: { service: { options: string[]; default: string } } } };
    permissions: Record<string, string>; jobs: Record<string, { needs?: string; strategy?: { matrix: { service: string } }; steps: { uses?: string; with?: Record<string, string> }[] }>;
  };
  assert.equal(wf.name, 'Build and Push API Images');
  assert.deepEqual(wf.on.push.paths, ['services/auth-api/**', 'services/my-api/**']);
  assert.deepEqual(wf.on.workflow_dispatch.inputs.service.options, ['all', 'auth-api', 'my-api']);
  assert.equal(wf.on.workflow_dispatch.inputs.service.default, 'all');
  assert.deepEqual(wf.permissions, { contents: 'read', packages: 'write' });
  assert.deepEqual(Object.keys(wf.jobs), ['select', 'build']);
  const build = wf.jobs.build!;
  assert.equal(build.needs, 'select');
  assert.match(build.strategy!.matrix.service, /fromJSON\(needs\.select\.outputs\.services\)/);
  const login = build.steps.find((s) => s.uses?.startsWith('docker/login-action'))!;
  assert.equal(login.with!.registry, '${{ env.REGISTRY }}');
  const push = build.steps.find((s) => s.uses?.startsWith('docker/build-push-action'))!;
  assert.equal(push.with!.context, 'services/${{ matrix.service }}');
  assert.equal(String(push.with!.push), 'true');
  assert.match(out.stdout, /REGISTRY: registry.example.com\n\s+ORG: acme/);
  assert.equal(berth(['ci-template', '--registry', 'r', '--org', 'acme', '--services', 'Bad Name']).status, 2);
});

test('config check says OK for a good configuration and names the problem otherwise', () => {
  const good = join(work, 'good.yaml');
  writeFileSync(good, `dataDir: ${join(work, 'data')}\nserver:\n  port: 8080\n`);
  const ok = berth(['config', 'check', '--config', good]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /listen:\s+127\.0\.0\.1:8080/);
  assert.match(ok.stdout, /configuration OK/);
  const bad = join(work, 'bad.yaml');
  writeFileSync(bad, 'server:\n  port: eighty\n');
  const wrong = berth(['config', 'check', '--config', bad]);
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /server\.port.*"eighty" is not an integer/);
  const file = join(work, 'not-a-dir');
  writeFileSync(file, 'x');
  const unwritable = berth(['config', 'check'], { env: { BERTH_STORAGE_FS_ROOT: join(file, 'sub') } });
  assert.equal(unwritable.status, 2);
  assert.match(unwritable.stderr, /storage\.fs\.root .* is not a writable directory/);
});
