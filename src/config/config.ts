import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseByteSize } from '../util/byte-size.js';
import { parseDuration } from '../util/duration.js';
import { MIRROR_NAMESPACE, parseMirrorReaders, parseUpstreamUrl, type MirrorReaders } from '../oci/names.js';
import { envName, SCHEMA, UPSTREAM_SCHEMA, type ConfigKey, type KeySpec, type UpstreamKey } from './schema.js';

/** The typed, frozen configuration handed to createApp. Modules receive only their slice. */
/** The webhook worker's timing and its SSRF guard (src/events/). */
export interface WebhookSettings {
  readonly pollIntervalMs: number;
  readonly timeoutMs: number;
  readonly retryPeriodMs: number;
  readonly maxBackoffMs: number;
  readonly allowPrivateTargets: boolean;
}

export interface Config {
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly publicUrl: string | null;
    /**
     * Certificate and key file paths; null serves plain HTTP. `port` null: `port` serves HTTPS only; else HTTPS is
     * served on it and plain HTTP on `port`.
     */
    readonly tls: { readonly cert: string; readonly key: string; readonly port: number | null } | null;
    /** Addresses/CIDRs whose X-Forwarded-* headers are believed (Fastify `trustProxy`); empty: none. */
    readonly trustedProxies: readonly string[];
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly idleTimeoutMs: number;
    /** 0: no limit. */
    readonly maxConnectionsPerClient: number;
  };
  readonly dataDir: string;
  readonly metadata: { readonly url: string; readonly autoMigrate: boolean };
  readonly storage: {
    readonly driver: 'fs' | 's3';
    /** Check full blob reads against the digest while serving them (see registry/verified-read.ts). */
    readonly verifyOnRead: boolean;
    readonly fs: { readonly root: string };
    /** Free bytes under which the local filesystems Berth writes to are reported as low; 0: not checked. */
    readonly freeSpaceWarning: number;
    /** Set when the driver is s3. */
    readonly s3: S3StorageConfig | null;
  };
  readonly registry: { readonly manifestMaxBytes: number; readonly tagsPageSize: number; readonly tagsPageMax: number };
  readonly uploads: {
    readonly chunkMinLength: number; readonly expireAfterMs: number; readonly purgeIntervalMs: number;
    readonly maxSessionsPerUser: number; readonly maxSessionsPerRepository: number;
  };
  readonly stats: { readonly flushIntervalMs: number };
  readonly auth: {
    readonly registryTokenTtlMs: number;
    readonly failedLoginLimit: number;
    readonly failedLoginWindowMs: number;
    /** Encrypts the signing keys at rest; null: stored in clear. */
    readonly keyEncryptionKey: string | null;
    /** Single sign-on for the web UI; null: none. */
    readonly sso: SsoConfig | null;
    /** Whether the web UI's sign-in form takes Berth passwords (false only with `sso`). */
    readonly localPasswords: boolean;
  };
  readonly api: { readonly rateLimit: { readonly authenticated: number; readonly anonymous: number; readonly windowMs: number } };
  readonly packages: { readonly restoreWindowMs: number; readonly purgeIntervalMs: number; readonly deleteDownloadLimit: number };
  /** Storage quotas (registry/storage-usage.ts): `defaultBytes` null when owners without their own have none. */
  readonly quota: { readonly defaultBytes: number | null; readonly warningPercent: number };
  /** Background scrub: `intervalMs` null when off. */
  readonly scrub: { readonly intervalMs: number | null; readonly rateBytesPerSecond: number };
  /** Scheduled retention runs: `intervalMs` null when off. */
  readonly retention: { readonly intervalMs: number | null };
  readonly webhooks: WebhookSettings;
  /** How long audit records are kept: `retentionMs` null keeps them forever. */
  readonly audit: { readonly retentionMs: number | null; readonly pulls: boolean };
  readonly log: { readonly level: string };
  /** `token`: /metrics on the main port behind it (null: not there); `listen`: a separate /metrics listener. */
  readonly metrics: { readonly token: string | null; readonly listen: { readonly host: string; readonly port: number } | null; readonly ownersTop: number; readonly ownersRefreshMs: number };
  readonly mirror: MirrorConfig;
}

