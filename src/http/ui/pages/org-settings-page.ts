import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../../../accounts/account-service.js';
import type { BotInfo } from '../../../accounts/bot-service.js';
import { ACTIONS } from '../../../auth/actions.js';
import { botLogin, checkBotName, parseBot } from '../../../auth/bot-grant.js';
import { copyBox } from '../components.js';
import { formatDate, timeAgo } from '../format.js';
import { html, type Html } from '../html.js';
import { lifecycleSection, registerLifecycleForms, type LifecyclePageScope } from '../lifecycle-forms.js';
import type { Flash } from '../layout.js';
import { assetUrl } from '../static-assets.js';
import { registerHookPages } from '../hook-pages.js';
import { registerTrustForms, trustSection } from '../trust-forms.js';
import { csrfField, formOf, paramOf, queryOf, redirect, registryHost, requireAccount, sendPage, type UiDeps } from '../ui-context.js';
import { asFormError, formInvalid, pageNotFound } from '../ui-errors.js';

type Visibility = 'public' | 'private' | 'internal';
const VISIBILITIES: readonly Visibility[] = ['private', 'internal', 'public'];
const VISIBILITY_HELP: Record<Visibility, string> = {
  private: 'only people and teams given a role',
  internal: 'every member of the organization',
  public: 'anyone, without signing in',
};

/** What a redirect after a change says; fixed texts, so nothing from the query string is echoed as a message. */
const DONE: Record<string, string> = {
  'member-added': 'Member saved.',
  'member-removed': 'Member removed, with their teams and their roles on the organization\'s packages.',
  'team-created': 'Team created.',
  'team-member-added': 'Added to the team.',
  'team-member-removed': 'Removed from the team.',
  'team-deleted': 'Team deleted.',
  policy: 'Package policy saved.',
  lifecycle: 'Lifecycle rules saved.',
  trust: 'Trust policies saved.',
  'bot-revoked': 'Bot revoked: its token no longer works anywhere.',
};

