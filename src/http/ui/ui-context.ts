import type { AuditLog } from '../../audit/audit-log.js';
import type { HookService } from '../../events/hook-service.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account, AccountService } from '../../accounts/account-service.js';
import type { Session, SessionService } from '../../accounts/session-service.js';
import type { BotService } from '../../accounts/bot-service.js';
import type { TokenService } from '../../accounts/token-service.js';
import type { FailureLimiter } from '../../auth/failure-limiter.js';
import { ANONYMOUS, type CredentialResolver } from '../../auth/credentials.js';
import type { Subject } from '../../auth/permissions.js';
import type { Policy } from '../../auth/policy.js';
import type { TrustPolicies } from '../../auth/trust-policies.js';
import type { OidcSignIn } from '../../auth/oidc-sign-in.js';
import type { SsoAccounts, TeamMapping } from '../../accounts/sso-accounts.js';
import type { OwnerDirectory } from '../../packages/owner-directory.js';
import type { PackageService } from '../../packages/package-service.js';
import type { PackageSettings } from '../../packages/package-settings.js';
import type { PackageStats } from '../../packages/package-stats.js';
import type { PackageSummaries } from '../../packages/package-summaries.js';
import type { UsageService } from '../../packages/usage-service.js';
import type { StorageQuotas } from '../../packages/storage-quotas.js';
import type { VersionDetails } from '../../packages/version-details.js';
import type { VersionService } from '../../packages/version-service.js';
import type { LifecycleServices } from '../../lifecycle/lifecycle-services.js';
import type { MirrorService } from '../../mirror/mirror-service.js';
import type { UpstreamStore } from '../../mirror/upstream-store.js';
import type { MirrorPackages } from '../../packages/mirror-packages.js';
import type { Clock } from '../../util/clock.js';
import { html, type Html } from './html.js';
import { page, type Flash, type NavItem } from './layout.js';
import { signInRequired } from './ui-errors.js';

/** What the web UI pages use; built by the composition root (createApp). */
export interface UiDeps {
  readonly accounts: AccountService;
  readonly tokens: TokenService;
  /** Organizations' bot accounts (the org settings page's Bots section). */
  readonly bots: BotService;
  readonly sessions: SessionService;
  /** Who is calling (the session cookie) and what they may do: auth/'s resolver and policy, as on every surface. */
  readonly credentials: CredentialResolver<Account>;
  readonly policy: Policy;
  readonly packages: PackageService;
  readonly versions: VersionService;
  readonly stats: PackageStats;
  readonly settings: PackageSettings;
  readonly summaries: PackageSummaries;
  readonly details: VersionDetails;
  readonly directory: OwnerDirectory;
  /** Storage and downloads per owner (usage and admin pages). */
  readonly usage: UsageService;
  /** Storage quotas (the admin page's instance view and quota form). */
  readonly quotas: StorageQuotas;
  /** Config `quota.warning`: the usage page warns from this percent of the quota. */
  readonly quotaWarningPercent: number;
  /** Immutable-tag and retention rules (the settings pages' Lifecycle section). */
  readonly lifecycle: LifecycleServices;
  /** Organizations' OIDC trust policies (the organization settings page's Trusted publishing section). */
  readonly trust: TrustPolicies;
  /** Webhooks of every scope (the webhook settings pages). */
  readonly hooks: HookService;
  /** The organizations' audit records (the audit-log page). */
  readonly audit: AuditLog;
  /** The pull-through caches and their cached repositories (the mirror pages). */
  readonly mirror: { readonly service: MirrorService; readonly packages: MirrorPackages; readonly upstreams: UpstreamStore };
  /** Failed sign-ins per client address and per login (the same limiter as /token). */
  readonly limiter: FailureLimiter;
  /** How people sign in to the web UI (config `auth.sso`): local passwords (unless turned off), single sign-on. */
  readonly signIn: {
    readonly localPasswords: boolean;
    readonly sso: {
      readonly client: OidcSignIn;
      readonly accounts: SsoAccounts;
      readonly usernameClaim: string;
      readonly teamMap: readonly TeamMapping[];
    } | null;
  };
  readonly clock: Clock;
  readonly publicUrl: string | null;
}

/**
 * One group of pages (a file in pages/): registers its routes on the UI plugin's encapsulated instance. The plugin
 * lists the page modules in one array; adding a page file is one import and one entry there.
 */
export interface UiPage {
  register(app: FastifyInstance, deps: UiDeps): void;
}

