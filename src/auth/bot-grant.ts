import { ACTIONS, type Action } from './actions.js';
import { PACKAGE_GLOB, trustedActions, type PackageGrant } from './trust-policy.js';
import { invalid } from '../util/errors.js';

/**
 * A bot account (Harbor's robot accounts, GitHub's organization-owned fine-grained tokens): an organization's machine
 * identity, `ORG+NAME`, that may do `actions` on the organization's `packages` (names or globs, as a trust policy's)
 * and nothing else. Not a person: no user id, no membership, no web sign-in. Pure: parsing, naming, deciding.
 */
export interface Bot extends PackageGrant {
  readonly id: number;
  readonly orgId: number;
  /** The organization's login, lowercase (package names are). */
  readonly org: string;
  readonly name: string;
  readonly secretVersion: number;
}

export interface BotInput {
  readonly name: string;
  readonly description: string;
  readonly packages: readonly string[];
  readonly actions: readonly Action[];
  /** ms since epoch; null: never expires. */
  readonly expiresAt: number | null;
}

/** Lowercase letters, digits and `-`, `_`, `.` inside; up to 40 characters (a login's limit). */
const BOT_NAME = /^[a-z0-9](?:[a-z0-9._-]{0,38}[a-z0-9])?$/;

/** What a bot is called wherever a login is shown (registry-token subjects, logs, messages): `acme+deployer`. */
export function botLogin(bot: Pick<Bot, 'org' | 'name'>): string {
  return `${bot.org}+${bot.name}`;
}

/** `ORG/NAME` (the CLI's and the README's way to name a bot; `ORG+NAME` is taken too) → its parts. */
export function parseBotRef(ref: string): { org: string; name: string } {
  const m = /^([^/+\s]+)[/+]([^/+\s]+)$/.exec(ref);
  if (!m) throw invalid(`${ref.slice(0, 80)} is not a bot: write ORG/NAME, e.g. acme/deployer`);
  return { org: m[1]!, name: m[2]!.toLowerCase() };
}

export function checkBotName(name: string): string {
  const lower = name.toLowerCase();
  if (!BOT_NAME.test(lower)) throw invalid(`name: "${name.slice(0, 60)}" is not a bot name (letters, digits, - _ . inside, at most 40 characters)`);
  return lower;
}

/**
 * Validates a bot as REST takes it (`name`, `packages`, `actions`, `description`, `expires_at` ISO 8601 or null);
 * throws 422 naming the field. `now` rejects an expiry in the past.
 */
export function parseBot(doc: unknown, now: number): BotInput {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('a bot is a JSON object with name, packages and actions');
  const d = doc as Record<string, unknown>;
  if (typeof d.name !== 'string') throw invalid('name: a bot name is required, e.g. deployer');
  const name = checkBotName(d.name);
  const description = d.description ?? '';
  if (typeof description !== 'string' || description.length > 200) throw invalid('description: a string of at most 200 characters');
  return { name, description, ...parseGrant(d, now) };
}

function parseGrant(d: Record<string, unknown>, now: number): Pick<BotInput, 'packages' | 'actions' | 'expiresAt'> {
  const packages = d.packages;
  if (!Array.isArray(packages) || packages.length === 0) throw invalid('packages: a non-empty list of package names or globs in the organization is required, e.g. ["api","web-*"]');
  for (const p of packages) {
    if (typeof p !== 'string' || !PACKAGE_GLOB.test(p)) throw invalid(`packages: "${String(p).slice(0, 60)}" is not a package name or glob (lowercase, * and ?)`);
  }
  const actions = d.actions;
  if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a) => (ACTIONS as readonly unknown[]).includes(a))) {
    throw invalid('actions: a non-empty list of pull, push, delete is required');
  }
  return {
    packages: [...new Set(packages as string[])],
    actions: ACTIONS.filter((a) => (actions as unknown[]).includes(a)),
    expiresAt: parseExpiry(d.expires_at, now),
  };
}

/** `expires_at`: an ISO 8601 date or time in the future, or null/absent for no expiry. */
export function parseExpiry(value: unknown, now: number): number | null {
  if (value === undefined || value === null) return null;
  const at = typeof value === 'string' && /^\d{4}-\d\d-\d\d/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) throw invalid('expires_at: an ISO 8601 date or time (e.g. 2027-01-31 or 2027-01-31T12:00:00Z), or null for no expiry');
  if (at <= now) throw invalid('expires_at: the expiry is in the past');
  return at;
}

/** What a bot may do with the package `name` (`org/…`): its actions on its organization's packages it names. */
export function botActions(bot: PackageGrant, name: string): Set<Action> {
  return trustedActions([bot], name);
}

/**
 * Why a bot is refused `missing` on `name`, naming what it may do instead, e.g. "bot acme+deployer may only push api,
 * web-*". Only the bot's own grant is told, never whether `name` exists; the fix is its organization owners'.
 */
export function botDenial(bot: Bot, name: string, missing: readonly Action[]): string {
  // A push asks for pull too: name the write, the thing the client was doing.
  const action = (['push', 'delete', 'pull'] as const).find((a) => missing.includes(a)) ?? missing[0]!;
  const packages = `${bot.packages.join(', ')} in ${bot.org}`;
  const what = bot.actions.includes(action)
    ? `may only ${action} ${packages}`
    : `may not ${action}: it may only ${bot.actions.join(', ')} ${packages}`;
  return `permission_denied: bot ${botLogin(bot)} ${what} (not ${name}); an owner of ${bot.org} grants bots their packages and actions`;
}