/**
 * `/orgs/{org}/settings`: an organization's owners manage members and their roles, teams, the package-creation
 * policy, lifecycle rules, trust policies and bot accounts (the operations of `berth org`, `berth team`, `berth trust`
 * and `berth bot`). Instance admins may too. Anyone else gets the same 404 as for an organization that does not exist. Every change is a plain form POST with the session's CSRF token,
 * answered by a redirect back to the page (303), so it all works without JavaScript.
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  /** The organization, when the signed-in user may administer it. */
  const administered = async (request: FastifyRequest): Promise<{ org: Account; actor: Account }> => {
    const actor = requireAccount(request);
    const org = await deps.accounts.find(paramOf(request, 'org'));
    if (!org || org.type !== 'org') throw pageNotFound();
    if (!(await deps.policy.administers(actor, org))) throw pageNotFound();
    return { org, actor };
  };
  const back = (org: Account, done: keyof typeof DONE, anchor: string): string => `/orgs/${encodeURIComponent(org.login)}/settings?done=${done}#${anchor}`;

  app.get('/orgs/:org/settings', async (request, reply) => {
    const { org } = await administered(request);
    const [members, teams, policy, bots] = await Promise.all([
      deps.accounts.members(org.login), deps.accounts.teams(org.login), deps.accounts.orgPolicy(org.login), deps.bots.list(org.id),
    ]);
    const done = DONE[queryOf(request, 'done') ?? ''];
    const flash: Flash | null = done ? { kind: 'success', message: done } : null;
    return sendPage(request, reply, {
      title: `Settings · ${org.login}`, nav: 'settings', flash,
      body: html`<link rel="stylesheet" href="${assetUrl('usage.css')}">
<section class="org-settings">
  <p class="breadcrumb"><a href="/orgs/${org.login}/packages">${org.login}</a> / settings</p>
  <h1>Organization settings</h1>
  <nav class="subnav" aria-label="Sections"><a href="#members">Members</a> · <a href="#teams">Teams</a> · <a href="#policy">Package policy</a> · <a href="#lifecycle">Lifecycle</a> · <a href="#trust">Trusted publishing</a> · <a href="#bots">Bots</a> · <a href="/orgs/${org.login}/settings/hooks">Webhooks</a> · <a href="/orgs/${org.login}/usage">Usage</a> · <a href="/orgs/${org.login}/audit-log">Audit log</a></nav>
  ${membersSection(request, org, members)}
  ${teamsSection(request, org, members, teams)}
  ${policySection(request, org, policy)}
  ${await lifecycleSection(deps, request, lifecycleScope(org))}
  ${await trustSection(deps, request, org)}
  ${botsSection(request, org, bots, deps.clock.now())}
</section>`,
    });
  });

  // Adds a member, or changes a member's role. An organization keeps at least one owner (the service refuses).
  app.post('/orgs/:org/settings/members', async (request, reply) => {
    const { org, actor } = await administered(request);
    const form = formOf(request);
    const login = (form.get('login') ?? '').trim();
    const role = form.get('role');
    if (role !== 'owner' && role !== 'member') throw formInvalid('Choose the role "owner" or "member".');
    const user = await deps.accounts.find(login);
    if (!user || user.type !== 'user') throw formInvalid(`There is no user named "${login}".`);
    await deps.accounts.addMember(org.login, user.login, role);
    return redirect(reply, await deps.policy.administers(actor, org) ? back(org, 'member-added', 'members') : `/orgs/${org.login}/packages`);
  });

  app.post('/orgs/:org/settings/members/remove', async (request, reply) => {
    const { org, actor } = await administered(request);
    const login = (formOf(request).get('login') ?? '').trim();
    const members = await deps.accounts.members(org.login);
    const member = members.find((m) => m.login.toLowerCase() === login.toLowerCase());
    if (!member) throw formInvalid(`${login} is not a member of ${org.login}.`);
    // Their teams and their roles on the organization's packages go with the membership (the service decides).
    await deps.accounts.removeMember(org.login, member.login);
    return redirect(reply, await deps.policy.administers(actor, org) ? back(org, 'member-removed', 'members') : `/orgs/${org.login}/packages`);
  });

  app.post('/orgs/:org/settings/teams', async (request, reply) => {
    const { org } = await administered(request);
    const name = (formOf(request).get('name') ?? '').trim();
    if ((await deps.accounts.teams(org.login)).some((t) => t.name.toLowerCase() === name.toLowerCase())) {
      throw formInvalid(`${org.login} already has a team named "${name}".`);
    }
    await deps.accounts.createTeam(org.login, name);
    return redirect(reply, back(org, 'team-created', 'teams'));
  });

  app.post('/orgs/:org/settings/teams/members', async (request, reply) => {
    const { org } = await administered(request);
    const form = formOf(request);
    await deps.accounts.addTeamMember(org.login, form.get('team') ?? '', (form.get('login') ?? '').trim());
    return redirect(reply, back(org, 'team-member-added', 'teams'));
  });

  app.post('/orgs/:org/settings/teams/members/remove', async (request, reply) => {
    const { org } = await administered(request);
    const form = formOf(request);
    await deps.accounts.removeTeamMember(org.login, form.get('team') ?? '', form.get('login') ?? '');
    return redirect(reply, back(org, 'team-member-removed', 'teams'));
  });

  app.post('/orgs/:org/settings/teams/delete', async (request, reply) => {
    const { org } = await administered(request);
    const form = formOf(request);
    const team = form.get('team') ?? '';
    if ((form.get('confirm') ?? '').trim() !== team) throw formInvalid(`Type the team's name (${team}) to confirm deleting it.`);
    await deps.accounts.deleteTeam(org.login, team);
    return redirect(reply, back(org, 'team-deleted', 'teams'));
  });

  registerLifecycleForms(app, deps, '/orgs/:org/settings', async (request) => {
    const org = await deps.accounts.find(paramOf(request, 'org'));
    if (!org || org.type !== 'org') throw pageNotFound();
    return lifecycleScope(org);
  });

  registerTrustForms(app, deps, administered, (org) => back(org, 'trust', 'trust'));

  registerHookPages(app, deps, '/orgs/:org/settings/hooks', async (request) => {
    const { org } = await administered(request);
    const login = encodeURIComponent(org.login);
    return {
      scope: { kind: 'org', ownerId: org.id }, base: `/orgs/${login}/settings/hooks`, whose: org.login,
      breadcrumb: html`<a href="/orgs/${login}/packages">${org.login}</a> / <a href="/orgs/${login}/settings">settings</a>`,
    };
  });

  // Bots: a new token (create, rotate) is shown once, on the page answering the POST; it is never stored to show later.
  const showToken = (request: FastifyRequest, reply: FastifyReply, org: Account, bot: BotInfo, token: string, what: string) => sendPage(request, reply, {
    title: `Settings · ${org.login}`, nav: 'settings',
    body: html`<section class="org-settings">
  <p class="breadcrumb"><a href="/orgs/${org.login}/packages">${org.login}</a> / <a href="/orgs/${org.login}/settings#bots">settings</a> / bots</p>
  <h1>Bot ${botLogin(bot)} ${what}</h1>
  <div class="warning" role="alert"><strong>Copy the bot's token now.</strong> You won't be able to see it again.</div>
  ${copyBox(token, `Token of ${botLogin(bot)}`)}
  <p>It may ${bot.actions.join(', ')} ${bot.packages.join(', ')} in ${org.login} · ${bot.expiresAt === null ? 'never expires' : html`expires ${formatDate(bot.expiresAt)}`}</p>
  <p>Use it as the password: <code>echo TOKEN | docker login ${registryHost(request, deps.publicUrl)} -u ${botLogin(bot)} --password-stdin</code></p>
  <p><a href="/orgs/${org.login}/settings#bots">Back to the organization's settings</a></p>
</section>`,
  });

  app.post('/orgs/:org/settings/bots', async (request, reply) => {
    const { org, actor } = await administered(request);
    const form = formOf(request);
    const expiresOn = (form.get('expires_on') ?? '').trim();
    const input = asFormError(() => parseBot({
      name: (form.get('name') ?? '').trim(), description: (form.get('description') ?? '').trim(),
      packages: (form.get('packages') ?? '').split(',').map((p) => p.trim()).filter((p) => p !== ''), actions: form.getAll('actions'),
      // The token works through the chosen day (UTC).
      expires_at: expiresOn === '' ? null : /^\d{4}-\d\d-\d\d$/.test(expiresOn) ? new Date(Date.parse(`${expiresOn}T00:00:00Z`) + 86_400_000).toISOString() : expiresOn,
    }, deps.clock.now()));
    const { token, bot } = await deps.bots.create(org.id, input, actor.id);
    return showToken(request, reply, org, bot, token, 'created');
  });

  app.post('/orgs/:org/settings/bots/rotate', async (request, reply) => {
    const { org } = await administered(request);
    // The new token's expiry: kept, or chosen afresh (an expired bot gets a working token only with a new one).
    const choice = formOf(request).get('expires') ?? 'keep';
    const days = Number(choice);
    if (choice !== 'keep' && choice !== 'never' && ![30, 90, 365].includes(days)) throw formInvalid('Choose the new token\'s expiry.');
    const expiresAt = choice === 'keep' ? undefined : choice === 'never' ? null : deps.clock.now() + days * 86_400_000;
    const { token, bot } = await deps.bots.rotate(org.id, botNameOf(request), expiresAt);
    return showToken(request, reply, org, bot, token, 'has a new token');
  });

  app.post('/orgs/:org/settings/bots/revoke', async (request, reply) => {
    const { org } = await administered(request);
    await deps.bots.revoke(org.id, botNameOf(request));
    return redirect(reply, back(org, 'bot-revoked', 'bots'));
  });

  app.post('/orgs/:org/settings/policy', async (request, reply) => {
    const { org } = await administered(request);
    const form = formOf(request);
    const allowed = form.getAll('allowed').filter((v) => (VISIBILITIES as readonly string[]).includes(v));
    if (allowed.length === 0) throw formInvalid('Allow at least one visibility.');
    await deps.accounts.setOrgPolicy(org.login, {
      membersCanCreate: form.get('members_can_create') === 'on',
      allowedVisibilities: allowed,
      defaultVisibility: form.get('default_visibility') ?? '',
    });
    return redirect(reply, back(org, 'policy', 'policy'));
  });
}