/** Single sign-on through an OpenID Connect provider (src/auth/oidc-sign-in.ts, src/accounts/sso-accounts.ts). */
export interface SsoConfig {
  readonly issuer: string;
  readonly clientId: string;
  /** null: a public client (PKCE only). */
  readonly clientSecret: string | null;
  readonly scopes: readonly string[];
  readonly usernameClaim: string;
  readonly groupsClaim: string | null;
  readonly teamMap: readonly { readonly group: string; readonly org: string; readonly team: string }[];
}

/** Pull-through caches (see src/mirror/). */
export interface MirrorConfig {
  readonly tagTtlMs: number;
  /** Who may pull through a mirror namespace that does not say; nobody pushes there. */
  readonly access: MirrorReaders;
  readonly timeoutMs: number;
  /** In namespace order. */
  readonly upstreams: readonly UpstreamConfig[];
}

export interface UpstreamConfig {
  /** The first path component clients use: `dockerhub` in `HOST/dockerhub/library/alpine`. */
  readonly namespace: string;
  /** Without a trailing slash. */
  readonly url: string;
  readonly credentials: { readonly username: string; readonly password: string } | null;
  /** Docker `registry-mirrors` mode maps un-namespaced names to this one. */
  readonly isDefault: boolean;
  /** Who may pull through it (its `access`, else mirror.access). */
  readonly access: MirrorReaders;
  /** Cached versions not pulled for this long are evicted; null: kept forever. */
  readonly evictAfterMs: number | null;
}

export interface S3StorageConfig {
  readonly endpoint: string | null;
  readonly bucket: string;
  readonly region: string;
  readonly prefix: string;
  readonly forcePathStyle: boolean;
  readonly createBucket: boolean;
  /** Null: the AWS SDK's credential chain. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string } | null;
  /** Lifetime of presigned redirect URLs; null: blob GETs stream through Berth. */
  readonly redirectTtlMs: number | null;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** Path of a YAML file (`--config`, or BERTH_CONFIG). */
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Values from CLI flags, by key; highest precedence. */
  readonly overrides?: Partial<Record<ConfigKey, string | number | undefined>>;
}

type Value = string | number | boolean | null;

