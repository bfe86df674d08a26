import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../../../accounts/account-service.js';
import type { Role, Visibility } from '../../../auth/permissions.js';
import type { PackageAccess } from '../../../packages/package-service.js';
import { isBerthError, type BerthError } from '../../../util/errors.js';
import { visibilityBadge } from '../components.js';
import { README_MAX_CHARS } from '../../../packages/package-settings.js';
import { formatCount, formatDate } from '../format.js';
import { html, safeUrl, type Html } from '../html.js';
import { registerHookPages } from '../hook-pages.js';
import { lifecycleSection, registerLifecycleForms, type LifecyclePageScope } from '../lifecycle-forms.js';
import { isPackageAdmin, OWNER_KINDS, ownerOf, readablePackage, type OwnerKind } from '../package-context.js';
import { csrfField, formOf, paramOf, queryOf, redirect, requireAccount, sendPage, viewerOf, type UiDeps } from '../ui-context.js';
import { forbiddenPage, formInvalid, pageNotFound } from '../ui-errors.js';
import { ownerPackagesUrl, packageSettingsUrl, packageUrl } from '../urls.js';

const VISIBILITIES: readonly { value: Visibility; help: string }[] = [
  { value: 'public', help: 'Anyone, signed in or not, can pull this package.' },
  { value: 'private', help: 'Only people and teams given access (and the owners) can pull it.' },
  { value: 'internal', help: 'Every member of the organization (for a user\'s package: every signed-in user of this Berth) can pull it.' },
];
const ROLES: readonly Role[] = ['read', 'write', 'admin'];
const DONE: Record<string, string> = {
  visibility: 'Visibility changed.',
  granted: 'Access updated.',
  removed: 'Access removed.',
  lifecycle: 'Lifecycle rules saved.',
  source: 'Source link saved.',
  readme: 'README saved.',
};

/**
 * Package settings for the package's admins (GitHub "Package settings"): visibility, manage access (users and
 * teams with read/write/admin), the source link ("Connect repository") and README, delete with the package name
 * typed as confirmation, and restore.
 * Every change is a plain form POST followed by a redirect.
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  for (const { kind, prefix } of OWNER_KINDS) {
    const base = `${prefix}/packages/container/:name/settings`;
    app.get(base, (request, reply) => showSettings(deps, request, reply, kind));
    app.post(`${base}/visibility`, (request, reply) => changeVisibility(deps, request, reply, kind));
    app.post(`${base}/access`, (request, reply) => grantAccess(deps, request, reply, kind));
    app.post(`${base}/access/remove`, (request, reply) => removeAccess(deps, request, reply, kind));
    app.post(`${base}/source`, (request, reply) => setSource(deps, request, reply, kind));
    app.post(`${base}/readme`, (request, reply) => setReadme(deps, request, reply, kind));
    app.post(`${base}/delete`, (request, reply) => deletePackage(deps, request, reply, kind));
    app.post(`${base}/restore`, (request, reply) => restorePackage(deps, request, reply, kind));
    registerLifecycleForms(app, deps, base, async (request) => lifecycleScope(await readablePackage(deps, request, kind)));
    // The package's webhooks: managed, as over REST, by who administers its namespace.
    registerHookPages(app, deps, `${base}/hooks`, async (request) => {
      const actor = requireAccount(request);
      const { owner, access } = await readablePackage(deps, request, kind);
      if (!(await deps.policy.administers(actor, owner))) throw forbiddenPage(`Only admins of ${owner.login} manage a package's webhooks.`);
      const pkg = access.package;
      return {
        scope: { kind: 'package', ownerId: owner.id, repositoryId: pkg.id }, base: `${packageSettingsUrl(owner, pkg.name)}/hooks`, whose: pkg.repository,
        breadcrumb: html`<a href="${ownerPackagesUrl(owner)}">${owner.login}</a> / <a href="${packageUrl(owner, pkg.name)}">${pkg.name}</a> / <a href="${packageSettingsUrl(owner, pkg.name)}">settings</a>`,
      };
    });
  }
}

/** The live package, administered by the viewer: otherwise 404 (cannot see it) or 403 (can see, not admin). */
async function administered(deps: UiDeps, request: FastifyRequest, kind: OwnerKind): Promise<{ owner: Account; access: PackageAccess }> {
  requireAccount(request);
  const found = await readablePackage(deps, request, kind);
  if (!isPackageAdmin(found.access)) throw forbiddenPage('You must be an admin of this package to change its settings.');
  return found;
}

