import { builtCli } from '../helpers/built-cli.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

type Workflow = {
  name: string; on: { push: { paths: string[] }; workflow_dispatch: { inputs: { service: { options: string[]; default: string } } } };
  permissions: Record<string, string>;
  jobs: Record<string, { needs?: string; if?: string; strategy?: { matrix: { service: string } }; steps: { id?: string; name?: string; uses?: string; run?: string; env?: Record<string, string>; with?: Record<string, string> }[] }>;
};

test('ci-template prints a valid workflow: a matrix of services, manual choice of all or one, OIDC login by default, push to Berth', () => {
  const out = berth(['ci-template', '--registry', 'registry.example.com', '--org', 'acme', '--services', 'auth-api,my-api']);
  assert.equal(out.status, 0, out.stderr);
  const wf = parse(out.stdout) as Workflow;
  assert.equal(wf.name, 'Build and Push API Images');
  assert.deepEqual(wf.on.push.paths, ['services/auth-api/**', 'services/my-api/**']);
  assert.deepEqual(wf.on.workflow_dispatch.inputs.service.options, ['all', 'auth-api', 'my-api']);
  assert.equal(wf.on.workflow_dispatch.inputs.service.default, 'all');
  // No registry secret: the job's ID token, which the organization's trust policy accepts (the comment says how).
  assert.deepEqual(wf.permissions, { contents: 'read', 'id-token': 'write' });
  assert.match(out.stdout, /# {3}berth trust add acme --issuer https:\/\/token\.actions\.githubusercontent\.com --audience registry\.example\.com/);
  assert.doesNotMatch(out.stdout, /secrets\./);
  assert.deepEqual(Object.keys(wf.jobs), ['select', 'build']);
  const build = wf.jobs.build!;
  assert.equal(build.needs, 'select');
  assert.equal(build.if, "needs.select.outputs.services != '[]'");
  assert.match(build.strategy!.matrix.service, /fromJSON\(needs\.select\.outputs\.services\)/);
  const login = build.steps.find((s) => s.name?.startsWith('Log in'))!;
  assert.match(login.run!, /docker login "\$REGISTRY" -u oidc --password-stdin/);
  const push = build.steps.find((s) => s.uses?.startsWith('docker/build-push-action'))!;
  assert.equal(push.with!.context, 'services/${{ matrix.service }}');
  assert.equal(String(push.with!.push), 'true');
  assert.match(out.stdout, /REGISTRY: registry.example.com\n\s+ORG: acme/);

  // --auth token: the guide's secrets, with packages: write.
  const withSecrets = parse(berth(['ci-template', '--registry', 'r.example.com', '--org', 'acme', '--services', 'api', '--auth', 'token']).stdout) as Workflow;
  assert.deepEqual(withSecrets.permissions, { contents: 'read', packages: 'write' });
  const action = withSecrets.jobs.build!.steps.find((s) => s.uses?.startsWith('docker/login-action'))!;
  assert.equal(action.with!.password, '${{ secrets.BERTH_TOKEN }}');

  // Inputs that would make broken image references are refused, saying what to write instead.
  const refused = (args: string[], message: RegExp): void => {
    const r = berth(['ci-template', ...args]);
    assert.equal(r.status, 2, r.stdout);
    assert.match(r.stderr, message);
  };
  refused(['--registry', 'r', '--org', 'acme', '--services', 'Bad Name'], /"Bad Name" is not a valid image name/);
  refused(['--registry', 'https://registry.example.com/', '--org', 'acme', '--services', 'api'], /without a scheme \(e\.g\. registry\.example\.com\)/);
  refused(['--registry', 'registry.example.com', '--org', 'Acme', '--services', 'api'], /--org: image names are lowercase: use acme/);
  refused(['--registry', 'registry.example.com', '--org', 'acme', '--services', 'api', '--auth', 'password'], /--auth: "password" is neither oidc nor token/);
  refused(['--registry', 'registry.example.com', '--org', 'acme', '--services', 'api', '--path', '../x'], /--path: "\.\.\/x" is not a relative folder/);
});

test('ci-template builds only the services whose folders changed: its select step run by bash in a real git checkout', () => {
  const out = berth(['ci-template', '--registry', 'registry.example.com', '--org', 'acme', '--services', 'auth-api,my-api,web']);
  assert.equal(out.status, 0, out.stderr);
  const pick = (parse(out.stdout) as Workflow).jobs.select!.steps.find((s) => s.id === 'pick')!;
  const repo = join(work, 'repo');
  const git = (...args: string[]): string => {
    const r = spawnSync('git', ['-c', 'user.name=ci', '-c', 'user.email=ci@example.com', ...args], { cwd: repo, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  spawnSync('mkdir', ['-p', join(repo, 'services/auth-api'), join(repo, 'services/my-api'), join(repo, 'services/web')]);
  git('init', '-q', '-b', 'main');
  for (const s of ['auth-api', 'my-api', 'web']) writeFileSync(join(repo, 'services', s, 'Dockerfile'), 'FROM scratch\n');
  git('add', '.');
  git('commit', '-qm', 'services');
  const first = git('rev-parse', 'HEAD');
  writeFileSync(join(repo, 'services/my-api/Dockerfile'), 'FROM scratch\nLABEL v=2\n');
  writeFileSync(join(repo, 'services/web/index.html'), 'hi\n');
  git('add', '.');
  git('commit', '-qm', 'my-api and web');
  const second = git('rev-parse', 'HEAD');
  writeFileSync(join(repo, 'README.md'), 'docs\n');
  git('add', '.');
  git('commit', '-qm', 'docs only');
  const third = git('rev-parse', 'HEAD');

  // What the runner does: the step's env (expressions filled in as GitHub would) and its script in bash.
  const run = (vars: { EVENT: string; BEFORE?: string; SHA: string; CHOSEN?: string }): string[] => {
    const output = join(work, `output-${Math.random()}`);
    writeFileSync(output, '');
    const env = { ...pick.env!, EVENT: vars.EVENT, BEFORE: vars.BEFORE ?? '', CHOSEN: vars.CHOSEN ?? '', GITHUB_SHA: vars.SHA, GITHUB_OUTPUT: output, PATH: process.env.PATH! };
    const r = spawnSync('bash', ['-eo', 'pipefail', '-c', pick.run!], { cwd: repo, encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    const line = readFileSync(output, 'utf8').trim();
    assert.match(line, /^services=/);
    return JSON.parse(line.slice('services='.length)) as string[];
  };
  assert.deepEqual(run({ EVENT: 'push', BEFORE: first, SHA: second }), ['my-api', 'web']);
  assert.deepEqual(run({ EVENT: 'push', BEFORE: second, SHA: third }), [], 'a change outside the services builds nothing');
  assert.deepEqual(run({ EVENT: 'push', BEFORE: '0000000000000000000000000000000000000000', SHA: third }), ['auth-api', 'my-api', 'web'], 'a new branch builds all');
  assert.deepEqual(run({ EVENT: 'workflow_dispatch', SHA: third, CHOSEN: 'auth-api' }), ['auth-api']);
  assert.deepEqual(run({ EVENT: 'workflow_dispatch', SHA: third, CHOSEN: 'all' }), ['auth-api', 'my-api', 'web']);
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
