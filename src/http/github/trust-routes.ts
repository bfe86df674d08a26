import type { Account } from '../../accounts/account-service.js';
import { parseTrustPolicy, type TrustPolicy } from '../../auth/trust-policy.js';
import { BerthError } from '../../util/errors.js';
import { param, type Endpoint, type GithubDeps, type RequestContext } from './github-context.js';
import { notFound } from './github-errors.js';

const DOCS = 'https://github.com/berth-registry/berth#tokenless-ci-oidc-trusted-publishing';

/**
 * An organization's OIDC trust policies under /api/v3/berth/orgs/{org}/trust-policies (no GitHub equivalent; the
 * shape of GitHub's OIDC customization endpoints): list, add, remove. Only those who administer the organization
 * (Policy.administers: its owners, instance admins).
 */
export function trustRoutes(): Endpoint[] {
  const base = '/v3/berth/orgs/:org/trust-policies';
  return [
    { method: 'GET', url: base, docs: DOCS, access: ['read:packages'], what: 'read trust policies', handle: listPolicies },
    { method: 'POST', url: base, docs: DOCS, access: ['write:packages'], what: 'change trust policies', handle: addPolicy },
    { method: 'DELETE', url: `${base}/:id`, docs: DOCS, access: ['write:packages'], what: 'change trust policies', handle: removePolicy },
  ];
}

async function org(deps: GithubDeps, ctx: RequestContext): Promise<Account> {
  const owner = await deps.accounts.find(param(ctx.request, 'org'));
  if (!owner || owner.type !== 'org') throw notFound();
  if (!(await deps.lifecycle.access.manages(ctx.caller.identity?.userId ?? null, owner))) {
    throw new BerthError({ status: 403, code: 'TRUST_ADMIN_REQUIRED', message: `Only owners of ${owner.login} can see and change its trust policies.` });
  }
  return owner;
}

async function listPolicies(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  return ctx.reply.send((await deps.trust.list(o.id)).map(policyJson));
}

/** POST `{"issuer","audience","conditions":{…},"packages":[…],"actions":[…],"token_lifetime_seconds"}` → 201. */
async function addPolicy(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  const input = parseTrustPolicy(ctx.request.body ?? null);
  return ctx.reply.code(201).send(policyJson(await deps.trust.add(o.id, input, ctx.caller.identity!.userId)));
}

async function removePolicy(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const o = await org(deps, ctx);
  const id = param(ctx.request, 'id');
  if (!/^\d{1,15}$/.test(id)) throw notFound();
  const existing = (await deps.trust.list(o.id)).some((p) => p.id === Number(id));
  if (!existing) throw notFound();
  await deps.trust.remove(o.id, Number(id));
  return ctx.reply.code(204).send();
}

function policyJson(p: TrustPolicy) {
  return {
    id: p.id, organization: p.org, issuer: p.issuer, audience: p.audience, conditions: p.conditions, packages: p.packages,
    actions: p.actions, token_lifetime_seconds: p.tokenLifetimeSeconds,
  };
}