async function showSettings(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind, error?: BerthError) {
  requireAccount(request);
  const owner = await ownerOf(deps, request, kind);
  const subject = viewerOf(request).subject;
  const live = await deps.packages.find(owner, paramOf(request, 'name'), subject);
  if (!live) return showRestore(deps, request, reply, owner);
  const { access } = await administered(deps, request, kind);
  const pkg = access.package;
  const grants = await deps.settings.grants(pkg.repository);
  const done = DONE[queryOf(request, 'done') ?? ''];
  const action = (path: string) => `${packageSettingsUrl(owner, pkg.name)}${path}`;
  const body = html`<div class="page-head"><div>
  <p class="breadcrumb"><a href="${ownerPackagesUrl(owner)}">${owner.login}</a> / <a href="${packageUrl(owner, pkg.name)}">${pkg.name}</a></p>
  <h1>Package settings</h1></div></div>

<section class="card" aria-labelledby="visibility-h">
  <h2 id="visibility-h">Visibility ${visibilityBadge(pkg.visibility)}</h2>
  <form method="post" action="${action('/visibility')}">${csrfField(request)}
    <fieldset><legend>Who can pull ${pkg.name}</legend>
    ${VISIBILITIES.map((v) => html`<label class="check"><input type="radio" name="visibility" value="${v.value}"${v.value === pkg.visibility ? html` checked` : null}>
      <span><strong>${v.value[0]!.toUpperCase()}${v.value.slice(1)}</strong><br><span class="hint">${v.help}</span></span></label>`)}
    </fieldset>
    <button type="submit" class="btn">Change visibility</button>
  </form>
</section>

<section class="card" aria-labelledby="access-h">
  <h2 id="access-h">Manage access</h2>
  <p class="muted">Owners${owner.type === 'org' ? ' of the organization' : ''} are admins of every package. Roles: <strong>read</strong> pulls, <strong>write</strong> also pushes, <strong>admin</strong> also changes these settings and deletes.</p>
  ${grants.length === 0 ? html`<p class="muted">Nobody else has been given access.</p>` : html`<div class="table-wrap"><table class="table">
  <thead><tr><th scope="col">Who</th><th scope="col">Role</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
  <tbody>${grants.map((g) => html`<tr>
    <td>${g.type === 'team' ? html`<span class="badge">team</span> ${owner.login}/${g.name}` : g.name}</td>
    <td><form method="post" action="${action('/access')}" class="form-row">${csrfField(request)}
      <input type="hidden" name="principal_type" value="${g.type}"><input type="hidden" name="principal" value="${g.name}">
      <label class="visually-hidden" for="role-${g.type}-${g.id}">Role of ${g.name}</label>
      <select id="role-${g.type}-${g.id}" name="role">${roleOptions(g.role)}</select>
      <button type="submit" class="btn btn-small">Change role</button></form></td>
    <td><form method="post" action="${action('/access/remove')}" class="inline-form">${csrfField(request)}
      <input type="hidden" name="principal_type" value="${g.type}"><input type="hidden" name="principal_id" value="${g.id}">
      <button type="submit" class="btn btn-small btn-danger" aria-label="Remove ${g.name}">Remove</button></form></td>
  </tr>`)}</tbody></table></div>`}
  <h3>Add people${owner.type === 'org' ? ' or teams' : ''}</h3>
  <form method="post" action="${action('/access')}" class="form-row">${csrfField(request)}
    <div><label for="principal_type">Kind</label>
      <select id="principal_type" name="principal_type"><option value="user">User</option>${owner.type === 'org' ? html`<option value="team">Team</option>` : null}</select></div>
    <div><label for="principal">${owner.type === 'org' ? 'Username or team name' : 'Username'}</label>
      <input id="principal" name="principal" type="text" required autocapitalize="none" spellcheck="false"></div>
    <div><label for="role">Role</label><select id="role" name="role">${roleOptions('read')}</select></div>
    <div><button type="submit" class="btn">Add</button></div>
  </form>
</section>

<section class="card" aria-labelledby="source-h">
  <h2 id="source-h">Connect repository</h2>
  ${pkg.sourceUrl
    ? html`<p>Linked to <a href="${safeUrl(pkg.sourceUrl)}" rel="noopener noreferrer nofollow">${pkg.sourceUrl}</a>.</p>`
    : html`<p class="muted">Not linked to a source repository.</p>`}
  <form method="post" action="${action('/source')}" class="stack">${csrfField(request)}
    <label for="source-url">Source repository URL</label>
    <p class="hint" id="source-hint">An http:// or https:// address, e.g. https://github.com/${owner.login.toLowerCase()}/${pkg.name}. Leave it empty to unlink. Without one, the first push whose image carries the <code>org.opencontainers.image.source</code> label or annotation links it (as on ghcr.io).</p>
    <input id="source-url" name="source_url" type="url" class="url-field" value="${pkg.sourceUrl ?? ''}" maxlength="2048" autocapitalize="none" spellcheck="false" aria-describedby="source-hint">
    <div><button type="submit" class="btn">Save source link</button></div>
  </form>
</section>

<section class="card" aria-labelledby="readme-h">
  <h2 id="readme-h">README</h2>
  <form method="post" action="${action('/readme')}" class="stack">${csrfField(request)}
    <label for="readme">README (Markdown)</label>
    <p class="hint" id="readme-hint">Shown on the package page. Headings, lists, code, emphasis and http(s) links; HTML is shown as text. Empty: the image's <code>org.opencontainers.image.description</code> is shown instead. At most ${formatCount(README_MAX_CHARS)} characters.</p>
    <textarea id="readme" name="readme" class="readme-field" rows="14" maxlength="${README_MAX_CHARS}" aria-describedby="readme-hint">${pkg.readme ?? ''}</textarea>
    <div><button type="submit" class="btn">Save README</button></div>
  </form>
</section>

${await lifecycleSection(deps, request, lifecycleScope({ owner, access }))}

${await deps.policy.administers(requireAccount(request), owner) ? html`<section class="card" aria-labelledby="hooks-h">
  <h2 id="hooks-h">Webhooks</h2>
  <p>Events of this package only, posted to URLs you choose: <a href="${action('/hooks')}">manage webhooks</a>.</p>
</section>` : ''}

<section class="danger-zone" aria-labelledby="danger-h">
  <h2 id="danger-h">Danger zone</h2>
  <p>Deleting <strong>${pkg.name}</strong> removes it and all its versions from the registry at once. It can be restored for a while afterwards; then it is gone for good.</p>
  <form method="post" action="${action('/delete')}" class="stack">${csrfField(request)}
    <label for="confirm-delete">Type <strong>${pkg.name}</strong> to confirm</label>
    <input id="confirm-delete" name="confirm" type="text" required autocomplete="off" autocapitalize="none" spellcheck="false" data-confirm="${pkg.name}">
    <div><button type="submit" class="btn btn-danger">Delete this package</button></div>
  </form>
</section>`;
  return sendPage(request, reply, {
    title: `${pkg.name} settings`, nav: 'packages', status: error?.status ?? 200, body,
    flash: error ? { kind: 'error', message: error.message } : done ? { kind: 'success', message: done } : null,
  });
}

