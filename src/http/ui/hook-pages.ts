import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HOOK_EVENTS, type DeliveryRow, type Hook, type HookInput, type HookScope } from '../../events/hook-service.js';
import { formatDate } from './format.js';
import { html, type Html } from './html.js';
import type { Flash } from './layout.js';
import { csrfField, formOf, paramOf, queryOf, redirect, sendPage, type UiDeps } from './ui-context.js';
import { asFormError, formInvalid, pageNotFound } from './ui-errors.js';

/** Where a group of hook pages lives and whose hooks it shows; the caller has checked the viewer may manage them. */
export interface HookPageScope {
  readonly scope: HookScope;
  /** Path of the hook list (`/orgs/acme/settings/hooks`); a hook's page is `${base}/${id}`. */
  readonly base: string;
  /** "acme", "the instance"…: whose hooks, in the page's title and headings. */
  readonly whose: string;
  /** Links above the heading, ending where the hook list sits. */
  readonly breadcrumb: Html;
}

const EVENT_LABELS: Record<(typeof HOOK_EVENTS)[number], string> = {
  '*': 'Every event',
  package: 'package (published, updated)',
  registry_package: 'registry_package (published, updated)',
  berth_package: 'berth_package (deleted, restored, visibility changed)',
  berth_package_version: 'berth_package_version (deleted, restored, tag moved)',
  berth_retention: 'berth_retention (a retention run removed versions)',
  berth_quota: 'berth_quota (a push crossed the quota warning threshold)',
};

/** Fixed texts for the redirect after a change: nothing from the query string is echoed. */
const DONE: Record<string, string> = {
  created: 'Webhook created. A ping is on its way.',
  saved: 'Webhook saved.',
  deleted: 'Webhook deleted.',
  pinged: 'Ping queued.',
  redelivered: 'Redelivery queued: the same X-GitHub-Delivery id, sent again.',
};

const LOG_SIZE = 50;

/**
 * Webhook settings pages for one kind of scope, mounted at `route` (`/orgs/:org/settings/hooks`): the hook list with a
 * form to add one, and a page per hook to edit, ping or delete it, with its delivery log (request headers and body,
 * response status and body, duration, attempts) and a Redeliver button per delivery. Plain forms with the session's
 * CSRF token, answered by a redirect (303): it all works without JavaScript. The same HookService as the REST API.
 */
