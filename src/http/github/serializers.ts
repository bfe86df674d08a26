import type { AuditRecord } from '../../audit/audit-log.js';
import { hookType, type DeliveryRow, type Hook } from '../../events/hook-service.js';
import type { Account } from '../../accounts/account-service.js';
import { profileView } from '../../accounts/profile-view.js';
import type { Owner, PackageInfo } from '../../packages/package-service.js';
import type { OwnerUsage } from '../../packages/usage-service.js';
import type { DownloadSummary, UsageStats } from '../../packages/package-stats.js';
import type { VersionInfo } from '../../packages/version-service.js';
import type { MirrorCounts, UpstreamSummary } from '../../mirror/mirror-service.js';
import type { CachedRepository, MirrorNamespaceSummary } from '../../packages/mirror-packages.js';
import type { RateLimitState } from './rate-limiter.js';
import type { Urls } from './github-context.js';

/**
 * GitHub's JSON shapes, and the only place they are built (STYLE B2: wire formats keep their own spelling).
 * Field order follows api.github.com's responses; URLs point at Berth itself (API under /api/v3, web pages at the
 * paths github.com uses, served by Berth's future UI).
 */

/**
 * GitHub's timestamps: ISO 8601 in UTC without fractions, `2020-05-19T22:19:11Z`. The date part comes from
 * `toISOString` once per day in a row and the time is put together by hand: a page of 100 versions formats 200 of
 * them, and `toISOString` per timestamp was 7% of that request's CPU on PostgreSQL (this way is 10× faster).
 */
export function isoSeconds(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== lastDay.day) lastDay = { day, prefix: new Date(day * DAY_MS).toISOString().slice(0, -13) };
  const s = Math.floor((ms - day * DAY_MS) / 1000);
  return `${lastDay.prefix}${TWO_DIGITS[Math.floor(s / 3600)]}:${TWO_DIGITS[Math.floor(s / 60) % 60]}:${TWO_DIGITS[s % 60]}Z`;
}
const DAY_MS = 86_400_000;
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
/** The last day formatted: `2020-05-19T`. */
let lastDay = { day: NaN, prefix: '' };

/** Legacy global node ids, as GitHub's REST objects still carry: base64 of `<len>:<Type><id>`. */
function nodeId(type: 'User' | 'Organization', id: number): string {
  return Buffer.from(`${type === 'User' ? '04' : '012'}:${type}${id}`).toString('base64');
}

function accountType(account: Account): 'User' | 'Organization' {
  return account.type === 'org' ? 'Organization' : 'User';
}

