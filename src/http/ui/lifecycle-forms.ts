import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseImmutableTagRules, type ImmutableTagRules } from '../../lifecycle/immutable-tags.js';
import type { PolicyScope } from '../../lifecycle/lifecycle-policies.js';
import { parseRetentionPolicy, type RetentionPolicy } from '../../lifecycle/retention-policy.js';
import type { RetentionRun } from '../../lifecycle/retention-service.js';
import { tagChip } from './components.js';
import { html, type Html } from './html.js';
import { csrfField, formOf, redirect, requireAccount, sendPage, type UiDeps } from './ui-context.js';
import { asFormError } from './ui-errors.js';

/** The scope a settings page's lifecycle forms act on, resolved (and access-checked for viewing) by the page. */
export interface LifecyclePageScope {
  /** The namespace: whose admins may change the rules. */
  readonly owner: { readonly id: number; readonly login: string; readonly type: 'user' | 'org' };
  readonly scope: PolicyScope;
  /** `acme` or `acme/api`, for headings. */
  readonly label: string;
  /** The settings page to go back to. */
  readonly settingsUrl: string;
}

const RETENTION_FIELDS = [
  ['keep_most_recent', 'Keep the most recent', 'Number of most recently pushed images always kept, e.g. 10.'],
  ['keep_tags', 'Keep tags matching', 'Comma-separated: globs (v*), /regular expressions/, semver ranges (semver:>=1.0 <2).'],
  ['keep_pulled_within', 'Keep images pulled within', 'A duration, e.g. 30d.'],
  ['delete_untagged_after', 'Delete untagged images older than', 'A duration, e.g. 7d.'],
  ['delete_not_pulled_for', 'Delete images not pulled for', 'A duration, e.g. 180d (never pulled: counted from the push).'],
] as const;

/**
 * The "Lifecycle" section of the organization and package settings pages: immutable-tag rules, and retention
 * rules edited through a preview (a dry run listing every version with its decision) before they are saved.
 * Plain forms; the namespace's admins only (LifecycleAccess), also for a package admin looking at the page.
 */
export async function lifecycleSection(deps: UiDeps, request: FastifyRequest, page: LifecyclePageScope): Promise<Html> {
  const account = requireAccount(request);
  if (!(await deps.lifecycle.access.manages(account.id, page.owner))) {
    return html`<section class="settings-section card" aria-labelledby="lifecycle"><h2 id="lifecycle">Lifecycle</h2>
  <p class="muted">Immutable tags and retention rules are set by the owners of ${page.owner.login}.</p></section>`;
  }
  const own = await deps.lifecycle.policies.get(page.scope);
  const inherited = page.scope.repositoryId === null ? null : await deps.lifecycle.policies.get({ ownerId: page.scope.ownerId, repositoryId: null });
  const rules = own.immutableTags ?? { patterns: [], exclude: [] };
  const base = `${page.settingsUrl}/lifecycle`;
  return html`<section class="settings-section card" aria-labelledby="lifecycle">
  <h2 id="lifecycle">Lifecycle</h2>
  <h3 id="immutable-tags">Immutable tags</h3>
  <p class="muted">A tag matching a pattern (and no exclusion) cannot be moved to another image or deleted once pushed; pushing the same image again is allowed.${inherited?.immutableTags ? ` ${page.owner.login} also protects ${inherited.immutableTags.patterns.join(', ')}${inherited.immutableTags.exclude.length ? ` except ${inherited.immutableTags.exclude.join(', ')}` : ''}.` : ''}</p>
  <form method="post" action="${base}/immutable" class="stack">${csrfField(request)}
    <label for="immutable-patterns">Patterns</label>
    <input type="text" id="immutable-patterns" name="patterns" value="${rules.patterns.join(', ')}" placeholder="v*, release-*" autocomplete="off" spellcheck="false">
    <label for="immutable-exclude">Exclusions</label>
    <input type="text" id="immutable-exclude" name="exclude" value="${rules.exclude.join(', ')}" placeholder="latest, main-*" autocomplete="off" spellcheck="false">
    <div><button type="submit" class="btn btn-primary">Save immutable tags</button></div>
  </form>
  <h3 id="retention">Retention</h3>
  <p class="muted">Rules decide per image (an index with its platform manifests, signatures and attestations), in this order: immutable tag, keep tags, keep pulled within, keep the most recent, then the delete rules; an image no rule deletes is kept. Deleted versions can be restored for a while.${inherited?.retention ? ` Fields left empty here come from ${page.owner.login}'s rules.` : ''}</p>
  ${retentionForm(request, base, own.retention ?? {})}
</section>`;
}

function retentionForm(request: FastifyRequest, base: string, policy: RetentionPolicy, intent: 'preview' | 'save' = 'preview'): Html {
  return html`<form method="post" action="${base}/retention" class="stack">${csrfField(request)}
    ${RETENTION_FIELDS.map(([name, label, help]) => {
      const value = policy[name];
      const text = value === null || value === undefined ? '' : Array.isArray(value) ? value.join(', ') : String(value);
      return intent === 'save'
        ? html`<input type="hidden" name="${name}" value="${text}">`
        : html`<label for="retention-${name}">${label}</label>
    <input type="text" id="retention-${name}" name="${name}" value="${text}" autocomplete="off" spellcheck="false" aria-describedby="retention-${name}-help">
    <span class="hint" id="retention-${name}-help">${help}</span>`;
    })}
    <input type="hidden" name="intent" value="${intent}">
    <div><button type="submit" class="btn btn-primary">${intent === 'preview' ? 'Preview' : 'Save these rules'}</button></div>
  </form>`;
}

/** Registers the lifecycle POSTs under `${settingsPath}/lifecycle/…`; `resolve` finds the scope as the page does. */
export function registerLifecycleForms(app: FastifyInstance, deps: UiDeps, settingsPath: string, resolve: (request: FastifyRequest) => Promise<LifecyclePageScope>): void {
  const managed = async (request: FastifyRequest): Promise<LifecyclePageScope> => {
    const page = await resolve(request);
    await deps.lifecycle.access.assertManages(requireAccount(request).id, page.owner);
    return page;
  };
  app.post(`${settingsPath}/lifecycle/immutable`, async (request, reply) => {
    const page = await managed(request);
    const form = formOf(request);
    const rules: ImmutableTagRules = asFormError(() => parseImmutableTagRules({ patterns: list(form.get('patterns')), exclude: list(form.get('exclude')) }));
    await deps.lifecycle.policies.setImmutableTags(page.scope, rules, requireAccount(request).id);
    return redirect(reply, `${page.settingsUrl}?done=lifecycle#immutable-tags`);
  });
  app.post(`${settingsPath}/lifecycle/retention`, async (request, reply) => {
    const page = await managed(request);
    const form = formOf(request);
    const doc: Record<string, unknown> = {};
    for (const [name] of RETENTION_FIELDS) {
      const v = (form.get(name) ?? '').trim();
      if (v === '') continue;
      doc[name] = name === 'keep_tags' ? list(v) : name === 'keep_most_recent' && /^\d+$/.test(v) ? Number(v) : v;
    }
    const policy = asFormError(() => parseRetentionPolicy(doc));
    const empty = Object.keys(policy).length === 0;
    if (form.get('intent') === 'save') {
      await deps.lifecycle.policies.setRetention(page.scope, empty ? null : policy, requireAccount(request).id);
      return redirect(reply, `${page.settingsUrl}?done=lifecycle#retention`);
    }
    return previewPage(deps, request, reply, page, policy, empty);
  });
}

