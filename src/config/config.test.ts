import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from './config.js';
import { renderExampleConfig } from './example.js';
import { envName } from './schema.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-config-'));

test('zero configuration: SQLite and files under ./data, port 5000 on loopback', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.server.host, '127.0.0.1');
  assert.equal(c.server.port, 5000);
  assert.match(c.metadata.url, /^sqlite:.*\/data\/berth\.db$/);
  assert.match(c.storage.fs.root, /\/data\/storage$/);
  assert.ok(Object.isFrozen(c.server));
});

test('precedence: defaults < file < environment < flags', () => {
  const file = join(dir, 'a.yaml');
  writeFileSync(file, 'server:\n  port: 6000\n  host: 0.0.0.0\nuploads:\n  expireAfter: 2h\nregistry:\n  manifestMaxBytes: 8MiB\n');
  const fromFile = loadConfig({ file, env: {} });
  assert.equal(fromFile.server.port, 6000);
  assert.equal(fromFile.uploads.expireAfterMs, 7_200_000);
  assert.equal(fromFile.registry.manifestMaxBytes, 8 * 1024 * 1024);
  assert.equal(loadConfig({ file, env: { BERTH_SERVER_PORT: '7000' } }).server.port, 7000);
  assert.equal(loadConfig({ file, env: { BERTH_SERVER_PORT: '7000' }, overrides: { 'server.port': '8000' } }).server.port, 8000);
  assert.equal(loadConfig({ file, env: {} }).server.host, '0.0.0.0');
});

test('*_FILE variables read the value from a file', () => {
  const secret = join(dir, 'url');
  writeFileSync(secret, 'sqlite:/tmp/x.db\n');
  assert.equal(loadConfig({ env: { BERTH_METADATA_URL_FILE: secret } }).metadata.url, 'sqlite:/tmp/x.db');
});

test('errors name the key and where the value came from', () => {
  assert.throws(() => loadConfig({ env: { BERTH_SERVER_PORT: 'eighty' } }), (err: Error) =>
    err instanceof ConfigError && /server\.port/.test(err.message) && /BERTH_SERVER_PORT/.test(err.message));
  assert.throws(() => loadConfig({ env: { BERTH_REGISTRY_MANIFEST_MAX_BYTES: '1MiB' } }), /at least 4194304/);
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'server:\n  prot: 1\n');
  assert.throws(() => loadConfig({ file, env: {} }), /unknown key server\.prot/);
  assert.throws(() => loadConfig({ env: { BERTH_LOG_LEVEL: 'loud' } }), /one of/);
  assert.throws(() => loadConfig({ env: { BERTH_SERVER_PUBLIC_URL: 'not a url' } }), /publicUrl/);
});

test('environment names follow distribution style', () => {
  assert.equal(envName('storage.s3.forcePathStyle'), 'BERTH_STORAGE_S3_FORCE_PATH_STYLE');
  assert.equal(envName('dataDir'), 'BERTH_DATA_DIR');
});

test('docs/berth.example.yaml is current and loads as a config file', () => {
  const path = new URL('../../docs/berth.example.yaml', import.meta.url);
  assert.equal(readFileSync(path, 'utf8'), renderExampleConfig(), 'run `berth config example > docs/berth.example.yaml`');
  assert.doesNotThrow(() => loadConfig({ file: path.pathname, env: {} }));
});

test('TLS needs both files; trusted proxies are a comma list', () => {
  assert.equal(loadConfig({ env: {} }).server.tls, null);
  assert.deepEqual(loadConfig({ env: {} }).server.trustedProxies, []);
  const c = loadConfig({ env: { BERTH_SERVER_TLS_CERT: '/etc/berth/cert.pem', BERTH_SERVER_TLS_KEY: '/etc/berth/key.pem', BERTH_SERVER_TRUSTED_PROXIES: '10.0.0.1, 192.168.0.0/16,' } });
  assert.deepEqual(c.server.tls, { cert: '/etc/berth/cert.pem', key: '/etc/berth/key.pem', port: null });
  const both = loadConfig({ env: { BERTH_SERVER_TLS_CERT: '/c.pem', BERTH_SERVER_TLS_KEY: '/k.pem', BERTH_SERVER_TLS_PORT: '443', BERTH_SERVER_PORT: '5000' } });
  assert.deepEqual([both.server.port, both.server.tls?.port], [5000, 443], 'HTTP on server.port, HTTPS on server.tls.port');
  assert.throws(() => loadConfig({ env: { BERTH_SERVER_TLS_PORT: '443' } }), /server\.tls\.port needs server\.tls\.cert and server\.tls\.key/);
  assert.deepEqual(c.server.trustedProxies, ['10.0.0.1', '192.168.0.0/16']);
  assert.throws(() => loadConfig({ env: { BERTH_SERVER_TLS_CERT: '/etc/berth/cert.pem' } }), /server\.tls\.cert and server\.tls\.key/);
});

