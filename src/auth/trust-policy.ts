import { ACTIONS, type Action } from './actions.js';
import { invalid } from '../util/errors.js';

/**
 * An organization's OIDC trust policy (trusted publishing): ID tokens from `issuer` for `audience` whose claims meet
 * every condition may do `actions` on the organization's `packages` with a registry token living `tokenLifetimeSeconds`.
 * Conditions and package patterns are exact values or globs: `*` any run of characters (also `/`), `?` one
 * character; `acme/*` matches `acme/api`, `refs/heads/main` only itself. Pure: parsing and matching.
 */
export interface TrustPolicy {
  readonly id: number;
  readonly orgId: number;
  readonly org: string;
  readonly issuer: string;
  readonly audience: string;
  readonly conditions: Readonly<Record<string, string>>;
  readonly packages: readonly string[];
  readonly actions: readonly Action[];
  readonly tokenLifetimeSeconds: number;
}

export type TrustPolicyInput = Omit<TrustPolicy, 'id' | 'orgId' | 'org'>;

export const DEFAULT_TOKEN_LIFETIME_SECONDS = 900;
export const MAX_TOKEN_LIFETIME_SECONDS = 3600;

const CLAIM = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;
export const PACKAGE_GLOB = /^[a-z0-9._*?/-]{1,200}$/;
/** Claims checked by the verifier itself: a condition on them would be meaningless or misleading. */
const RESERVED = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'jti']);

/**
 * Validates a policy document as REST and the CLI take it (`issuer`, `audience`, `conditions`, `packages`,
 * `actions`, `token_lifetime_seconds`); throws 422 naming the field. At least one condition: a policy trusting every
 * token of a public issuer (every GitHub repository's workflows) would hand the organization's packages to anyone.
 */
export function parseTrustPolicy(doc: unknown): TrustPolicyInput {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('a trust policy is a JSON object');
  const d = doc as Record<string, unknown>;
  let issuer: URL;
  try {
    issuer = new URL(String(d.issuer ?? ''));
  } catch {
    throw invalid('issuer: an https URL is required, e.g. https://token.actions.githubusercontent.com');
  }
  const loopback = issuer.hostname === '127.0.0.1' || issuer.hostname === 'localhost' || issuer.hostname === '[::1]';
  if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && loopback)) throw invalid('issuer: must be an https URL (http only on loopback)');
  if (issuer.search !== '' || issuer.hash !== '') throw invalid('issuer: no query or fragment');
  if (typeof d.audience !== 'string' || d.audience.trim() === '' || d.audience.length > 200) throw invalid('audience: a non-empty string is required');
  const condDoc = d.conditions;
  if (typeof condDoc !== 'object' || condDoc === null || Array.isArray(condDoc)) throw invalid('conditions: an object of claim → value or glob is required');
  const conditions: Record<string, string> = {};
  for (const [claim, value] of Object.entries(condDoc)) {
    if (!CLAIM.test(claim) || RESERVED.has(claim)) throw invalid(`conditions: "${claim.slice(0, 64)}" is not a claim a condition can name`);
    if (typeof value !== 'string' || value === '' || value.length > 500) throw invalid(`conditions.${claim}: a non-empty string (exact value or glob) is required`);
    conditions[claim] = value;
  }
  if (Object.keys(conditions).length === 0) {
    throw invalid('conditions: at least one is required (e.g. repository or repository_owner): without, every token of the issuer would be trusted');
  }
  const packages = d.packages;
  if (!Array.isArray(packages) || packages.length === 0) throw invalid('packages: a non-empty list of package names or globs is required');
  for (const p of packages) {
    if (typeof p !== 'string' || !PACKAGE_GLOB.test(p)) throw invalid(`packages: "${String(p).slice(0, 60)}" is not a package name or glob (lowercase, * and ?)`);
  }
  const actions = d.actions;
  if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a) => (ACTIONS as readonly unknown[]).includes(a))) {
    throw invalid('actions: a non-empty list of pull, push, delete is required');
  }
  const lifetime = d.token_lifetime_seconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS;
  if (typeof lifetime !== 'number' || !Number.isInteger(lifetime) || lifetime < 60 || lifetime > MAX_TOKEN_LIFETIME_SECONDS) {
    throw invalid(`token_lifetime_seconds: an integer from 60 to ${MAX_TOKEN_LIFETIME_SECONDS}`);
  }
  return {
    issuer: issuer.href.replace(/\/$/, ''), audience: d.audience, conditions, packages: [...new Set(packages as string[])],
    actions: ACTIONS.filter((a) => (actions as unknown[]).includes(a)), tokenLifetimeSeconds: lifetime,
  };
}

/** Issuer URLs compare without a trailing slash (GitHub's `iss` has none; operators often type one). */
export function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/$/, '') === b.replace(/\/$/, '');
}

export function globMatch(glob: string, value: string): boolean {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(value);
}

/**
 * The claims whose conditions a token fails (empty: the policy matches). Only string claims can match; a missing
 * claim fails. Names only: the expected patterns are the organization's business, not every token holder's.
 */
export function unmetConditions(policy: Pick<TrustPolicy, 'conditions' | 'audience'>, claims: Readonly<Record<string, unknown>>): string[] {
  const unmet: string[] = [];
  for (const [claim, expected] of Object.entries(policy.conditions)) {
    const value = claims[claim];
    if (typeof value !== 'string' || !globMatch(expected, value)) unmet.push(claim);
  }
  return unmet;
}

/** Actions on an organization's packages named by globs: a trust policy's grant, and a bot's (auth/bot-grant.ts). */
export interface PackageGrant {
  readonly org: string;
  readonly packages: readonly string[];
  readonly actions: readonly Action[];
}

/** The actions a set of grants (matched policies, a bot) give on the package `name` (`org/…`). */
export function trustedActions(policies: readonly PackageGrant[], name: string): Set<Action> {
  const out = new Set<Action>();
  for (const p of policies) {
    if (!name.startsWith(`${p.org}/`)) continue;
    const inner = name.slice(p.org.length + 1);
    if (p.packages.some((g) => globMatch(g, inner))) for (const a of p.actions) out.add(a);
  }
  return out;
}

/** `repository:ORG/NAME:ACTIONS` for each package a policy names without a glob: a token exchange's default scope. */
export function literalScopes(policies: readonly TrustPolicy[]): string[] {
  return policies.flatMap((p) => p.packages.filter((g) => !/[*?]/.test(g)).map((g) => `repository:${p.org}/${g}:${p.actions.join(',')}`));
}
