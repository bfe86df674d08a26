import type { Account } from '../../accounts/account-service.js';
import { parseImmutableTagRules, type ImmutableTagRules } from '../../lifecycle/immutable-tags.js';
import type { PolicyScope } from '../../lifecycle/lifecycle-policies.js';
import { parseRetentionPolicy, type RetentionPolicy } from '../../lifecycle/retention-policy.js';
import type { RetentionRun } from '../../lifecycle/retention-service.js';
import { packageNotFound } from '../../packages/package-errors.js';
import { param, queryParam, type Endpoint, type GithubDeps, type RequestContext } from './github-context.js';
import { invalidRequest, missingScopes, notFound } from './github-errors.js';

/** Berth's own REST extension has no GitHub docs page: its errors point at the README's section. */
const DOCS = 'https://github.com/berth-registry/berth#lifecycle-immutable-tags-and-retention';

interface Target { readonly owner: Account; readonly scope: PolicyScope; readonly repository: string | null }

/**
 * Lifecycle rules under /api/v3/berth (no GitHub equivalent): immutable-tag and retention rules of a namespace
 * (`/orgs/{org}`, `/users/{username}`) and of a package (`/packages/{owner}/{name}`, a nested name
 * percent-encoded), and retention runs with `dry_run`. Only the namespace's admins (LifecycleAccess).
 */
export function lifecycleRoutes(): Endpoint[] {
  const bases = ['/v3/berth/orgs/:org', '/v3/berth/users/:username', '/v3/berth/packages/:owner/:name'];
  return bases.flatMap((base) => [
    { method: 'GET', url: `${base}/immutable-tags`, docs: DOCS, access: ['read:packages'], what: 'read lifecycle rules', handle: getImmutableTags },
    { method: 'PUT', url: `${base}/immutable-tags`, docs: DOCS, access: ['write:packages'], what: 'change lifecycle rules', handle: putImmutableTags },
    { method: 'GET', url: `${base}/retention`, docs: DOCS, access: ['read:packages'], what: 'read lifecycle rules', handle: getRetention },
    { method: 'PUT', url: `${base}/retention`, docs: DOCS, access: ['write:packages'], what: 'change lifecycle rules', handle: putRetention },
    { method: 'POST', url: `${base}/retention/runs`, docs: DOCS, access: ['read:packages'], what: 'preview retention', handle: runRetention },
  ] satisfies Endpoint[]);
}

/** The namespace or package the route names, when the caller administers its namespace (else 404 / 403). */
async function target(deps: GithubDeps, ctx: RequestContext): Promise<Target> {
  const params = ctx.request.params as Record<string, string | undefined>;
  const login = params.org ?? params.username ?? params.owner ?? '';
  const owner = await deps.accounts.find(login);
  const kind = params.org !== undefined ? 'org' : params.username !== undefined ? 'user' : null;
  if (!owner || (kind !== null && owner.type !== kind)) throw notFound();
  if (params.name === undefined) {
    await deps.lifecycle.access.assertManages(ctx.caller.identity?.userId ?? null, owner);
    return { owner, scope: { ownerId: owner.id, repositoryId: null }, repository: null };
  }
  const access = await deps.packages.find(owner, param(ctx.request, 'name'), ctx.caller.subject);
  if (!access?.operations.has('read')) throw packageNotFound();
  await deps.lifecycle.access.assertManages(ctx.caller.identity?.userId ?? null, owner);
  return { owner, scope: { ownerId: owner.id, repositoryId: access.package.id }, repository: access.package.repository };
}

async function getImmutableTags(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const t = await target(deps, ctx);
  const own = await deps.lifecycle.policies.get(t.scope);
  const org = t.repository === null ? null : await deps.lifecycle.policies.get({ ownerId: t.owner.id, repositoryId: null });
  return ctx.reply.send({
    immutable_tags: own.immutableTags ?? empty(),
    ...(org ? { namespace_immutable_tags: org.immutableTags ?? empty() } : {}),
  });
}