export function registerHookPages(app: FastifyInstance, deps: UiDeps, route: string, resolve: (request: FastifyRequest) => Promise<HookPageScope>): void {
  const flash = (request: FastifyRequest): Flash | null => {
    const done = DONE[queryOf(request, 'done') ?? ''];
    return done ? { kind: 'success', message: done } : null;
  };

  app.get(route, async (request, reply) => {
    const s = await resolve(request);
    const hooks = await deps.hooks.list(s.scope, 1, 100);
    return sendPage(request, reply, {
      title: `Webhooks · ${s.whose}`, nav: 'settings', flash: flash(request),
      body: html`<section class="hook-settings">
  <p class="breadcrumb">${s.breadcrumb} / webhooks</p>
  <h1>Webhooks</h1>
  <p class="muted">Berth POSTs each event to these URLs with GitHub's headers (<code>X-GitHub-Event</code>, <code>X-GitHub-Delivery</code>, <code>X-Hub-Signature-256</code>), at least once and in order per hook.</p>
  ${hooks.length === 0 ? html`<p class="muted" id="hooks-empty">No webhooks yet.</p>` : html`<table class="table" id="hooks">
    <thead><tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col">State</th><th scope="col">Changed</th></tr></thead>
    <tbody>${hooks.map((h) => html`<tr>
      <th scope="row"><a href="${s.base}/${String(h.id)}">${h.url}</a></th>
      <td>${(JSON.parse(h.events) as string[]).join(', ')}</td>
      <td>${state(h)}</td>
      <td>${formatDate(h.updatedAt)}</td>
    </tr>`)}</tbody>
  </table>`}
  <section class="card" aria-labelledby="hook-add">
    <h2 id="hook-add">Add a webhook</h2>
    <form method="post" action="${s.base}" class="stack">${csrfField(request)}
      ${hookFields(null)}
      <div><button type="submit" class="btn btn-primary">Add webhook</button></div>
    </form>
  </section>
</section>`,
    });
  });

  app.post(route, async (request, reply) => {
    const s = await resolve(request);
    const hook = await deps.hooks.create(s.scope, asFormError(() => hookInput(formOf(request), null)));
    // As on GitHub, a new hook is pinged, so its log shows at once whether the receiver answers.
    await deps.hooks.ping(s.scope, hook.id);
    return redirect(reply, `${s.base}/${hook.id}?done=created`);
  });

  app.get(`${route}/:hook`, async (request, reply) => {
    const s = await resolve(request);
    const hook = await found(deps, s, request);
    const log = await deps.hooks.deliveryLog(s.scope, hook.id, LOG_SIZE);
    const base = `${s.base}/${hook.id}`;
    return sendPage(request, reply, {
      title: `Webhook ${hook.id} · ${s.whose}`, nav: 'settings', flash: flash(request),
      body: html`<section class="hook-settings">
  <p class="breadcrumb">${s.breadcrumb} / <a href="${s.base}">webhooks</a> / ${String(hook.id)}</p>
  <h1>Webhook <code>${hook.url}</code></h1>
  <p id="hook-state">${state(hook)}</p>
  <section class="card" aria-labelledby="hook-edit">
    <h2 id="hook-edit">Settings</h2>
    <form method="post" action="${base}" class="stack">${csrfField(request)}
      ${hookFields(hook)}
      <div><button type="submit" class="btn btn-primary">Save webhook</button></div>
    </form>
    <form method="post" action="${base}/pings" class="inline-form">${csrfField(request)}<button type="submit" class="btn">Ping</button></form>
    <details class="confirm-step"><summary class="btn btn-danger">Delete webhook…</summary>
      <form method="post" action="${base}/delete">${csrfField(request)}
        <p>Its pending deliveries and its log go with it.</p>
        <button type="submit" class="btn btn-danger">Delete this webhook</button>
      </form>
    </details>
  </section>
  <section aria-labelledby="hook-log">
    <h2 id="hook-log">Recent deliveries</h2>
    ${log.length === 0 ? html`<p class="muted" id="deliveries-empty">Nothing delivered yet.</p>` : html`<ol class="delivery-log" id="deliveries">${log.map((d) => deliveryItem(request, base, d.row, d.requestHeaders))}</ol>`}
  </section>
</section>`,
    });
  });

  app.post(`${route}/:hook`, async (request, reply) => {
    const s = await resolve(request);
    const hook = await found(deps, s, request);
    await deps.hooks.update(s.scope, hook.id, asFormError(() => hookInput(formOf(request), hook)));
    return redirect(reply, `${s.base}/${hook.id}?done=saved`);
  });

  app.post(`${route}/:hook/pings`, async (request, reply) => {
    const s = await resolve(request);
    const hook = await found(deps, s, request);
    await deps.hooks.ping(s.scope, hook.id);
    return redirect(reply, `${s.base}/${hook.id}?done=pinged`);
  });

  app.post(`${route}/:hook/delete`, async (request, reply) => {
    const s = await resolve(request);
    const hook = await found(deps, s, request);
    await deps.hooks.delete(s.scope, hook.id);
    return redirect(reply, `${s.base}?done=deleted`);
  });

  app.post(`${route}/:hook/deliveries/:delivery/attempts`, async (request, reply) => {
    const s = await resolve(request);
    const hook = await found(deps, s, request);
    const delivery = paramOf(request, 'delivery');
    if (!/^\d{1,15}$/.test(delivery)) throw pageNotFound();
    await deps.hooks.redeliver(s.scope, hook.id, Number(delivery));
    return redirect(reply, `${s.base}/${hook.id}?done=redelivered`);
  });
}

async function found(deps: UiDeps, s: HookPageScope, request: FastifyRequest): Promise<Hook> {
  const raw = paramOf(request, 'hook');
  const hook = /^\d{1,15}$/.test(raw) ? await deps.hooks.get(s.scope, Number(raw)) : null;
  if (!hook) throw pageNotFound();
  return hook;
}

function state(h: Hook): Html {
  if (h.active === 1) return html`<span class="badge badge-ok">active</span>`;
  return h.disabledReason === null
    ? html`<span class="badge">inactive</span>`
    : html`<span class="badge badge-warn">disabled by Berth</span> <span class="muted">${h.disabledReason}</span>`;
}