/** defaults < file < BERTH_* environment < flags. Every error names the key and where its value came from. */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const values = new Map<ConfigKey, Value>();
  const file = opts.file ?? env.BERTH_CONFIG;
  const fileValues = file ? readConfigFile(file) : {};
  for (const [key, spec] of Object.entries(SCHEMA) as [ConfigKey, KeySpec][]) {
    let value: Value = spec.default;
    let source = 'default';
    const fromFile = lookup(fileValues, key);
    if (fromFile !== undefined) { value = fromFile as Value; source = `${file} (${key})`; }
    const name = envName(key);
    const fromEnv = env[name] ?? readSecretFile(env[`${name}_FILE`], `${name}_FILE`);
    if (fromEnv !== undefined) { value = fromEnv; source = `environment ${name}`; }
    const fromFlag = opts.overrides?.[key];
    if (fromFlag !== undefined) { value = fromFlag; source = `command-line flag for ${key}`; }
    values.set(key, coerce(key, spec, value, source));
  }
  const get = <T>(key: ConfigKey): T => values.get(key) as T;
  const dataDir = resolve(get<string>('dataDir'));
  const mirrorAccess = mirrorReaders(get<string>('mirror.access'), 'mirror.access');
  const config: Config = {
    server: {
      host: get('server.host'), port: get('server.port'), publicUrl: normaliseUrl(get<string | null>('server.publicUrl')),
      tls: tlsFiles(get<string | null>('server.tls.cert'), get<string | null>('server.tls.key'), get<number | null>('server.tls.port')),
      trustedProxies: (get<string | null>('server.trustedProxies') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      headersTimeoutMs: positive(get('server.headersTimeout'), 'server.headersTimeout'),
      requestTimeoutMs: positive(get('server.requestTimeout'), 'server.requestTimeout'),
      idleTimeoutMs: positive(get('server.idleTimeout'), 'server.idleTimeout'),
      maxConnectionsPerClient: get('server.maxConnectionsPerClient'),
    },
    dataDir,
    metadata: { url: get<string | null>('metadata.url') ?? `sqlite:${resolve(dataDir, 'berth.db')}`, autoMigrate: get('metadata.autoMigrate') },
    storage: {
      driver: get('storage.driver'),
      verifyOnRead: get('storage.verifyOnRead'),
      fs: { root: resolve(get<string | null>('storage.fs.root') ?? resolve(dataDir, 'storage')) },
      freeSpaceWarning: get('storage.freeSpaceWarning'),
      s3: get('storage.driver') === 's3' ? s3Storage(get) : null,
    },
    registry: { manifestMaxBytes: get('registry.manifestMaxBytes'), tagsPageSize: get('registry.tagsPageSize'), tagsPageMax: get('registry.tagsPageMax') },
    uploads: {
      chunkMinLength: get('uploads.chunkMinLength'), expireAfterMs: get('uploads.expireAfter'), purgeIntervalMs: get('uploads.purgeInterval'),
      maxSessionsPerUser: get('uploads.maxSessionsPerUser'), maxSessionsPerRepository: get('uploads.maxSessionsPerRepository'),
    },
    stats: { flushIntervalMs: get('stats.flushInterval') },
    auth: {
      registryTokenTtlMs: get('auth.registryTokenTtl'), failedLoginLimit: get('auth.failedLoginLimit'), failedLoginWindowMs: get('auth.failedLoginWindow'),
      keyEncryptionKey: keyEncryptionKey(get<string | null>('auth.keyEncryptionKey')),
      ...ssoSettings(get),
    },
    api: {
      rateLimit: { authenticated: get('api.rateLimit.authenticated'), anonymous: get('api.rateLimit.anonymous'), windowMs: get('api.rateLimit.window') },
    },
    packages: {
      restoreWindowMs: get('packages.restoreWindow'), purgeIntervalMs: get('packages.purgeInterval'), deleteDownloadLimit: get('packages.deleteDownloadLimit'),
    },
    quota: { defaultBytes: get<number | null>('quota.default'), warningPercent: get('quota.warning') },
    // 0 is off too, as a YAML file or variable can say it.
    scrub: { intervalMs: get<number | null>('scrub.interval') || null, rateBytesPerSecond: get('scrub.rate') },
    retention: { intervalMs: get<number | null>('retention.interval') || null },
    webhooks: {
      pollIntervalMs: get<number>('webhooks.pollInterval'), timeoutMs: get<number>('webhooks.timeout'),
      retryPeriodMs: get<number>('webhooks.retryPeriod'), maxBackoffMs: get<number>('webhooks.maxBackoff'),
      allowPrivateTargets: get<boolean>('webhooks.allowPrivateTargets'),
    },
    audit: { retentionMs: get<number | null>('audit.retention') || null, pulls: get<boolean>('audit.pulls') },
    log: { level: get('log.level') },
    metrics: {
      token: metricsToken(get<string | null>('metrics.token')),
      listen: listenAddress(get<string | null>('metrics.listen'), 'metrics.listen'),
      ownersTop: get('metrics.ownersTop'),
      ownersRefreshMs: get('metrics.ownersRefresh'),
    },
    mirror: {
      tagTtlMs: get('mirror.tagTtl'), access: mirrorAccess,
      timeoutMs: positive(get('mirror.timeout'), 'mirror.timeout'),
      upstreams: loadUpstreams(fileValues, file, env, mirrorAccess),
    },
  };
  return deepFreeze(config);
}