/** `simple-user` (docs "Packages" response schema, `owner`), as `viewerId` may see it (profile-view.ts). */
export function simpleUser(account: Account, urls: Urls, viewerId: number | null) {
  const api = `${urls.api}/users/${account.login}`;
  const type = accountType(account);
  return {
    login: account.login,
    id: account.id,
    node_id: nodeId(type, account.id),
    avatar_url: `${urls.web}/avatars/u/${account.id}?v=4`,
    gravatar_id: '',
    url: api,
    html_url: `${urls.web}/${account.login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type,
    site_admin: profileView(account, viewerId).siteAdmin,
  };
}

/** `GET /users/{username}` and `GET /user` (docs "Users": public-user); Berth has no repositories or followers. */
export function user(account: Account, urls: Urls, viewerId: number | null) {
  return {
    ...simpleUser(account, urls, viewerId),
    name: account.displayName,
    company: null,
    blog: '',
    location: null,
    email: profileView(account, viewerId).email,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: 0,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: isoSeconds(account.createdAt),
    updated_at: isoSeconds(account.createdAt),
  };
}

/** `GET /orgs/{org}` (docs "Organizations": organization-full, public part). */
export function organization(account: Account, urls: Urls) {
  const api = `${urls.api}/orgs/${account.login}`;
  return {
    login: account.login,
    id: account.id,
    node_id: nodeId('Organization', account.id),
    url: api,
    repos_url: `${api}/repos`,
    events_url: `${api}/events`,
    hooks_url: `${api}/hooks`,
    issues_url: `${api}/issues`,
    members_url: `${api}/members{/member}`,
    public_members_url: `${api}/public_members{/member}`,
    avatar_url: `${urls.web}/avatars/u/${account.id}?v=4`,
    description: null,
    name: account.displayName,
    company: null,
    blog: '',
    location: null,
    email: null,
    twitter_username: null,
    is_verified: false,
    has_organization_projects: false,
    has_repository_projects: false,
    public_repos: 0,
    public_gists: 0,
    followers: 0,
    following: 0,
    html_url: `${urls.web}/${account.login}`,
    created_at: isoSeconds(account.createdAt),
    updated_at: isoSeconds(account.createdAt),
    archived_at: null,
    type: 'Organization',
  };
}

/** The path segment of an owner's packages: `orgs/acme` or `users/alice` (the URL forms of docs §"Packages"). */
function ownerPath(owner: Account): string {
  return `${owner.type === 'org' ? 'orgs' : 'users'}/${owner.login}`;
}

/** `package` (docs "Packages": Get a package). Nested names appear percent-encoded (`team%2Fapi`). */
export function packageJson(pkg: PackageInfo, owner: Account, urls: Urls, viewerId: number | null) {
  const name = encodeURIComponent(pkg.name);
  return {
    id: pkg.id,
    name: pkg.name,
    package_type: 'container',
    owner: simpleUser(owner, urls, viewerId),
    version_count: pkg.versionCount,
    visibility: pkg.visibility,
    url: `${urls.api}/${ownerPath(owner)}/packages/container/${name}`,
    created_at: isoSeconds(pkg.createdAt),
    updated_at: isoSeconds(pkg.updatedAt),
    // Berth links no code repositories (GitHub's `minimal-repository`); the source label is in Berth's stats.
    repository: null,
    html_url: `${urls.web}/${ownerPath(owner)}/packages/container/package/${name}`,
  };
}

/** `package-version` (docs "Packages": Get a package version); `deleted_at` only on deleted versions. */
export function versionJson(version: VersionInfo, pkg: PackageInfo, owner: Account, urls: Urls) {
  const name = encodeURIComponent(pkg.name);
  return {
    id: version.id,
    name: version.digest,
    url: `${urls.api}/${ownerPath(owner)}/packages/container/${name}/versions/${version.id}`,
    package_html_url: `${urls.web}/${ownerPath(owner)}/packages/container/package/${name}`,
    created_at: isoSeconds(version.createdAt),
    updated_at: isoSeconds(version.updatedAt),
    ...(version.deletedAt === null ? {} : { deleted_at: isoSeconds(version.deletedAt) }),
    html_url: `${urls.web}/${ownerPath(owner)}/packages/container/${name}/${version.id}`,
    ...(version.license === null ? {} : { license: version.license }),
    ...(version.description === null ? {} : { description: version.description }),
    metadata: { package_type: 'container', container: { tags: version.tags } },
  };
}

/** `GET /api/v3/`: a directory of URL templates, as GitHub's root lists them (the subset Berth serves). */
export function rootJson(urls: Urls) {
  const api = urls.api;
  return {
    current_user_url: `${api}/user`,
    organization_url: `${api}/orgs/{org}`,
    rate_limit_url: `${api}/rate_limit`,
    user_url: `${api}/users/{user}`,
    organization_packages_url: `${api}/orgs/{org}/packages?package_type=container`,
    user_packages_url: `${api}/users/{user}/packages?package_type=container`,
    current_user_packages_url: `${api}/user/packages?package_type=container`,
  };
}

/** `GET /rate_limit` (docs "Rate limit"): `resources` by bucket, and `rate` (= core, deprecated but still sent). */
export function rateLimitJson(core: RateLimitState, graphql: RateLimitState) {
  const entry = (s: RateLimitState) => ({ limit: s.limit, used: s.used, remaining: s.remaining, reset: s.reset });
  return { resources: { core: entry(core), graphql: entry(graphql) }, rate: entry(core) };
}

// ---- Berth's own objects (not GitHub shapes; served under /api/v3/berth) ----------------------------------------

function downloadsJson(d: DownloadSummary) {
  return { total: d.total, daily: d.daily.map((x) => ({ date: isoSeconds(x.day * 86_400_000).slice(0, 10), count: x.count })) };
}

export function packageStatsJson(pkg: PackageInfo, stats: UsageStats) {
  return {
    package_id: pkg.id,
    name: pkg.name,
    version_count: pkg.versionCount,
    size_in_bytes: stats.sizeBytes,
    downloads: downloadsJson(stats.downloads),
    source_url: pkg.sourceUrl,
  };
}

export function versionStatsJson(pkg: PackageInfo, version: VersionInfo, stats: UsageStats) {
  return {
    package_id: pkg.id,
    version_id: version.id,
    name: version.digest,
    media_type: version.mediaType,
    size_in_bytes: stats.sizeBytes,
    downloads: downloadsJson(stats.downloads),
  };
}

/** `GET /api/v3/berth/orgs/{org}/stats`: the organization's usage page in JSON. */
export function ownerStatsJson(owner: Owner, usage: OwnerUsage) {
  return {
    login: owner.login,
    package_count: usage.packageCount,
    size_in_bytes: usage.totalBytes,
    downloads: downloadsJson(usage.downloads),
    top_packages: usage.topDownloads.map((p) => ({
      id: p.id,
      name: p.name,
      package_type: 'container',
      visibility: p.visibility,
      version_count: p.versionCount,
      size_in_bytes: p.sizeBytes,
      downloads: p.downloads,
    })),
  };
}

/** GitHub's org webhook (docs "REST API endpoints for organization webhooks"); the secret is never sent back. */
export function hookJson(hook: Hook, base: string): Record<string, unknown> {
  const url = `${base}/hooks/${hook.id}`;
  return {
    type: hookType(hook.scope),
    id: hook.id,
    name: 'web',
    active: hook.active === 1,
    events: JSON.parse(hook.events) as unknown,
    config: { url: hook.url, content_type: hook.contentType, insecure_ssl: '0', ...(hook.hasSecret ? { secret: '********' } : {}) },
    updated_at: new Date(hook.updatedAt).toISOString(),
    created_at: new Date(hook.createdAt).toISOString(),
    url,
    ping_url: `${url}/pings`,
    deliveries_url: `${url}/deliveries`,
    // Why Berth disabled the hook after repeated failures (GitHub's `last_response` shape).
    last_response: hook.disabledReason === null
      ? { code: null, status: hook.active === 1 ? 'active' : 'inactive', message: null }
      : { code: null, status: 'disabled', message: hook.disabledReason },
  };
}

/** One entry of a hook's delivery log (docs "List deliveries for an organization webhook"). */
export function hookDeliveryJson(d: DeliveryRow): Record<string, unknown> {
  const message = d.response === null ? null : (JSON.parse(d.response) as { message: string }).message;
  return {
    id: d.id,
    guid: d.guid,
    delivered_at: new Date(d.deliveredAt ?? d.createdAt).toISOString(),
    redelivery: d.redelivery === 1,
    duration: (d.durationMs ?? 0) / 1000,
    status: d.status === 'delivered' ? 'OK' : d.status === 'failed' ? `failed: ${message ?? ''}` : d.attempts === 0 ? 'pending' : `retrying: ${message ?? ''}`,
    status_code: d.statusCode ?? 0,
    event: d.event,
    action: d.action,
    installation_id: null,
    repository_id: null,
    attempts: d.attempts,
  };
}

/** One delivery with its request and response (docs "Get a webhook delivery for an organization webhook"). */
export function hookDeliveryDetailJson(d: DeliveryRow, requestHeaders: Record<string, string>): Record<string, unknown> {
  const response = d.response === null ? null : JSON.parse(d.response) as { message: string; body: string };
  return {
    ...hookDeliveryJson(d),
    url: null,
    request: { headers: requestHeaders, payload: JSON.parse(d.payload) as unknown },
    response: { headers: {}, payload: response?.body ?? null, message: response?.message ?? null },
  };
}

/** An audit record's `_document_id`, which is also the pagination cursor (`after`, `before`): opaque to clients. */
export function auditCursor(id: number): string {
  return Buffer.from(`audit:${id}`).toString('base64url');
}

export function parseAuditCursor(raw: string): number | null {
  const m = /^audit:(\d{1,15})$/.exec(Buffer.from(raw, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : null;
}

/** GitHub's operation types, from the action's verb. */
function operationType(action: string): string {
  const verb = action.slice(action.indexOf('.') + 1);
  if (/login|failed_use/.test(verb)) return 'authentication';
  if (/^(create|push|add_member)$/.test(verb)) return 'create';
  if (/^(delete|destroy|remove_member|revoke|revoke_grant|retention_run|run)$/.test(verb)) return 'remove';
  return 'modify';
}

/**
 * One audit record as GitHub's org audit-log API has it (docs "Get the audit log for an organization"): `@timestamp`
 * and `created_at` in ms, `_document_id`, `action`, `actor`, `org`, `user_agent`; Berth's own fields beside them
 * (`token_id`, `repo`/`package`, `target`, `data.before`/`data.after`).
 */
export function auditEntryJson(r: AuditRecord): Record<string, unknown> {
  const repo = r.repository;
  return {
    '@timestamp': r.createdAt,
    _document_id: auditCursor(r.id),
    action: r.action,
    operation_type: operationType(r.action),
    actor: r.actorLogin,
    actor_id: r.actorId,
    actor_ip: r.address,
    user_agent: r.userAgent,
    ...(r.tokenId !== null ? { token_id: r.tokenId, programmatic_access_type: 'personal access token' } : {}),
    created_at: r.createdAt,
    org: r.orgLogin,
    org_id: r.orgId,
    ...(repo ? { repo, package: repo.slice(repo.indexOf('/') + 1) } : {}),
    target: r.target,
    data: {
      ...(r.before !== null ? { before: JSON.parse(r.before) as unknown } : {}),
      ...(r.after !== null ? { after: JSON.parse(r.after) as unknown } : {}),
    },
  };
}

/**
 * A pull-through mirror (`GET /api/v3/berth/mirrors`, Berth-only): its upstream, who may pull, eviction, the cache
 * in numbers, and `requests` answered by this process since it started, by result (berth_mirror_requests_total).
 */
export function mirrorJson(urls: Urls, upstream: UpstreamSummary, summary: MirrorNamespaceSummary, requests: MirrorCounts | null): unknown {
  return {
    namespace: upstream.namespace,
    upstream_url: upstream.url,
    default: upstream.isDefault,
    authenticated: upstream.auth !== 'anonymous',
    access: upstream.access,
    defined_by: upstream.source === 'config' ? 'configuration' : 'admin',
    evict_after_seconds: upstream.evictAfterMs === null ? null : Math.round(upstream.evictAfterMs / 1000),
    package_count: summary.packages,
    version_count: summary.versions,
    size_in_bytes: summary.sizeBytes,
    last_pulled_at: summary.lastPulledAt === null ? null : isoSeconds(summary.lastPulledAt),
    requests,
    url: `${urls.api}/berth/mirrors/${upstream.namespace}`,
    packages_url: `${urls.api}/berth/mirrors/${upstream.namespace}/packages`,
    html_url: `${urls.web}/mirrors/${upstream.namespace}`,
  };
}

/** A cached repository of a mirror namespace, with what the upstream calls it. */
export function cachedPackageJson(upstreamUrl: string, remote: string, repo: CachedRepository): unknown {
  return {
    id: repo.id,
    name: repo.name,
    package_type: 'container',
    upstream: { url: upstreamUrl, repository: remote },
    version_count: repo.versions,
    size_in_bytes: repo.sizeBytes,
    created_at: isoSeconds(repo.createdAt),
    last_pulled_at: repo.lastPulledAt === null ? null : isoSeconds(repo.lastPulledAt),
  };
}