/** The URL, secret, events and active fields; `hook` fills them for editing (the secret is never shown back). */
function hookFields(hook: Hook | null): Html {
  const events = hook ? JSON.parse(hook.events) as string[] : ['*'];
  return html`<label for="hook-url">Payload URL</label>
      <input type="url" id="hook-url" name="url" required value="${hook?.url ?? ''}" placeholder="https://ci.example.com/berth-events" autocomplete="off" spellcheck="false">
      <label for="hook-secret">Secret</label>
      <input type="password" id="hook-secret" name="secret" autocomplete="new-password" aria-describedby="hook-secret-help">
      <span class="hint" id="hook-secret-help">${hook?.hasSecret
        ? 'A secret is set; leave this empty to keep it.'
        : 'Receivers check X-Hub-Signature-256 (HMAC-SHA256 of the body) with it.'}</span>
      ${hook?.hasSecret ? html`<label class="check"><input type="checkbox" name="remove_secret" value="1"> Remove the secret</label>` : ''}
      <fieldset><legend>Events</legend>
        ${HOOK_EVENTS.map((e) => html`<label class="check"><input type="checkbox" name="events" value="${e}"${events.includes(e) ? html` checked` : ''}> ${EVENT_LABELS[e]}</label>`)}
      </fieldset>
      <label class="check"><input type="checkbox" name="active" value="1"${!hook || hook.active === 1 ? html` checked` : ''}> Active</label>`;
}

/** The form as HookService input; an empty secret on an existing hook keeps the one it has. */
function hookInput(form: URLSearchParams, hook: Hook | null): HookInput {
  const events = form.getAll('events');
  if (events.length === 0) throw formInvalid('Choose at least one event.');
  const secret = form.get('secret') ?? '';
  const removeSecret = form.get('remove_secret') === '1';
  return {
    url: (form.get('url') ?? '').trim(),
    events,
    active: form.get('active') === '1',
    ...(removeSecret ? { secret: null } : secret !== '' ? { secret } : hook === null ? { secret: null } : {}),
  };
}

function deliveryItem(request: FastifyRequest, base: string, d: DeliveryRow, headers: Record<string, string>): Html {
  const response = d.response === null ? null : JSON.parse(d.response) as { message: string; body: string };
  const outcome = d.status === 'delivered' ? 'delivered' : d.status === 'failed' ? 'failed' : d.attempts === 0 ? 'pending' : 'retrying';
  return html`<li class="delivery" data-guid="${d.guid}" data-status="${outcome}">
      <details>
        <summary><span class="badge${outcome === 'delivered' ? ' badge-ok' : outcome === 'pending' ? '' : ' badge-warn'}">${outcome}</span>
          <code>${d.event}${d.action ? `.${d.action}` : ''}</code> <code class="guid">${d.guid}</code>
          ${d.statusCode !== null ? html`HTTP ${String(d.statusCode)}` : ''} · ${formatDate(d.createdAt)}${d.redelivery === 1 ? ' · redelivery' : ''}</summary>
        <dl class="delivery-facts">
          <dt>Attempts</dt><dd class="attempts">${String(d.attempts)}</dd>
          <dt>Duration</dt><dd>${d.durationMs === null ? '–' : `${d.durationMs} ms`}</dd>
          <dt>Result</dt><dd class="result">${response?.message ?? 'not sent yet'}</dd>
        </dl>
        <h3>Request</h3>
        <pre class="request-headers">${Object.entries(headers).map(([k, v]) => `${k}: ${v}\n`).join('')}</pre>
        <pre class="request-body">${JSON.stringify(JSON.parse(d.payload), null, 2)}</pre>
        <h3>Response</h3>
        <p>${d.statusCode === null ? 'No response.' : html`Status <span class="response-status">${String(d.statusCode)}</span>`}</p>
        ${response && response.body !== '' ? html`<pre class="response-body">${response.body}</pre>` : ''}
        <form method="post" action="${base}/deliveries/${String(d.id)}/attempts">${csrfField(request)}
          <button type="submit" class="btn btn-small">Redeliver</button>
        </form>
      </details>
    </li>`;
}