/** The dry run of the proposed rules: every version with its decision, rule and reason, and the button to save. */
async function previewPage(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, page: LifecyclePageScope, policy: RetentionPolicy, empty: boolean) {
  const proposed = empty ? null : policy;
  const runs: RetentionRun[] = page.scope.repositoryId === null
    ? await deps.lifecycle.retention.runOwner(page.scope.ownerId, { dryRun: true, proposedOrg: proposed })
    : [await deps.lifecycle.retention.runPackage(page.scope.repositoryId, { dryRun: true, proposed })];
  const base = `${page.settingsUrl}/lifecycle`;
  return sendPage(request, reply, {
    title: `Retention preview · ${page.label}`, nav: 'settings',
    body: html`<p class="breadcrumb"><a href="${page.settingsUrl}#retention">${page.label} settings</a> / retention preview</p>
<h1>Retention preview</h1>
<p>What these rules would do now. Nothing has been saved or deleted yet; saved rules are applied by the next scheduled run.</p>
${runs.length === 0 ? html`<p class="muted">No package has retention rules with these settings.</p>` : runs.map((run) => html`<section class="card" aria-label="${run.repository}">
  <h2>${run.repository} <span class="hint">${run.kept} kept, ${run.deleted} deleted</span></h2>
  <div class="table-wrap"><table class="table retention-preview">
  <thead><tr><th scope="col">Version</th><th scope="col">Tags</th><th scope="col">Decision</th><th scope="col">Rule</th><th scope="col">Why</th></tr></thead>
  <tbody>${run.versions.map((v) => html`<tr data-digest="${v.digest}" data-decision="${v.decision}">
    <td><code title="${v.digest}">${v.digest.slice(7, 19)}</code></td>
    <td>${v.tags.length ? v.tags.map((t) => tagChip(t)) : html`<span class="muted">untagged</span>`}</td>
    <td>${v.decision === 'delete' ? html`<strong class="danger">delete</strong>` : 'keep'}</td>
    <td><code>${v.rule}</code></td>
    <td>${v.reason}</td>
  </tr>`)}</tbody></table></div>
</section>`)}
${retentionForm(request, base, policy, 'save')}
<p><a href="${page.settingsUrl}#retention">Back to the settings without saving</a></p>`,
  });
}

function list(value: string | null): string[] {
  return (value ?? '').split(',').map((t) => t.trim()).filter((t) => t !== '');
}