function lifecycleScope(org: Account): LifecyclePageScope {
  return { owner: org, scope: { ownerId: org.id, repositoryId: null }, label: org.login, settingsUrl: `/orgs/${encodeURIComponent(org.login)}/settings` };
}

type Member = { login: string; role: 'owner' | 'member' };

/** The bot a rotate or revoke form names (404 for a name no bot could have). */
function botNameOf(request: FastifyRequest): string {
  try {
    return checkBotName((formOf(request).get('name') ?? '').trim());
  } catch {
    throw pageNotFound();
  }
}

function botsSection(request: FastifyRequest, org: Account, bots: readonly BotInfo[], now: number): Html {
  const action = `/orgs/${org.login}/settings/bots`;
  return html`<section class="settings-section card" aria-labelledby="bots">
  <h2 id="bots">Bots</h2>
  <p class="muted">Bot accounts are tokens for machines (deployments, CI without OIDC): each may do some actions on some of ${org.login}'s packages, and nothing else. They are not people: they cannot sign in here.</p>
  ${bots.length === 0 ? html`<p class="empty">${org.login} has no bots.</p>` : html`<table class="table">
    <thead><tr><th scope="col">Bot</th><th scope="col">Packages</th><th scope="col">Actions</th><th scope="col">Token</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Manage</span></th></tr></thead>
    <tbody>${bots.map((b) => html`<tr data-bot="${b.name}">
      <th scope="row">${botLogin(b)}${b.description === '' ? null : html`<br><span class="muted">${b.description}</span>`}</th>
      <td>${b.packages.map((p) => html`<code>${p}</code> `)}</td>
      <td>${b.actions.join(', ')}</td>
      <td><code>${b.hint}</code></td>
      <td>${b.expiresAt === null ? 'never' : html`${b.expiresAt <= now ? 'expired ' : ''}${formatDate(b.expiresAt)}`}</td>
      <td>${b.lastUsedAt === null ? 'never' : timeAgo(b.lastUsedAt, now)}</td>
      <td><form method="post" action="${action}/rotate" class="inline-form">${csrfField(request)}
        <input type="hidden" name="name" value="${b.name}">
        <label class="visually-hidden" for="bot-rotate-${b.name}">Expiry of the new token of ${botLogin(b)}</label>
        <select id="bot-rotate-${b.name}" name="expires">
          <option value="keep" selected>${b.expiresAt === null ? 'Never expires' : 'Same expiry'}</option>
          <option value="never">Never expires</option>
          <option value="30">30 days</option>
          <option value="90">90 days</option>
          <option value="365">1 year</option>
        </select>
        <button type="submit" class="btn btn-small" aria-label="Rotate the token of ${botLogin(b)}">Rotate token</button>
      </form>
      <form method="post" action="${action}/revoke" class="inline-form">${csrfField(request)}
        <input type="hidden" name="name" value="${b.name}">
        <button type="submit" class="btn btn-small btn-danger" aria-label="Revoke ${botLogin(b)}">Revoke</button>
      </form></td>
    </tr>`)}</tbody>
  </table>`}
  <form method="post" action="${action}" class="add-form">${csrfField(request)}
    <h3>Create a bot</h3>
    <div class="form-row">
      <div><label for="bot-name">Bot name</label>
      <input type="text" id="bot-name" name="name" required autocomplete="off" spellcheck="false" maxlength="40" placeholder="deployer"></div>
      <div><label for="bot-packages">Bot packages</label>
      <input type="text" id="bot-packages" name="packages" required autocomplete="off" spellcheck="false" placeholder="api, web-*" aria-describedby="bot-packages-hint"></div>
      <div><label for="bot-expires">Expires on (empty: never)</label>
      <input type="date" id="bot-expires" name="expires_on"></div>
    </div>
    <p class="hint" id="bot-packages-hint">Package names or patterns in ${org.login}, separated by commas: <code>*</code> matches any characters.</p>
    <fieldset><legend>Actions</legend>
      ${ACTIONS.map((a) => html`<label><input type="checkbox" name="actions" value="${a}"${a === 'pull' ? html` checked` : null}> ${a}</label> `)}
    </fieldset>
    <div><label for="bot-description">Description (optional)</label>
    <input type="text" id="bot-description" name="description" maxlength="200" autocomplete="off"></div>
    <button type="submit" class="btn btn-primary">Create bot</button>
  </form>
</section>`;
}