/** A deleted package the viewer may restore (the settings URL of a deleted package), or 404. */
async function showRestore(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, owner: Account, error?: BerthError) {
  const deleted = await deps.packages.findDeleted(owner, paramOf(request, 'name'), viewerOf(request).subject);
  if (!deleted?.operations.has('read')) throw pageNotFound();
  if (!deleted.operations.has('restore')) throw forbiddenPage('You must be an admin of this package to restore it.');
  const pkg = deleted.package;
  return sendPage(request, reply, {
    title: `Restore ${pkg.name}`, nav: 'packages', status: error?.status ?? 200,
    flash: error ? { kind: 'error', message: error.message } : null,
    body: html`<p class="breadcrumb"><a href="${ownerPackagesUrl(owner)}">${owner.login}</a> / ${pkg.name}</p>
<h1>Restore ${pkg.name}</h1>
<p>This package was deleted ${pkg.deletedAt === null ? '' : formatDate(pkg.deletedAt)}. Restoring it brings back its versions and tags.</p>
<form method="post" action="${packageSettingsUrl(owner, pkg.name)}/restore" class="card">${csrfField(request)}
  <button type="submit" class="btn btn-primary">Restore this package</button>
</form>
<p><a href="${ownerPackagesUrl(owner)}?tab=deleted">All deleted packages of ${owner.login}</a></p>`,
  });
}

function lifecycleScope({ owner, access }: { owner: Account; access: PackageAccess }): LifecyclePageScope {
  const pkg = access.package;
  return { owner, scope: { ownerId: owner.id, repositoryId: pkg.id }, label: pkg.repository, settingsUrl: packageSettingsUrl(owner, pkg.name) };
}

function roleOptions(selected: Role): Html[] {
  return ROLES.map((r) => html`<option value="${r}"${r === selected ? html` selected` : null}>${r}</option>`);
}

async function changeVisibility(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind) {
  const { owner, access } = await administered(deps, request, kind);
  const account = requireAccount(request);
  const orgPolicy = await deps.policy.visibilityLimitedByOrg(account, owner);
  return applyChange(deps, request, reply, kind, async () => {
    await deps.settings.setVisibility(access.package.repository, formOf(request).get('visibility') ?? '', { orgPolicy });
    return `${packageSettingsUrl(owner, access.package.name)}?done=visibility`;
  });
}