/** auth.sso.*: all of it checked together (a secret without an issuer, passwords off without single sign-on). */
function ssoSettings(get: <T>(key: ConfigKey) => T): { sso: SsoConfig | null; localPasswords: boolean } {
  const issuer = get<string | null>('auth.sso.issuer');
  const localPasswords = get<boolean>('auth.sso.localPasswords');
  if (issuer === null) {
    if (!localPasswords) throw new ConfigError('auth.sso.localPasswords: false needs auth.sso.issuer (else nobody could sign in to the web UI)');
    for (const key of ['auth.sso.clientId', 'auth.sso.clientSecret', 'auth.sso.clientSecretFile', 'auth.sso.groupsClaim', 'auth.sso.teamMap'] as const) {
      if (get(key) !== null) throw new ConfigError(`${key} needs auth.sso.issuer`);
    }
    return { sso: null, localPasswords };
  }
  if (!URL.canParse(issuer) || !/^https?:$/.test(new URL(issuer).protocol)) throw new ConfigError(`auth.sso.issuer: "${issuer}" is not an absolute http(s) URL`);
  const clientId = get<string | null>('auth.sso.clientId');
  if (!clientId) throw new ConfigError('auth.sso.clientId must be set with auth.sso.issuer (the client id registered at the provider)');
  const secretFile = get<string | null>('auth.sso.clientSecretFile');
  const secret = get<string | null>('auth.sso.clientSecret');
  if (secret !== null && secretFile !== null) throw new ConfigError('set auth.sso.clientSecret or auth.sso.clientSecretFile, not both');
  const clientSecret = secretFile !== null ? readSecretFile(secretFile, 'auth.sso.clientSecretFile')! : secret;
  const scopes = (get<string>('auth.sso.scopes')).split(/[\s,]+/).filter(Boolean);
  const teamMap = (get<string | null>('auth.sso.teamMap') ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const m = /^(.+?)\s*=\s*([A-Za-z0-9-]+)\/([A-Za-z0-9][A-Za-z0-9_.-]*)$/.exec(entry);
    if (!m) throw new ConfigError(`auth.sso.teamMap: "${entry}" is not GROUP=ORG/TEAM (e.g. platform=acme/platform)`);
    return { group: m[1]!, org: m[2]!, team: m[3]! };
  });
  const groupsClaim = get<string | null>('auth.sso.groupsClaim');
  if (teamMap.length > 0 && groupsClaim === null) throw new ConfigError('auth.sso.teamMap needs auth.sso.groupsClaim (the claim listing the groups)');
  return {
    sso: {
      issuer: issuer.replace(/\/$/, ''), clientId, clientSecret, scopes: scopes.includes('openid') ? scopes : ['openid', ...scopes],
      usernameClaim: get('auth.sso.usernameClaim'), groupsClaim, teamMap,
    },
    localPasswords,
  };
}

function metricsToken(token: string | null): string | null {
  if (token !== null && token.length < 16) {
    throw new ConfigError(`metrics.token must be at least 16 characters (e.g. openssl rand -hex 24; ${envName('metrics.token')}_FILE reads it from a file)`);
  }
  return token;
}