function membersSection(request: FastifyRequest, org: Account, members: readonly Member[]): Html {
  const action = `/orgs/${org.login}/settings/members`;
  const roleSelect = (id: string, current: Member['role']): Html => html`<select id="${id}" name="role">
      <option value="member"${current === 'member' ? html` selected` : null}>Member</option>
      <option value="owner"${current === 'owner' ? html` selected` : null}>Owner</option>
    </select>`;
  return html`<section class="settings-section card" aria-labelledby="members">
  <h2 id="members">Members</h2>
  <p class="muted">Owners manage the organization and are admins of every package in it. Members may read its internal packages and create packages when the policy below allows it.</p>
  <p class="hint">Removing a member also removes them from the organization's teams and removes their roles on its packages (also on packages they created). To keep the package roles, use <code>berth org remove-member --keep-package-roles</code>.</p>
  <table class="table">
    <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col"><span class="visually-hidden">Remove</span></th></tr></thead>
    <tbody>${members.map((m, i) => html`<tr data-member="${m.login}">
      <th scope="row"><a href="/users/${m.login}/packages">${m.login}</a></th>
      <td><form method="post" action="${action}" class="inline-form">${csrfField(request)}
        <input type="hidden" name="login" value="${m.login}">
        <label class="visually-hidden" for="role-${i}">Role of ${m.login}</label>
        ${roleSelect(`role-${i}`, m.role)}
        <button type="submit" class="btn btn-small">Change role</button>
      </form></td>
      <td><form method="post" action="${action}/remove" class="inline-form">${csrfField(request)}
        <input type="hidden" name="login" value="${m.login}">
        <button type="submit" class="btn btn-small btn-danger" aria-label="Remove ${m.login} from ${org.login}">Remove</button>
      </form></td>
    </tr>`)}</tbody>
  </table>
  <form method="post" action="${action}" class="add-form">${csrfField(request)}
    <h3>Add a member</h3>
    <div class="form-row">
      <div><label for="new-member">Username</label>
      <input type="text" id="new-member" name="login" required autocomplete="off" spellcheck="false" maxlength="39"></div>
      <div><label for="new-member-role">Role</label>
      ${roleSelect('new-member-role', 'member')}</div>
      <button type="submit" class="btn btn-primary">Add member</button>
    </div>
  </form>
</section>`;
}