async function grantAccess(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind) {
  const { owner, access } = await administered(deps, request, kind);
  const form = formOf(request);
  return applyChange(deps, request, reply, kind, async () => {
    const who = (form.get('principal') ?? '').trim();
    const type = form.get('principal_type');
    if (who === '') throw formInvalid('Name a user or a team.');
    let principal: { type: 'user' | 'team'; id: number };
    if (type === 'team' && owner.type === 'org') {
      principal = { type: 'team', id: await notFoundAsInvalid(() => deps.accounts.teamId(owner.login, who.replace(new RegExp(`^${owner.login}/`, 'i'), '')), `${owner.login} has no team "${who}".`) };
    } else if (type === 'user') {
      principal = { type: 'user', id: (await notFoundAsInvalid(() => deps.accounts.getUser(who), `There is no user "${who}".`)).id };
    } else {
      throw formInvalid('Choose a user or a team.');
    }
    await deps.settings.grant(access.package.repository, principal, form.get('role') ?? '');
    return `${packageSettingsUrl(owner, access.package.name)}?done=granted`;
  });
}

async function removeAccess(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind) {
  const { owner, access } = await administered(deps, request, kind);
  const form = formOf(request);
  return applyChange(deps, request, reply, kind, async () => {
    const type = form.get('principal_type');
    const id = form.get('principal_id') ?? '';
    if ((type !== 'user' && type !== 'team') || !/^\d{1,15}$/.test(id)) throw formInvalid('Choose whose access to remove.');
    await deps.settings.revoke(access.package.repository, { type, id: Number(id) });
    return `${packageSettingsUrl(owner, access.package.name)}?done=removed`;
  });
}

async function setSource(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind) {
  const { owner, access } = await administered(deps, request, kind);
  return applyChange(deps, request, reply, kind, async () => {
    await deps.settings.setSource(access.package.repository, formOf(request).get('source_url') ?? '');
    return `${packageSettingsUrl(owner, access.package.name)}?done=source`;
  });
}

async function setReadme(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind) {
  const { owner, access } = await administered(deps, request, kind);
  return applyChange(deps, request, reply, kind, async () => {
    await deps.settings.setReadme(access.package.repository, formOf(request).get('readme') ?? '');
    return `${packageSettingsUrl(owner, access.package.name)}?done=readme`;
  });
}

async function deletePackage(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind) {
  const { owner, access } = await administered(deps, request, kind);
  const pkg = access.package;
  return applyChange(deps, request, reply, kind, async () => {
    if ((formOf(request).get('confirm') ?? '').trim() !== pkg.name) throw formInvalid(`Type the package name (${pkg.name}) to confirm the deletion.`);
    await deps.packages.delete(pkg);
    return `${ownerPackagesUrl(owner)}?deleted=${encodeURIComponent(pkg.name)}`;
  });
}

async function restorePackage(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind) {
  requireAccount(request);
  const owner = await ownerOf(deps, request, kind);
  const deleted = await deps.packages.findDeleted(owner, paramOf(request, 'name'), viewerOf(request).subject);
  if (!deleted?.operations.has('read')) throw pageNotFound();
  if (!deleted.operations.has('restore')) throw forbiddenPage('You must be an admin of this package to restore it.');
  const pkg = deleted.package;
  // No typed confirmation: a restore destroys nothing (the package can be deleted again), unlike a delete.
  try {
    await deps.packages.restore(pkg);
  } catch (err) {
    if (isBerthError(err) && err.status < 500) return showRestore(deps, request, reply, owner, err);
    throw err;
  }
  return redirect(reply, `${packageUrl(owner, pkg.name)}`);
}

/**
 * Runs a settings change and redirects (POST → 303 → GET); a refusal the user can fix (422, 400, 409) shows the
 * settings page again with the reason.
 */
async function applyChange(deps: UiDeps, request: FastifyRequest, reply: FastifyReply, kind: OwnerKind, change: () => Promise<string>) {
  try {
    return redirect(reply, await change());
  } catch (err) {
    if (isBerthError(err) && err.status >= 400 && err.status < 500 && err.status !== 404 && err.status !== 403) {
      return showSettings(deps, request, reply, kind, err);
    }
    throw err;
  }
}

async function notFoundAsInvalid<T>(lookup: () => Promise<T>, message: string): Promise<T> {
  try {
    return await lookup();
  } catch (err) {
    if (isBerthError(err) && err.status === 404) throw formInvalid(message);
    throw err;
  }
}
