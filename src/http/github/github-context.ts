import type { AuditLog } from '../../audit/audit-log.js';
import type { HookService } from '../../events/hook-service.js';
import type { TrustPolicies } from '../../auth/trust-policies.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccountService } from '../../accounts/account-service.js';
import type { BotService } from '../../accounts/bot-service.js';
import type { CredentialRefusal, CredentialResolver } from '../../auth/credentials.js';
import type { Scope, Subject } from '../../auth/permissions.js';
import type { Policy } from '../../auth/policy.js';
import type { LifecycleServices } from '../../lifecycle/lifecycle-services.js';
import type { MirrorService } from '../../mirror/mirror-service.js';
import type { MirrorPackages } from '../../packages/mirror-packages.js';
import type { PackageService } from '../../packages/package-service.js';
import type { PackageStats } from '../../packages/package-stats.js';
import type { UsageService } from '../../packages/usage-service.js';
import type { VersionService } from '../../packages/version-service.js';
import type { Clock } from '../../util/clock.js';
import type { RateLimiter } from './rate-limiter.js';

export interface GithubDeps {
  readonly accounts: AccountService;
  readonly credentials: CredentialResolver;
  /** Who administers a namespace (the organization stats). */
  readonly policy: Policy;
  readonly packages: PackageService;
  readonly versions: VersionService;
  readonly stats: PackageStats;
  /** Storage and downloads per owner: the usage pages' numbers. */
  readonly usage: UsageService;
  /** Immutable-tag and retention rules, and who may change them (/api/v3/berth). */
  readonly lifecycle: LifecycleServices;
  /** Webhooks of the namespaces (/orgs/{org}/hooks); who may manage them: Policy.administers. */
  readonly hooks: HookService;
  /** The audit log (/orgs/{org}/audit-log); who may read it: Policy.administers. */
  readonly audit: AuditLog;
  /** Organizations' OIDC trust policies (/api/v3/berth/orgs/{org}/trust-policies). */
  readonly trust: TrustPolicies;
  /** Organizations' bot accounts (/api/v3/berth/orgs/{org}/bots). */
  readonly bots: BotService;
  /** The pull-through caches and their cached repositories (/api/v3/berth/mirrors). */
  readonly mirror: { readonly service: MirrorService; readonly packages: MirrorPackages };
  readonly rateLimiter: RateLimiter;
  /** Requests per window: per token, and per client address for anonymous callers. */
  readonly rateLimits: { readonly authenticated: number; readonly anonymous: number };
  readonly clock: Clock;
  readonly publicUrl: string | null;
}

/** Who is calling: a token's identity, nobody, or credentials that were refused (→ 401 "Bad credentials"). */
export interface Caller {
  /** The access token's holder, when one was presented and accepted. */
  readonly identity: {
    readonly tokenId: number; readonly userId: number; readonly login: string;
    readonly scopes: ReadonlySet<Scope>; readonly repositoryLimit: string | null;
  } | null;
  readonly refusal: CredentialRefusal['refused'] | null;
  /** A bot's login (`acme+deployer`) when a bot token was presented: no identity, its grant in `subject`. */
  readonly bot: string | null;
  /** What the permission model decides on (auth/policy.ts). */
  readonly subject: Subject;
}

/** Absolute bases for the URLs in responses: Berth's web pages and its REST API. */
export interface Urls {
  /** `https://berth.example.com` (from `server.publicUrl`, else the request's scheme and host). */
  readonly web: string;
  /** `https://berth.example.com/api/v3` */
  readonly api: string;
}

export interface RequestContext {
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  readonly caller: Caller;
  readonly urls: Urls;
}

/**
 * Who may call an endpoint: anyone (`public`), any signed-in caller (`user`), or a caller whose token has these
 * classic-PAT scopes (also sent as `X-Accepted-OAuth-Scopes`).
 */
export type EndpointAccess = 'public' | 'user' | readonly Scope[];

/** One REST endpoint: method, path under /api, the GitHub docs section it implements, who may call it, handler. */
export interface Endpoint {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: string;
  readonly docs: string;
  readonly access: EndpointAccess;
  /** What the caller is doing, for messages about missing scopes ("list packages"). */
  readonly what?: string;
  /** Whether a bot token may call it: reads of packages and versions, which its grant then filters. */
  readonly bots?: boolean;
  readonly handle: (deps: GithubDeps, ctx: RequestContext) => Promise<unknown>;
}

export function urlsFor(request: FastifyRequest, publicUrl: string | null): Urls {
  const web = publicUrl ?? `${request.protocol}://${request.host}`;
  return { web, api: `${web}/api/v3` };
}

/** A route parameter (Fastify has already percent-decoded it: `team%2Fapi` arrives as `team/api`). */
export function param(request: FastifyRequest, key: string): string {
  return (request.params as Record<string, string | undefined>)[key] ?? '';
}

export function queryParam(request: FastifyRequest, key: string): string | null {
  return new URL(request.url, 'http://x').searchParams.get(key);
}