test('REST API rate limits and package deletion rules have GitHub\'s defaults', () => {
  const c = loadConfig({ env: {} });
  assert.deepEqual(c.api.rateLimit, { authenticated: 5000, anonymous: 60, windowMs: 3_600_000 });
  assert.deepEqual(c.packages, { restoreWindowMs: 30 * 86_400_000, purgeIntervalMs: 3_600_000, deleteDownloadLimit: 5000 });
  assert.equal(loadConfig({ env: { BERTH_PACKAGES_DELETE_DOWNLOAD_LIMIT: '0' } }).packages.deleteDownloadLimit, 0);
  assert.deepEqual(c.quota, { defaultBytes: null, warningPercent: 80 });
  assert.deepEqual(loadConfig({ env: { BERTH_QUOTA_DEFAULT: '1.5GiB' } }).quota.defaultBytes, 1.5 * 1024 ** 3);
  assert.throws(() => loadConfig({ env: { BERTH_API_RATE_LIMIT_ANONYMOUS: '0' } }), /at least 1/);
});

test('storage.driver s3 needs a bucket; its keys come from BERTH_STORAGE_S3_*, secrets also from files', () => {
  assert.equal(loadConfig({ env: {} }).storage.s3, null);
  assert.throws(() => loadConfig({ env: { BERTH_STORAGE_DRIVER: 's3' } }), /storage\.s3\.bucket must be set .*BERTH_STORAGE_S3_BUCKET/);
  assert.throws(() => loadConfig({ env: { BERTH_STORAGE_DRIVER: 'gcs' } }), /storage\.driver .*one of fs, s3/);
  const secret = join(dir, 's3-secret');
  writeFileSync(secret, 'sekrit\n');
  const c = loadConfig({
    env: {
      BERTH_STORAGE_DRIVER: 's3', BERTH_STORAGE_S3_ENDPOINT: 'http://127.0.0.1:7480', BERTH_STORAGE_S3_BUCKET: 'b', BERTH_STORAGE_S3_REGION: 'eu-west-1',
      BERTH_STORAGE_S3_FORCE_PATH_STYLE: 'true', BERTH_STORAGE_S3_ACCESS_KEY_ID: 'AK', BERTH_STORAGE_S3_SECRET_ACCESS_KEY_FILE: secret,
    },
  });
  assert.deepEqual(c.storage.s3, {
    endpoint: 'http://127.0.0.1:7480', bucket: 'b', region: 'eu-west-1', prefix: '', forcePathStyle: true, createBucket: true,
    credentials: { accessKeyId: 'AK', secretAccessKey: 'sekrit' }, redirectTtlMs: null,
  });
  const redirect = loadConfig({ env: { BERTH_STORAGE_DRIVER: 's3', BERTH_STORAGE_S3_BUCKET: 'b', BERTH_STORAGE_S3_REDIRECT: 'true', BERTH_STORAGE_S3_REDIRECT_TTL: '90s' } });
  assert.equal(redirect.storage.s3?.redirectTtlMs, 90_000);
  assert.throws(() => loadConfig({ env: { BERTH_STORAGE_DRIVER: 's3', BERTH_STORAGE_S3_BUCKET: 'b', BERTH_STORAGE_S3_ACCESS_KEY_ID: 'AK' } }), /set together/);
});

test('mirror upstreams: any number of namespaces from the file and the environment, secrets from _FILE', () => {
  const file = join(dir, 'mirrors.yaml');
  writeFileSync(file, [
    'mirror:', '  tagTtl: 10m', '  access: public', '  upstreams:',
    '    dockerhub:', '      url: https://registry-1.docker.io/', '      default: true', '      evictAfter: 30d',
    '    ghcr:', '      url: https://ghcr.io', '      username: bot', '      password: from-file', '',
  ].join('\n'));
  const secret = join(dir, 'quay-password');
  writeFileSync(secret, 's3cret\n');
  const c = loadConfig({
    file,
    env: {
      BERTH_MIRROR_UPSTREAMS_GHCR_PASSWORD: 'from-env',
      BERTH_MIRROR_UPSTREAMS_MY_QUAY_URL: 'http://127.0.0.1:9000',
      BERTH_MIRROR_UPSTREAMS_MY_QUAY_USERNAME: 'robot',
      BERTH_MIRROR_UPSTREAMS_MY_QUAY_PASSWORD_FILE: secret,
      BERTH_MIRROR_UPSTREAMS_MY_QUAY_EVICT_AFTER: '12h',
    },
  });
  assert.equal(c.mirror.tagTtlMs, 600_000);
  assert.equal(c.mirror.access, 'public');
  assert.deepEqual(c.mirror.upstreams.map((u) => [u.namespace, u.url, u.credentials, u.isDefault]), [
    ['dockerhub', 'https://registry-1.docker.io', null, true],
    ['ghcr', 'https://ghcr.io', { username: 'bot', password: 'from-env' }, false],
    ['my-quay', 'http://127.0.0.1:9000', { username: 'robot', password: 's3cret' }, false],
  ]);
  assert.deepEqual(c.mirror.upstreams.map((u) => u.evictAfterMs), [30 * 86_400_000, null, 12 * 3_600_000]);
  assert.deepEqual(loadConfig({ env: {} }).mirror.upstreams, []);
  assert.equal(loadConfig({ env: {} }).mirror.access, 'signed-in');
});