/** `host:port`, `[v6]:port` or `:port` (all interfaces). */
function listenAddress(value: string | null, key: string): { host: string; port: number } | null {
  if (value === null) return null;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new ConfigError(`${key}: "${value}" is not host:port (e.g. 127.0.0.1:9464, [::1]:9464, :9464)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function s3Storage(get: <T>(key: ConfigKey) => T): S3StorageConfig {
  const bucket = get<string | null>('storage.s3.bucket');
  if (!bucket) throw new ConfigError(`storage.s3.bucket must be set when storage.driver is s3 (${envName('storage.s3.bucket')})`);
  const accessKeyId = get<string | null>('storage.s3.accessKeyId');
  const secretAccessKey = get<string | null>('storage.s3.secretAccessKey');
  if ((accessKeyId === null) !== (secretAccessKey === null)) {
    throw new ConfigError('storage.s3.accessKeyId and storage.s3.secretAccessKey must be set together (or neither: the AWS SDK chain)');
  }
  const redirectTtlMs = get<number>('storage.s3.redirectTtl');
  // S3 signs URLs for 1 s to 7 days.
  if (redirectTtlMs < 1000 || redirectTtlMs > 7 * 86_400_000) throw new ConfigError('storage.s3.redirectTtl must be between 1s and 7d');
  const endpoint = get<string | null>('storage.s3.endpoint');
  if (endpoint !== null && !URL.canParse(endpoint)) throw new ConfigError(`storage.s3.endpoint: "${endpoint}" is not an absolute URL`);
  return {
    endpoint, bucket, region: get('storage.s3.region'), prefix: get('storage.s3.prefix'),
    forcePathStyle: get('storage.s3.forcePathStyle'), createBucket: get('storage.s3.createBucket'),
    credentials: accessKeyId !== null && secretAccessKey !== null ? { accessKeyId, secretAccessKey } : null,
    redirectTtlMs: get('storage.s3.redirect') ? redirectTtlMs : null,
  };
}

const UPSTREAM_ENV = /^BERTH_MIRROR_UPSTREAMS_([A-Z0-9_]+?)_(URL|USERNAME|PASSWORD|ACCESS|DEFAULT|EVICT_AFTER)(_FILE)?$/;

/**
 * `mirror.upstreams.<namespace>.<key>` from the file, overridden per key by `BERTH_MIRROR_UPSTREAMS_<NS>_<KEY>`
 * (or its _FILE variant); an environment variable alone may also add a namespace.
 */
function loadUpstreams(fileValues: Record<string, unknown>, file: string | undefined, env: NodeJS.ProcessEnv, defaultAccess: MirrorReaders): UpstreamConfig[] {
  const raw = new Map<string, Map<UpstreamKey, { value: Value; source: string }>>();
  const set = (ns: string, key: UpstreamKey, value: Value, source: string): void => {
    if (!raw.has(ns)) raw.set(ns, new Map());
    raw.get(ns)!.set(key, { value, source });
  };
  const section = lookup(fileValues, 'mirror.upstreams');
  if (section !== undefined && section !== null) {
    if (typeof section !== 'object' || Array.isArray(section)) {
      throw new ConfigError(`${file} (mirror.upstreams) must be a mapping of namespace to upstream (dockerhub: { url: https://registry-1.docker.io })`);
    }
    for (const [ns, keys] of Object.entries(section as Record<string, unknown>)) {
      if (keys === null || typeof keys !== 'object' || Array.isArray(keys)) {
        throw new ConfigError(`${file} (mirror.upstreams.${ns}) must be a mapping with at least url`);
      }
      for (const [key, value] of Object.entries(keys as Record<string, unknown>)) {
        if (!(key in UPSTREAM_SCHEMA)) throw new ConfigError(`config file ${file}: unknown key mirror.upstreams.${ns}.${key}`);
        set(ns, key as UpstreamKey, value as Value, `${file} (mirror.upstreams.${ns}.${key})`);
      }
    }
  }
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    const m = UPSTREAM_ENV.exec(name);
    if (!m || value === undefined) continue;
    const ns = m[1]!.toLowerCase().replace(/_/g, '-');
    const key = (m[2] === 'EVICT_AFTER' ? 'evictAfter' : m[2]!.toLowerCase()) as UpstreamKey;
    set(ns, key, m[3] ? readSecretFile(value, name)! : value, `environment ${name}`);
  }
  const upstreams: UpstreamConfig[] = [];
  for (const [ns, keys] of [...raw].sort(([a], [b]) => a.localeCompare(b))) {
    const at = `mirror.upstreams.${ns}`;
    if (!MIRROR_NAMESPACE.test(ns)) {
      throw new ConfigError(`${at}: "${ns}" is not a valid mirror namespace (lowercase letters and digits, single dashes inside, e.g. dockerhub)`);
    }
    const get = (key: UpstreamKey): Value => {
      const entry = keys.get(key);
      return coerce(`${at}.${key}`, UPSTREAM_SCHEMA[key], entry?.value ?? UPSTREAM_SCHEMA[key].default, entry?.source ?? 'default');
    };
    const url = get('url') as string | null;
    if (url === null) throw new ConfigError(`${at}.url must be set (e.g. https://registry-1.docker.io)`);
    let parsed: string;
    try {
      parsed = parseUpstreamUrl(url);
    } catch (err) {
      throw new ConfigError(`${at}.url: ${(err as Error).message}`);
    }
    const username = get('username') as string | null;
    const password = get('password') as string | null;
    if ((username === null) !== (password === null)) throw new ConfigError(`${at}.username and ${at}.password must be set together (or neither: anonymous)`);
    const access = get('access') as string | null;
    upstreams.push({
      namespace: ns, url: parsed, access: access === null ? defaultAccess : mirrorReaders(access, `${at}.access`),
      credentials: username !== null && password !== null ? { username, password } : null,
      isDefault: get('default') as boolean,
      evictAfterMs: (get('evictAfter') as number | null) || null,
    });
  }
  const defaults = upstreams.filter((u) => u.isDefault);
  if (defaults.length > 1) throw new ConfigError(`only one mirror may be the default; ${defaults.map((u) => u.namespace).join(' and ')} both set default: true`);
  return upstreams;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${path} must be a YAML mapping`);
  // mirror.upstreams holds namespaces chosen by the operator; loadUpstreams checks the keys under each.
  const unknown = flattenKeys(parsed as Record<string, unknown>).filter((k) => !(k in SCHEMA) && !k.startsWith('mirror.upstreams.') && k !== 'mirror.upstreams');
  if (unknown.length > 0) throw new ConfigError(`config file ${path}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  return parsed as Record<string, unknown>;
}

