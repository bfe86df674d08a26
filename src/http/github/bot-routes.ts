import type { Account } from '../../accounts/account-service.js';
import type { BotInfo } from '../../accounts/bot-service.js';
import { checkBotName, parseBot, parseExpiry } from '../../auth/bot-grant.js';
import { BerthError, invalid } from '../../util/errors.js';
import { param, type Endpoint, type GithubDeps, type RequestContext } from './github-context.js';
import { notFound } from './github-errors.js';

const DOCS = 'https://github.com/berth-registry/berth#bot-accounts';

/**
 * An organization's bot accounts under /api/v3/berth/orgs/{org}/bots (no GitHub equivalent; Harbor's robot accounts):
 * list, get, create and rotate (the token is in that answer only), revoke. Only those who administer the organization
 * (Policy.administers: its owners, instance admins), with a personal access token: a CI token, limited to one
 * package, must not mint a credential for others, and a bot cannot make bots (it is no user).
 */
export function botRoutes(): Endpoint[] {
  const base = '/v3/berth/orgs/:org/bots';
  return [
    { method: 'GET', url: base, docs: DOCS, access: ['read:packages'], what: 'list bots', handle: listBots },
    { method: 'POST', url: base, docs: DOCS, access: ['write:packages'], what: 'create bots', handle: createBot },
    { method: 'GET', url: `${base}/:name`, docs: DOCS, access: ['read:packages'], what: 'read bots', handle: getBot },
    { method: 'POST', url: `${base}/:name/rotate`, docs: DOCS, access: ['write:packages'], what: 'rotate bot tokens', handle: rotateBot },
    { method: 'DELETE', url: `${base}/:name`, docs: DOCS, access: ['write:packages'], what: 'revoke bots', handle: revokeBot },
  ];
}

async function org(deps: GithubDeps, ctx: RequestContext): Promise<Account> {
  const owner = await deps.accounts.find(param(ctx.request, 'org'));
  if (!owner || owner.type !== 'org') throw notFound();
  const identity = ctx.caller.identity!;
  const user = await deps.accounts.findById(identity.userId);
  if (!user || !(await deps.policy.administers(user, owner))) {
    throw new BerthError({ status: 403, code: 'BOT_ADMIN_REQUIRED', message: `Only owners of ${owner.login} can see and manage its bots.` });
  }
  if (identity.repositoryLimit !== null) {
    throw new BerthError({ status: 403, code: 'BOT_ADMIN_REQUIRED', message: 'A CI token cannot manage bots: use a personal access token.' });
  }
  return owner;
}

function botName(ctx: RequestContext): string {
  try {
    return checkBotName(param(ctx.request, 'name'));
  } catch {
    throw notFound();
  }
}

async function listBots(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  return ctx.reply.send((await deps.bots.list(o.id)).map(botJson));
}

async function getBot(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  const bot = await deps.bots.find(o.id, botName(ctx));
  if (!bot) throw notFound();
  return ctx.reply.send(botJson(bot));
}

/** POST `{"name","packages":[…],"actions":[…],"description","expires_at"}` → 201 with the bot and its `token` (once). */
async function createBot(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  const input = parseBot(ctx.request.body ?? null, deps.clock.now());
  const { token, bot } = await deps.bots.create(o.id, input, ctx.caller.identity!.userId);
  return ctx.reply.code(201).header('Cache-Control', 'no-store').send({ ...botJson(bot), token });
}

/** POST `{}` or `{"expires_at": … | null}` → 200 with the bot and its new `token`; the old one stops working. */
async function rotateBot(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  const name = botName(ctx);
  if (!(await deps.bots.find(o.id, name))) throw notFound();
  const body = ctx.request.body ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('the body is a JSON object, e.g. {} or {"expires_at":"2027-01-31"}');
  const doc = body as Record<string, unknown>;
  const expiresAt = 'expires_at' in doc ? parseExpiry(doc.expires_at, deps.clock.now()) : undefined;
  const { token, bot } = await deps.bots.rotate(o.id, name, expiresAt);
  return ctx.reply.code(200).header('Cache-Control', 'no-store').send({ ...botJson(bot), token });
}

async function revokeBot(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  const name = botName(ctx);
  if (!(await deps.bots.find(o.id, name))) throw notFound();
  await deps.bots.revoke(o.id, name);
  return ctx.reply.code(204).send();
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function botJson(b: BotInfo) {
  return {
    id: b.id, name: b.name, login: `${b.org}+${b.name}`, organization: b.org, description: b.description, packages: b.packages, actions: b.actions,
    token_hint: b.hint, expires_at: iso(b.expiresAt), last_used_at: iso(b.lastUsedAt), created_at: iso(b.createdAt), rotated_at: iso(b.rotatedAt),
  };
}