test('mirror upstreams: mistakes are named', () => {
  const bad = (env: Record<string, string>, pattern: RegExp): void => assert.throws(() => loadConfig({ env }), pattern);
  bad({ BERTH_MIRROR_UPSTREAMS_HUB_USERNAME: 'x' }, /mirror\.upstreams\.hub\.url must be set/);
  bad({ BERTH_MIRROR_UPSTREAMS_HUB_URL: 'registry-1.docker.io' }, /not an absolute URL/);
  bad({ BERTH_MIRROR_UPSTREAMS_HUB_URL: 'ftp://x' }, /http or https/);
  bad({ BERTH_MIRROR_UPSTREAMS_HUB_URL: 'https://x', BERTH_MIRROR_UPSTREAMS_HUB_USERNAME: 'u' }, /set together/);
  bad({ BERTH_MIRROR_UPSTREAMS_A_URL: 'https://a', BERTH_MIRROR_UPSTREAMS_A_DEFAULT: 'true', BERTH_MIRROR_UPSTREAMS_B_URL: 'https://b', BERTH_MIRROR_UPSTREAMS_B_DEFAULT: 'yes' }, /only one mirror may be the default/);
  bad({ BERTH_MIRROR_UPSTREAMS_HUB_URL: 'https://x', BERTH_MIRROR_UPSTREAMS_HUB_DEFAULT: 'maybe' }, /mirror\.upstreams\.hub\.default .*BERTH_MIRROR_UPSTREAMS_HUB_DEFAULT/);
  const file = join(dir, 'bad-mirror.yaml');
  writeFileSync(file, 'mirror:\n  upstreams:\n    hub:\n      url: https://x\n      user: bob\n');
  assert.throws(() => loadConfig({ file, env: {} }), /unknown key mirror\.upstreams\.hub\.user/);
  writeFileSync(file, 'mirror:\n  upstreams:\n    Docker_Hub:\n      url: https://x\n');
  assert.throws(() => loadConfig({ file, env: {} }), /not a valid mirror namespace/);
});

test('auth.sso: settings from a file, the secret from a file, teams mapped; mistakes are named', () => {
  const secret = join(dir, 'sso-secret');
  writeFileSync(secret, 'from-a-file\n');
  const file = join(dir, 'sso.yaml');
  writeFileSync(file, `auth:\n  sso:\n    issuer: https://id.example.com/\n    clientId: berth\n    clientSecretFile: ${secret}\n    scopes: profile groups\n`
    + '    groupsClaim: groups\n    teamMap: platform=acme/platform, Dev Team=acme/developers\n    localPasswords: false\n');
  const { sso, localPasswords } = loadConfig({ file, env: {} }).auth;
  assert.deepEqual(sso, {
    issuer: 'https://id.example.com', clientId: 'berth', clientSecret: 'from-a-file', scopes: ['openid', 'profile', 'groups'],
    usernameClaim: 'preferred_username', groupsClaim: 'groups',
    teamMap: [{ group: 'platform', org: 'acme', team: 'platform' }, { group: 'Dev Team', org: 'acme', team: 'developers' }],
  });
  assert.equal(localPasswords, false);
  assert.deepEqual(loadConfig({ env: {} }).auth, { ...loadConfig({ env: {} }).auth, sso: null, localPasswords: true });
  const fails = (env: Record<string, string>, message: RegExp) => assert.throws(() => loadConfig({ env }), (e: unknown) => e instanceof ConfigError && message.test(e.message));
  fails({ BERTH_AUTH_SSO_LOCAL_PASSWORDS: 'false' }, /localPasswords: false needs auth\.sso\.issuer/);
  fails({ BERTH_AUTH_SSO_CLIENT_ID: 'x' }, /auth\.sso\.clientId needs auth\.sso\.issuer/);
  fails({ BERTH_AUTH_SSO_ISSUER: 'https://id.example.com' }, /auth\.sso\.clientId must be set/);
  fails({ BERTH_AUTH_SSO_ISSUER: 'id.example.com', BERTH_AUTH_SSO_CLIENT_ID: 'x' }, /not an absolute http\(s\) URL/);
  const base = { BERTH_AUTH_SSO_ISSUER: 'https://id.example.com', BERTH_AUTH_SSO_CLIENT_ID: 'x', BERTH_AUTH_SSO_GROUPS_CLAIM: 'groups' };
  fails({ ...base, BERTH_AUTH_SSO_TEAM_MAP: 'platform=acme' }, /"platform=acme" is not GROUP=ORG\/TEAM/);
  fails({ BERTH_AUTH_SSO_ISSUER: 'https://id.example.com', BERTH_AUTH_SSO_CLIENT_ID: 'x', BERTH_AUTH_SSO_TEAM_MAP: 'a=b/c' }, /teamMap needs auth\.sso\.groupsClaim/);
  fails({ ...base, BERTH_AUTH_SSO_CLIENT_SECRET: 's', BERTH_AUTH_SSO_CLIENT_SECRET_FILE: secret }, /not both/);
});