function readSecretFile(path: string | undefined, name: string): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`${name}: cannot read ${path}: ${(err as Error).message}`);
  }
}

function flattenKeys(obj: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) => {
    const key = prefix + k;
    // An empty section (all its keys commented out) parses as null.
    if (v === null && !(key in SCHEMA) && Object.keys(SCHEMA).some((s) => s.startsWith(`${key}.`))) return [];
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(key in SCHEMA)) return flattenKeys(v as Record<string, unknown>, `${key}.`);
    return [key];
  });
}

function lookup(obj: Record<string, unknown>, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function coerce(key: string, spec: KeySpec, value: Value, source: string): Value {
  if (value === null) return null;
  const fail = (want: string): never => {
    throw new ConfigError(`${key} from ${source}: "${String(value)}" is not ${want}`);
  };
  switch (spec.type) {
    case 'string': {
      const s = String(value);
      if (spec.enum && !spec.enum.includes(s)) fail(`one of ${spec.enum.join(', ')}`);
      return s;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (/^(true|1|yes|on)$/i.test(String(value))) return true;
      if (/^(false|0|no|off)$/i.test(String(value))) return false;
      return fail('a boolean (true/false)');
    case 'integer': {
      const n = typeof value === 'number' ? value : /^-?\d+$/.test(String(value).trim()) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) fail('an integer');
      if (spec.min !== undefined && n < spec.min) fail(`at least ${spec.min}`);
      return n;
    }
    case 'bytes': {
      const n = typeof value === 'number' ? value : parseByteSize(String(value));
      if (!Number.isSafeInteger(n)) fail('a size (e.g. 4MiB, 1048576)');
      if (spec.min !== undefined && n < spec.min) fail(`at least ${spec.min} bytes`);
      return n;
    }
    case 'duration':
      try {
        return typeof value === 'number' ? value * 1000 : parseDuration(String(value));
      } catch {
        return fail('a duration (e.g. 30s, 10m, 24h, 7d)');
      }
  }
}

/** A timeout of 0 would mean none: the point of these keys is that there always is one. */
function positive(ms: number, key: string): number {
  if (!(ms > 0)) throw new ConfigError(`${key} must be longer than 0 (e.g. 30s)`);
  return ms;
}

function normaliseUrl(url: string | null): string | null {
  if (url === null) return null;
  try {
    const u = new URL(url);
    return u.toString().replace(/\/$/, '');
  } catch {
    throw new ConfigError(`server.publicUrl: "${url}" is not an absolute URL`);
  }
}

/** mirror.access, or a mirror's own: public, signed-in or org:LOGIN. */
function mirrorReaders(value: string, key: string): MirrorReaders {
  const readers = parseMirrorReaders(value);
  if (readers === null) throw new ConfigError(`${key} (${envName(key)}): "${value}" must be public, signed-in or org:LOGIN (members of that organization)`);
  return readers;
}

function keyEncryptionKey(secret: string | null): string | null {
  if (secret !== null && secret.length < 32) {
    throw new ConfigError(`auth.keyEncryptionKey must be at least 32 characters (e.g. openssl rand -base64 32; ${envName('auth.keyEncryptionKey')}_FILE reads it from a file)`);
  }
  return secret;
}

/** Both files or neither: half a TLS configuration is a mistake to report, not to ignore. */
function tlsFiles(cert: string | null, key: string | null, port: number | null): { cert: string; key: string; port: number | null } | null {
  if (cert === null && key === null) {
    if (port !== null) throw new ConfigError('server.tls.port needs server.tls.cert and server.tls.key');
    return null;
  }
  if (cert === null || key === null) throw new ConfigError('server.tls.cert and server.tls.key must be set together');
  return { cert: resolve(cert), key: resolve(key), port };
}

function deepFreeze<T>(obj: T): T {
  for (const v of Object.values(obj as object)) if (v && typeof v === 'object') deepFreeze(v);
  return Object.freeze(obj);
}
