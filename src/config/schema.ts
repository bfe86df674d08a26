/**
 * Every configuration key: type, default and help text, in one place. The loader, the `BERTH_*` environment
 * mapping, validation messages and docs/berth.example.yaml are all derived from this table.
 */
export interface KeySpec {
  readonly type: 'string' | 'integer' | 'boolean' | 'duration' | 'bytes';
  readonly default: string | number | boolean | null;
  readonly help: string;
  readonly min?: number;
  readonly enum?: readonly string[];
}

export const SCHEMA = {
  'server.host': { type: 'string', default: '127.0.0.1', help: 'Address to listen on (0.0.0.0 for all interfaces).' },
  'server.port': { type: 'integer', default: 5000, min: 0, help: 'TCP port to listen on (0 picks a free port).' },
  'server.publicUrl': {
    type: 'string', default: null,
    help: 'Absolute base URL clients use (https://registry.example.com). Default: derived from each request.',
  },
  'server.tls.cert': {
    type: 'string', default: null,
    help: 'PEM certificate chain file: Berth serves HTTPS itself when this and server.tls.key are set (gh needs https).',
  },
  'server.tls.key': { type: 'string', default: null, help: 'PEM private key file for server.tls.cert.' },
  'server.tls.port': {
    type: 'integer', default: null, min: 0,
    help: 'Serve HTTPS on this port and plain HTTP on server.port, from one process (e.g. 443 for gh, 5000 for docker on a trusted network). Unset: with server.tls.cert, server.port serves HTTPS only.',
  },
  'server.trustedProxies': {
    type: 'string', default: null,
    help: 'Comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-Proto/Host/For are believed. Default: none.',
  },
  'server.headersTimeout': { type: 'duration', default: '30s', help: 'A request\'s headers must arrive within this; then 408 and the connection is closed.' },
  'server.requestTimeout': {
    type: 'duration', default: '1m',
    help: 'A request body must arrive in full within this after its headers (408 and the connection closed); blob uploads are exempt: only server.idleTimeout applies to them.',
  },
  'server.idleTimeout': {
    type: 'duration', default: '2m',
    help: 'A connection on which Berth waits this long for the client (an upload body that stopped arriving, a response the client stopped reading) is closed.',
  },
  'server.maxConnectionsPerClient': {
    type: 'integer', default: 256, min: 0,
    help: 'Open connections per client address (0: no limit); a request on one more gets 429 and the connection is closed. Addresses in server.trustedProxies are exempt.',
  },
  dataDir: { type: 'string', default: './data', help: 'Directory for the embedded database and filesystem blobs.' },
  'metadata.url': {
    type: 'string', default: null,
    help: 'Metadata database: postgres://user:pass@host/db, or sqlite:PATH. Default: sqlite at <dataDir>/berth.db.',
  },
  'metadata.autoMigrate': {
    type: 'boolean', default: true,
    help: 'Apply pending database migrations at start. When false, serve refuses to start until `berth migrate` has run.',
  },
  'storage.driver': {
    type: 'string', default: 'fs', enum: ['fs', 's3'], help: 'Blob storage driver: fs (a local directory) or s3 (any S3-compatible object store).',
  },
  'storage.verifyOnRead': {
    type: 'boolean', default: false,
    help: 'Hash every full blob GET while serving it: a blob whose bytes no longer match its digest is cut off (the client sees a failed download, never a wrong body), logged and quarantined. Ranges are not checked.',
  },
  'storage.fs.root': { type: 'string', default: null, help: 'Root directory of the filesystem driver. Default: <dataDir>/storage.' },
  'storage.freeSpaceWarning': {
    type: 'bytes', default: 1024 * 1024 * 1024, min: 0,
    help: 'Warn (log line, /healthz warnings) when free space for the fs blob store or the SQLite database falls below this; 0: no check.',
  },
  'storage.s3.endpoint': {
    type: 'string', default: null,
    help: 'S3 endpoint URL (https://s3.example.com, http://127.0.0.1:7480). Default: AWS S3 in storage.s3.region.',
  },
  'storage.s3.bucket': { type: 'string', default: null, help: 'Bucket for blobs and upload scratch data; required with storage.driver s3.' },
  'storage.s3.region': { type: 'string', default: 'us-east-1', help: 'Region of the bucket (what the request signatures name).' },
  'storage.s3.prefix': { type: 'string', default: '', help: 'Key prefix inside the bucket (e.g. berth/), so one bucket can hold more than Berth.' },
  'storage.s3.forcePathStyle': {
    type: 'boolean', default: false, help: 'Path-style URLs (endpoint/bucket/key); most self-hosted servers (Ceph RGW, MinIO) need true.',
  },
  'storage.s3.createBucket': { type: 'boolean', default: true, help: 'Create the bucket at start when it does not exist.' },
  'storage.s3.accessKeyId': {
    type: 'string', default: null, help: 'Access key id. Default: the AWS SDK chain (AWS_ACCESS_KEY_ID, ~/.aws files, instance roles).',
  },
  'storage.s3.secretAccessKey': { type: 'string', default: null, help: 'Secret access key, with storage.s3.accessKeyId (use the _FILE variable).' },
  'storage.s3.redirect': {
    type: 'boolean', default: false,
    help: 'Answer blob GETs with 307 to a short-lived presigned URL, so bytes go from S3 to the client directly (clients must reach the endpoint).',
  },
  'storage.s3.redirectTtl': { type: 'duration', default: '5m', help: 'Lifetime of those presigned URLs.' },
  'registry.manifestMaxBytes': {
    type: 'bytes', default: 4 * 1024 * 1024, min: 4 * 1024 * 1024,
    help: 'Largest manifest accepted (the OCI spec asks for at least 4 MiB); larger ones get 413.',
  },
  'registry.tagsPageSize': { type: 'integer', default: 100, min: 1, help: 'Tags returned by tags/list when the client gives no n.' },
  'registry.tagsPageMax': { type: 'integer', default: 10000, min: 1, help: 'Largest n honoured by tags/list and _catalog.' },
  'uploads.chunkMinLength': { type: 'bytes', default: 0, min: 0, help: 'Advertised OCI-Chunk-Min-Length (0: no minimum).' },
  'uploads.expireAfter': { type: 'duration', default: '24h', help: 'An upload session idle this long is expired and its data deleted.' },
  'uploads.purgeInterval': { type: 'duration', default: '1h', help: 'How often expired upload sessions are purged.' },
  'uploads.maxSessionsPerUser': {
    type: 'integer', default: 300, min: 0, help: 'Upload sessions one user may have open at once; more get 429 (0: no limit).',
  },
  'uploads.maxSessionsPerRepository': {
    type: 'integer', default: 1000, min: 0, help: 'Upload sessions open at once in one repository; more get 429 (0: no limit).',
  },
  'stats.flushInterval': { type: 'duration', default: '5s', help: 'How often download counts buffered in memory are written to the database.' },
  'auth.registryTokenTtl': { type: 'duration', default: '5m', help: 'Lifetime of registry bearer tokens issued by /token.' },
  'auth.keyEncryptionKey': {
    type: 'string', default: null,
    help: 'Secret (at least 32 characters, e.g. openssl rand -base64 32) that encrypts the registry-token signing keys in the database; use the _FILE variable. Default: stored unencrypted, protected by file modes.',
  },
  'auth.failedLoginLimit': {
    type: 'integer', default: 10, min: 1, help: 'Failed authentications allowed per client address (and per account on the sign-in form) in the window; more get 429.',
  },
  'auth.failedLoginWindow': { type: 'duration', default: '1m', help: 'Window for auth.failedLoginLimit.' },
  'auth.sso.issuer': {
    type: 'string', default: null,
    help: 'Single sign-on for the web UI: the OpenID Connect issuer URL (https://accounts.example.com, https://gitlab.com, https://keycloak.example.com/realms/acme); its discovery document is read at /.well-known/openid-configuration. Default: no single sign-on. Register the redirect URI <publicUrl>/login/sso/callback with the provider.',
  },
  'auth.sso.clientId': { type: 'string', default: null, help: 'The client id Berth has at the provider (required with auth.sso.issuer).' },
  'auth.sso.clientSecret': {
    type: 'string', default: null,
    help: 'The client secret (sent with HTTP Basic to the token endpoint; use the _FILE variable or auth.sso.clientSecretFile). Default: a public client, protected by PKCE alone.',
  },
  'auth.sso.clientSecretFile': { type: 'string', default: null, help: 'A file holding auth.sso.clientSecret (read at start, surrounding whitespace trimmed).' },
  'auth.sso.scopes': { type: 'string', default: 'openid profile email', help: 'Scopes asked for, space-separated (openid is always asked for); add groups if the provider needs it for auth.sso.groupsClaim.' },
  'auth.sso.usernameClaim': {
    type: 'string', default: 'preferred_username',
    help: 'ID token claim that names the Berth user made at the first sign-in (a valid login: letters, digits, single hyphens). Later sign-ins find the user by the issuer and sub, whatever this claim says then.',
  },
  'auth.sso.groupsClaim': { type: 'string', default: null, help: 'ID token claim listing the user\'s groups (e.g. groups), for auth.sso.teamMap. Default: groups are not read.' },
  'auth.sso.teamMap': {
    type: 'string', default: null,
    help: 'Groups to organization teams, comma-separated GROUP=ORG/TEAM (e.g. platform=acme/platform,dev=acme/developers): at each sign-in the user joins the mapped teams of the groups they are in (and the organization, as a member) and leaves the mapped teams of groups they left. Missing teams are created; a missing organization is skipped with a warning.',
  },
  'auth.sso.localPasswords': {
    type: 'boolean', default: true,
    help: 'Whether people may also sign in to the web UI with a Berth password. false (with auth.sso.issuer): the sign-in page offers single sign-on only; the CLI (berth user …) still manages accounts.',
  },
  'api.rateLimit.authenticated': {
    type: 'integer', default: 5000, min: 1, help: 'REST API requests per token per window (GitHub: 5000 an hour); per process.',
  },
  'api.rateLimit.anonymous': {
    type: 'integer', default: 60, min: 1, help: 'REST API requests per client address per window without a token (GitHub: 60 an hour).',
  },
  'api.rateLimit.window': { type: 'duration', default: '1h', help: 'Window of the REST API rate limits; X-RateLimit-Reset is its end.' },
  'packages.restoreWindow': {
    type: 'duration', default: '30d', help: 'A deleted package or version can be restored this long; then it is purged for good (GitHub: 30 days).',
  },
  'packages.purgeInterval': { type: 'duration', default: '1h', help: 'How often packages and versions past packages.restoreWindow are purged.' },
  'packages.deleteDownloadLimit': {
    type: 'integer', default: 5000, min: 0,
    help: 'A public package or version downloaded more than this many times cannot be deleted (GitHub: 5000); 0 = no limit.',
  },
  'quota.default': {
    type: 'bytes', default: null, min: 0,
    help: 'Storage quota of every owner (user or organization) without one of its own (`berth quota set`), e.g. 10GiB. Default: no quota.',
  },
  'quota.warning': {
    type: 'integer', default: 80, min: 1,
    help: 'Percent of its quota at which an owner\'s usage page warns that the quota is nearly used, and a push crossing it sends a `berth_quota` `warning` event.',
  },
  'scrub.interval': {
    type: 'duration', default: null,
    help: 'Re-hash every stored blob this often in the background (one replica at a time), quarantining corrupt or missing ones, e.g. 7d. Default: off (run `berth scrub` instead).',
  },
  'scrub.rate': {
    type: 'bytes', default: '50MiB', min: 0,
    help: 'Bytes per second the scrub reads at most (scheduled and `berth scrub`), so it does not starve pulls; 0: unlimited.',
  },
  'metrics.token': {
    type: 'string', default: null,
    help: 'Bearer token (at least 16 characters; use the _FILE variable) that Prometheus sends for /metrics on the main port. Default: /metrics is not served on the main port.',
  },
  'metrics.listen': {
    type: 'string', default: null,
    help: 'host:port of a separate listener serving /metrics without a token (e.g. 127.0.0.1:9464, or an internal interface). Default: none.',
  },
  'metrics.ownersTop': {
    type: 'integer', default: 20, min: 0, help: 'berth_storage_owner_bytes covers the owners using the most storage, this many of them (0: none).',
  },
  'metrics.ownersRefresh': {
    type: 'duration', default: '5m', help: 'berth_storage_owner_bytes is one aggregate over all references: recomputed at most this often, whatever the scrape rate.',
  },
  'retention.interval': {
    type: 'duration', default: '1d',
    help: 'How often the retention rules of every organization and package are applied in the background (one replica at a time); 0: never (run `berth retention run`).',
  },
  'webhooks.pollInterval': {
    type: 'duration', default: '2s', help: 'How often the webhook worker (one replica at a time) looks for new events and deliveries due.',
  },
  'webhooks.timeout': {
    type: 'duration', default: '10s', help: 'A receiver must answer a delivery within this (GitHub: 10 s), else the attempt fails and is retried.',
  },
  'webhooks.retryPeriod': {
    type: 'duration', default: '1d',
    help: 'A failing delivery is retried with exponential backoff for this long; then the hook is disabled with the reason (its later events wait).',
  },
  'webhooks.maxBackoff': { type: 'duration', default: '10m', help: 'The longest wait between two attempts of one delivery.' },
  'webhooks.allowPrivateTargets': {
    type: 'boolean', default: false,
    help: 'Allow hook URLs resolving to loopback, link-local and private addresses (refused by default: a hook must not reach inside your network).',
  },
  'audit.retention': {
    type: 'duration', default: '365d',
    help: 'Audit records older than this are deleted by a background job (one replica at a time, hourly); 0 or null: keep them forever.',
  },
  'audit.pulls': {
    type: 'boolean', default: false,
    help: 'Also record every manifest pull (package.pull: who, from where, which package and reference) in the audit log; off by default, as a pull then writes a row.',
  },
  'log.level': {
    type: 'string', default: 'info', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    help: 'Log level; one JSON line per request at info.',
  },
  'mirror.tagTtl': {
    type: 'duration', default: '5m',
    help: 'A cached tag of a pull-through mirror is served this long before it is revalidated with a HEAD to the upstream (manifests by digest never are).',
  },
  'mirror.access': {
    type: 'string', default: 'signed-in',
    help: 'Who may pull through the mirror namespaces, unless a mirror sets its own access: public (anyone), signed-in (users with read:packages) or org:LOGIN (such users who are members of that organization). Nobody may push there.',
  },
  'mirror.timeout': {
    type: 'duration', default: '30s', help: 'An upstream registry must answer (headers; a blob body must keep flowing) within this, else it counts as unavailable.',
  },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof SCHEMA;

/**
 * The keys of each pull-through mirror, under `mirror.upstreams.<namespace>.` (YAML) or
 * `BERTH_MIRROR_UPSTREAMS_<NAMESPACE>_<KEY>` (environment; `_` in the namespace stands for `-`). Any number of
 * namespaces; each is a path prefix clients pull through (`HOST/dockerhub/library/alpine:3.20`).
 */
export const UPSTREAM_SCHEMA = {
  url: { type: 'string', default: null, help: 'Base URL of the upstream registry (https://registry-1.docker.io, https://ghcr.io); required.' },
  username: { type: 'string', default: null, help: 'User name for the upstream (Basic, or the token realm); default: anonymous.' },
  password: { type: 'string', default: null, help: 'Password or token for the upstream, with username (use the _FILE variable).' },
  access: {
    type: 'string', default: null,
    help: 'Who may pull through this mirror: public, signed-in or org:LOGIN (e.g. for a mirror that signs in to a private upstream); default: mirror.access.',
  },
  default: {
    type: 'boolean', default: false,
    help: 'Docker registry-mirrors mode: names outside every namespace and account (/v2/library/alpine/...) are pulled through this upstream. At most one.',
  },
  evictAfter: {
    type: 'duration', default: null,
    help: 'Cached versions not pulled through the mirror for this long are deleted (restorable for packages.restoreWindow; GC frees the bytes), by the retention job (retention.interval); a later pull fetches them again. Default: kept forever.',
  },
} as const satisfies Record<string, KeySpec>;

export type UpstreamKey = keyof typeof UPSTREAM_SCHEMA;


/** Environment variable for a key: `storage.fs.root` → `BERTH_STORAGE_FS_ROOT`. */
export function envName(key: string): string {
  return `BERTH_${key.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}