/** Who is looking at a page: the signed-in account and its session, or nobody. */
export interface Viewer {
  readonly account: Account | null;
  readonly session: Session | null;
  /** The CSRF token every form of this session carries (`csrfField`); null when signed out. */
  readonly csrf: string | null;
  /**
   * The permission model's subject: a signed-in user acts with every package scope (a browser session is the
   * user), so what they may do is decided by their roles alone; anonymous visitors see public packages only.
   */
  readonly subject: Subject;
}

export const ANONYMOUS_VIEWER: Viewer = { account: null, session: null, csrf: null, subject: ANONYMOUS.subject };

const viewers = new WeakMap<FastifyRequest, Viewer>();

/** Set once per request by the UI plugin's onRequest hook. */
export function setViewer(request: FastifyRequest, viewer: Viewer): void {
  viewers.set(request, viewer);
}

export function viewerOf(request: FastifyRequest): Viewer {
  return viewers.get(request) ?? ANONYMOUS_VIEWER;
}

/** The signed-in account, or a redirect to the sign-in page (GET) / 401 page. */
export function requireAccount(request: FastifyRequest): Account {
  const account = viewerOf(request).account;
  if (!account) throw signInRequired();
  return account;
}

/** The hidden input carrying the session's CSRF token: put one in every POST form. */
export function csrfField(request: FastifyRequest): Html {
  return html`<input type="hidden" name="_csrf" value="${viewerOf(request).csrf ?? ''}">`;
}

export interface SendPageOptions {
  readonly title: string;
  readonly body: Html;
  readonly status?: number;
  readonly nav?: NavItem;
  readonly flash?: Flash | null;
}

/** Renders `body` inside the site layout for the request's viewer and sends it as HTML. */
export function sendPage(request: FastifyRequest, reply: FastifyReply, opts: SendPageOptions): FastifyReply {
  const viewer = viewerOf(request);
  const doc = page({
    title: opts.title, actor: viewer.account, csrf: viewer.csrf, body: opts.body, nav: opts.nav ?? null, flash: opts.flash ?? null,
    path: request.url,
  });
  return reply.code(opts.status ?? 200).type('text/html; charset=utf-8').send(doc.toString());
}

/** Redirect-after-post (303: the browser follows with a GET). Only site-relative paths. */
export function redirect(reply: FastifyReply, path: string): FastifyReply {
  return reply.code(303).header('Location', localPath(path)).send();
}

/**
 * `path` when it names a page of this site, else `/`: for return_to values, which an attacker chooses. Browsers drop
 * tabs and newlines and read `\` as `/` (`/\t/evil` and `/\\evil` lead off-site), so control characters and
 * backslashes are refused outright; the rest is resolved as a URL and must keep the site's origin, and the result is
 * sent in its normalised form (`/.//evil` resolves to `//evil`, which a browser reads as another host: refused).
 */
export function localPath(path: string | null | undefined): string {
  if (!path || !path.startsWith('/') || /[\u0000-\u001f\u007f\\]/.test(path)) return '/';
  const base = 'http://site.invalid';
  let url: URL;
  try {
    url = new URL(path, base);
  } catch {
    return '/';
  }
  const local = url.pathname + url.search + url.hash;
  return url.origin === base && !local.startsWith('//') ? local : '/';
}

/** A submitted form (application/x-www-form-urlencoded), empty when there was none. */
export function formOf(request: FastifyRequest): URLSearchParams {
  return request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
}

/** A query parameter of the request URL. */
export function queryOf(request: FastifyRequest, key: string): string | null {
  return new URL(request.url, 'http://x').searchParams.get(key);
}

/** A route parameter (percent-decoded by Fastify: `team%2Fapi` arrives as `team/api`). */
export function paramOf(request: FastifyRequest, key: string): string {
  return (request.params as Record<string, string | undefined>)[key] ?? '';
}

/** The site's base URL: `server.publicUrl`, else the request's scheme and host. */
export function siteUrl(request: FastifyRequest, publicUrl: string | null): string {
  return publicUrl ?? `${request.protocol}://${request.host}`;
}

/** Origin, when the browser sends it, must be this site's (a cross-site form post is refused even before CSRF). */
export function sameOrigin(request: FastifyRequest, publicUrl: string | null): boolean {
  const origin = request.headers.origin;
  return origin === undefined || origin === new URL(siteUrl(request, publicUrl)).origin;
}

/** What docker and friends call the registry: host[:port] of the site. */
export function registryHost(request: FastifyRequest, publicUrl: string | null): string {
  return new URL(siteUrl(request, publicUrl)).host;
}
