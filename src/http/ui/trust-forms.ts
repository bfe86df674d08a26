import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Account } from '../../accounts/account-service.js';
import { parseTrustPolicy, type TrustPolicy } from '../../auth/trust-policy.js';
import { html, type Html } from './html.js';
import { csrfField, formOf, redirect, type UiDeps } from './ui-context.js';
import { asFormError, formInvalid } from './ui-errors.js';

/**
 * The "Trusted publishing" section of the organization settings page: OIDC trust policies (what
 * `berth trust` and /api/v3/berth/orgs/{org}/trust-policies manage), listed with a remove button, and a form to add
 * one. The page checks that the signed-in user administers the organization before calling these.
 */
export async function trustSection(deps: UiDeps, request: FastifyRequest, org: Account): Promise<Html> {
  const policies = await deps.trust.list(org.id);
  const base = `/orgs/${encodeURIComponent(org.login)}/settings/trust`;
  return html`<section class="settings-section card" aria-labelledby="trust">
  <h2 id="trust">Trusted publishing</h2>
  <p class="muted">CI jobs whose OIDC ID token matches a policy log in with <code>docker login -u oidc</code> and the token as password: no registry secret is stored in CI. <code>berth ci-template</code> writes such a workflow.</p>
  ${policies.length === 0
    ? html`<p class="muted" id="trust-empty">No trust policies yet.</p>`
    : html`<table class="table" id="trust-policies">
    <thead><tr><th scope="col">Issuer</th><th scope="col">Audience</th><th scope="col">Conditions</th><th scope="col">Packages</th><th scope="col">Actions</th><th scope="col">Token lifetime</th><th scope="col"><span class="visually-hidden">Remove</span></th></tr></thead>
    <tbody>${policies.map((p) => policyRow(request, base, p))}</tbody>
  </table>`}
  <h3 id="trust-add">Add a trust policy</h3>
  <form method="post" action="${base}" class="stack">${csrfField(request)}
    <label for="trust-issuer">Issuer</label>
    <input type="url" id="trust-issuer" name="issuer" required value="https://token.actions.githubusercontent.com" autocomplete="off" spellcheck="false">
    <label for="trust-audience">Audience</label>
    <input type="text" id="trust-audience" name="audience" required placeholder="${deps.publicUrl ? new URL(deps.publicUrl).host : 'registry.example.com'}" autocomplete="off" spellcheck="false">
    <label for="trust-conditions">Claim conditions</label>
    <textarea id="trust-conditions" name="conditions" rows="3" required placeholder="repository=${org.login}/app" spellcheck="false" aria-describedby="trust-conditions-help"></textarea>
    <span class="hint" id="trust-conditions-help">One per line: claim=value or glob (repository, repository_owner, ref, environment, job_workflow_ref, sub…).</span>
    <label for="trust-packages">Packages</label>
    <input type="text" id="trust-packages" name="packages" required placeholder="api, web-*" autocomplete="off" spellcheck="false">
    <fieldset><legend>Actions</legend>
      <label class="check"><input type="checkbox" name="actions" value="pull" checked> pull</label>
      <label class="check"><input type="checkbox" name="actions" value="push" checked> push</label>
      <label class="check"><input type="checkbox" name="actions" value="delete"> delete</label>
    </fieldset>
    <label for="trust-lifetime">Token lifetime (seconds)</label>
    <input type="number" id="trust-lifetime" name="token_lifetime_seconds" min="60" max="3600" value="900">
    <div><button type="submit" class="btn btn-primary">Add trust policy</button></div>
  </form>
</section>`;
}

function policyRow(request: FastifyRequest, base: string, p: TrustPolicy): Html {
  return html`<tr>
      <td><code>${p.issuer}</code></td><td><code>${p.audience}</code></td>
      <td>${Object.entries(p.conditions).map(([claim, value]) => html`<code>${claim}=${value}</code> `)}</td>
      <td>${p.packages.join(', ')}</td><td>${p.actions.join(', ')}</td><td>${p.tokenLifetimeSeconds} s</td>
      <td><form method="post" action="${base}/remove">${csrfField(request)}<input type="hidden" name="id" value="${String(p.id)}">
        <button type="submit" class="btn btn-danger btn-small" aria-label="Remove trust policy ${String(p.id)}">Remove</button></form></td>
    </tr>`;
}

/** Registers the add and remove POSTs under /orgs/:org/settings/trust; `administered` checks the caller as the page does. */
export function registerTrustForms(app: FastifyInstance, deps: UiDeps, administered: (request: FastifyRequest) => Promise<{ org: Account; actor: Account }>,
  back: (org: Account) => string): void {
  app.post('/orgs/:org/settings/trust', async (request, reply) => {
    const { org, actor } = await administered(request);
    const form = formOf(request);
    const conditions: Record<string, string> = {};
    for (const line of (form.get('conditions') ?? '').split(/\r?\n/).map((l) => l.trim()).filter(Boolean)) {
      const eq = line.indexOf('=');
      if (eq <= 0) throw formInvalid(`"${line.slice(0, 80)}" is not a condition: write claim=value, e.g. repository=${org.login}/app`);
      conditions[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
    const lifetime = (form.get('token_lifetime_seconds') ?? '').trim();
    const input = asFormError(() => parseTrustPolicy({
      issuer: (form.get('issuer') ?? '').trim(), audience: (form.get('audience') ?? '').trim(), conditions,
      packages: (form.get('packages') ?? '').split(',').map((p) => p.trim()).filter(Boolean), actions: form.getAll('actions'),
      token_lifetime_seconds: lifetime === '' ? undefined : /^\d+$/.test(lifetime) ? Number(lifetime) : lifetime,
    }));
    await deps.trust.add(org.id, input, actor.id);
    return redirect(reply, back(org));
  });

  app.post('/orgs/:org/settings/trust/remove', async (request, reply) => {
    const { org } = await administered(request);
    const id = (formOf(request).get('id') ?? '').trim();
    if (!/^\d{1,15}$/.test(id) || !(await deps.trust.list(org.id)).some((p) => p.id === Number(id))) throw formInvalid('That trust policy no longer exists.');
    await deps.trust.remove(org.id, Number(id));
    return redirect(reply, back(org));
  });
}