/** PUT …/immutable-tags `{"patterns":["v*"],"exclude":["latest"]}` replaces the scope's rules (empty lists: none). */
async function putImmutableTags(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const t = await target(deps, ctx);
  const rules = parseImmutableTagRules(ctx.request.body ?? {});
  await deps.lifecycle.policies.setImmutableTags(t.scope, rules, ctx.caller.identity!.userId);
  return ctx.reply.send({ immutable_tags: rules });
}

async function getRetention(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const t = await target(deps, ctx);
  const own = await deps.lifecycle.policies.get(t.scope);
  const org = t.repository === null ? null : await deps.lifecycle.policies.get({ ownerId: t.owner.id, repositoryId: null });
  return ctx.reply.send({ retention: own.retention ?? {}, ...(org ? { namespace_retention: org.retention ?? {} } : {}) });
}

/** PUT …/retention with the rules (README "Retention"); `{}` removes the scope's rules. */
async function putRetention(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const t = await target(deps, ctx);
  const policy = parseRetentionPolicy(ctx.request.body ?? {});
  await deps.lifecycle.policies.setRetention(t.scope, isEmpty(policy) ? null : policy, ctx.caller.identity!.userId);
  return ctx.reply.send({ retention: policy });
}

/**
 * POST …/retention/runs?dry_run=true|false — runs the rules of the package, or of every package of the namespace.
 * A dry run changes nothing and may carry `{"retention":{…}}` to preview rules before saving them. A real run
 * soft-deletes (restorable as REST deletes are) and needs delete:packages.
 */
async function runRetention(deps: GithubDeps, ctx: RequestContext): Promise<unknown> {
  const dryRunParam = queryParam(ctx.request, 'dry_run') ?? (ctx.request.body as { dry_run?: unknown } | undefined)?.dry_run?.toString() ?? 'true';
  if (dryRunParam !== 'true' && dryRunParam !== 'false') throw invalidRequest(`"dry_run" must be true or false.`);
  const dryRun = dryRunParam === 'true';
  if (!dryRun && !ctx.caller.identity!.scopes.has('delete:packages')) throw missingScopes(['read:packages', 'delete:packages'], 'run retention');
  const t = await target(deps, ctx);
  const body = ctx.request.body as { retention?: unknown } | undefined;
  let proposed: RetentionPolicy | null | undefined;
  if (body && typeof body === 'object' && 'retention' in body) {
    if (!dryRun) throw invalidRequest('Proposed rules ("retention") can only be previewed: save them with PUT …/retention, then run.');
    const p = parseRetentionPolicy(body.retention ?? {});
    proposed = isEmpty(p) ? null : p;
  }
  const runs = t.scope.repositoryId === null
    ? await deps.lifecycle.retention.runOwner(t.owner.id, { dryRun, ...(proposed !== undefined ? { proposedOrg: proposed } : {}) })
    : [await deps.lifecycle.retention.runPackage(t.scope.repositoryId, { dryRun, ...(proposed !== undefined ? { proposed } : {}) })];
  return ctx.reply.code(dryRun ? 200 : 201).send({ dry_run: dryRun, packages: runs.map(runJson) });
}

function runJson(run: RetentionRun) {
  return {
    package: run.repository, has_rules: run.hasRules, kept: run.kept, deleted: run.deleted,
    versions: run.versions.map((v) => ({
      id: v.id, digest: v.digest, media_type: v.mediaType, tags: v.tags, decision: v.decision, rule: v.rule, reason: v.reason, image: v.image,
    })),
  };
}

function empty(): ImmutableTagRules {
  return { patterns: [], exclude: [] };
}

/** No field at all (a field set to null still overrides the namespace's). */
function isEmpty(p: RetentionPolicy): boolean {
  return Object.keys(p).length === 0;
}