function teamsSection(request: FastifyRequest, org: Account, members: readonly Member[], teams: readonly { name: string; members: string[] }[]): Html {
  const action = `/orgs/${org.login}/settings/teams`;
  return html`<section class="settings-section card" aria-labelledby="teams">
  <h2 id="teams">Teams</h2>
  <p class="muted">Give a team a role on a package (package settings → Manage access) and every member of the team has it.</p>
  ${teams.length === 0 ? html`<p class="muted">No teams yet.</p>` : teams.map((t, i) => {
    const others = members.filter((m) => !t.members.some((tm) => tm.toLowerCase() === m.login.toLowerCase()));
    return html`<div class="team" data-team="${t.name}">
    <h3>${org.login}/${t.name} <span class="hint">${t.members.length} ${t.members.length === 1 ? 'member' : 'members'}</span></h3>
    ${t.members.length === 0 ? html`<p class="hint">No members.</p>` : html`<ul class="team-members">${t.members.map((login) => html`<li>
      <form method="post" action="${action}/members/remove" class="inline-form">${csrfField(request)}
        <input type="hidden" name="team" value="${t.name}"><input type="hidden" name="login" value="${login}">
        <span>${login}</span>
        <button type="submit" class="btn btn-small" aria-label="Remove ${login} from team ${t.name}">Remove</button>
      </form></li>`)}</ul>`}
    ${others.length === 0 ? null : html`<form method="post" action="${action}/members" class="inline-form">${csrfField(request)}
      <input type="hidden" name="team" value="${t.name}">
      <label class="inline-label" for="team-add-${i}">Add to ${t.name}:</label>
      <select id="team-add-${i}" name="login">${others.map((m) => html`<option value="${m.login}">${m.login}</option>`)}</select>
      <button type="submit" class="btn btn-small">Add</button>
    </form>`}
    <div class="team-delete"><form method="post" action="${action}/delete" class="inline-form">${csrfField(request)}
      <input type="hidden" name="team" value="${t.name}">
      <label class="inline-label" for="team-delete-${i}">Type <strong>${t.name}</strong> to delete the team and its package roles:</label>
      <input type="text" id="team-delete-${i}" name="confirm" required autocomplete="off" autocapitalize="none" spellcheck="false">
      <button type="submit" class="btn btn-small btn-danger">Delete team</button>
    </form></div>
  </div>`;
  })}
  <form method="post" action="${action}" class="add-form">${csrfField(request)}
    <h3>Create a team</h3>
    <div class="form-row">
      <div><label for="new-team">Team name</label>
      <input type="text" id="new-team" name="name" required autocomplete="off" spellcheck="false" maxlength="64" aria-describedby="new-team-help"></div>
      <button type="submit" class="btn btn-primary">Create team</button>
    </div>
    <p id="new-team-help" class="hint">Letters, digits, <code>.</code> <code>_</code> and <code>-</code>; at most 64.</p>
  </form>
</section>`;
}

function policySection(request: FastifyRequest, org: Account, policy: { membersCanCreate: boolean; allowedVisibilities: Visibility[]; defaultVisibility: Visibility }): Html {
  return html`<section class="settings-section card" aria-labelledby="policy">
  <h2 id="policy">Package creation</h2>
  <form method="post" action="/orgs/${org.login}/settings/policy">${csrfField(request)}
    <p><label class="check"><input type="checkbox" name="members_can_create"${policy.membersCanCreate ? html` checked` : null}>
      Members may create packages by pushing</label>
      <span class="hint">Owners always may. When off, a member's push to a new package name is denied.</span></p>
    <fieldset>
      <legend>Visibilities packages may have</legend>
      ${VISIBILITIES.map((v) => html`<p><label class="check"><input type="checkbox" name="allowed" value="${v}"${policy.allowedVisibilities.includes(v) ? html` checked` : null}>
        <strong>${v}</strong> <span class="muted">— ${VISIBILITY_HELP[v]}</span></label></p>`)}
    </fieldset>
    <p><label for="default-visibility">Visibility of a newly pushed package</label>
    <select id="default-visibility" name="default_visibility">${VISIBILITIES.map((v) => html`<option value="${v}"${policy.defaultVisibility === v ? html` selected` : null}>${v}</option>`)}</select>
    <span class="hint">Must be one of the allowed ones.</span></p>
    <p><button type="submit" class="btn btn-primary">Save policy</button></p>
  </form>
</section>`;
}
