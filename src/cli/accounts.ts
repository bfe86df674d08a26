import { Command } from 'commander';
import { parseDuration } from '../util/duration.js';
import { askPassword, printTable, readStdin, withDataOptions, withServices, type DataOptions } from './admin-context.js';
import { notFound } from '../util/errors.js';
import { parseFlag, UsageError } from './usage-error.js';

type DataOpts = DataOptions;

export function userCommand(): Command {
  const user = new Command('user').description('Manage user accounts');
  withDataOptions(user.command('create <name>'))
    .description('Create a user')
    .option('--admin', 'make the user an instance admin')
    .option('--email <email>', 'e-mail address')
    .option('--display-name <name>', 'display name')
    .option('--password-stdin', 'read a password for the web UI from standard input')
    .addHelpText('after', '\nExample:\n  echo "$PASSWORD" | berth user create alice --email alice@example.com --password-stdin')
    .action(async (name: string, opts: DataOpts & { admin?: boolean; email?: string; displayName?: string; passwordStdin?: boolean }) => {
      const password = opts.passwordStdin ? await readStdin() : undefined;
      await withServices(opts, (s) => s.accounts.createUser({
        login: name, isAdmin: opts.admin ?? false,
        ...(password ? { password } : {}), ...(opts.email ? { email: opts.email } : {}), ...(opts.displayName ? { displayName: opts.displayName } : {}),
      }));
      process.stderr.write(`created user ${name}\n`);
    });
  withDataOptions(user.command('passwd <name>'))
    .description("Set a user's web UI password (also for a user created without one); their sessions end")
    .option('--password-stdin', 'read the password from standard input instead of asking on the terminal')
    .addHelpText('after', '\nExamples:\n  berth user passwd alice\n  echo "$PASSWORD" | berth user passwd alice --password-stdin')
    .action(async (name: string, opts: DataOpts & { passwordStdin?: boolean }) => {
      const password = opts.passwordStdin ? await readStdin() : await askPassword(name);
      await withServices(opts, (s) => s.accounts.setPassword(name, password));
      process.stderr.write(`password of ${name} set; their web UI sessions were ended\n`);
    });
  withDataOptions(user.command('list')).description('List users').action(async (opts: DataOpts) => {
    const users = await withServices(opts, (s) => s.accounts.list('user'));
    printTable([['LOGIN', 'ADMIN', 'DISABLED', 'EMAIL'], ...users.map((u) => [u.login, u.isAdmin ? 'yes' : '', u.disabled ? 'yes' : '', u.email ?? ''])]);
  });
  withDataOptions(user.command('disable <name>')).description('Disable a user: their tokens stop working at once')
    .action(async (name: string, opts: DataOpts) => {
      await withServices(opts, (s) => s.accounts.setDisabled(name, true));
      process.stderr.write(`disabled ${name}\n`);
    });
  withDataOptions(user.command('enable <name>')).description('Enable a disabled user').action(async (name: string, opts: DataOpts) => {
    await withServices(opts, (s) => s.accounts.setDisabled(name, false));
    process.stderr.write(`enabled ${name}\n`);
  });
  return user;
}

export function orgCommand(): Command {
  const org = new Command('org').description('Manage organizations and their members');
  withDataOptions(org.command('create <name>')).description('Create an organization').requiredOption('--owner <user>', 'its first owner')
    .action(async (name: string, opts: DataOpts & { owner: string }) => {
      await withServices(opts, (s) => s.accounts.createOrg(name, opts.owner));
      process.stderr.write(`created organization ${name} owned by ${opts.owner}\n`);
    });
  withDataOptions(org.command('add-member <org> <user>')).description('Add (or change) a member').option('--owner', 'as an owner')
    .action(async (o: string, u: string, opts: DataOpts & { owner?: boolean }) => {
      await withServices(opts, (s) => s.accounts.addMember(o, u, opts.owner ? 'owner' : 'member'));
      process.stderr.write(`${u} is now ${opts.owner ? 'an owner' : 'a member'} of ${o}\n`);
    });
  withDataOptions(org.command('remove-member <org> <user>'))
    .description("Remove a member, from the organization's teams too, and their roles on its packages")
    .option('--keep-package-roles', "keep the user's roles on the organization's packages (they keep that access as an outside collaborator)")
    .action(async (o: string, u: string, opts: DataOpts & { keepPackageRoles?: boolean }) => {
      const removed = await withServices(opts, (s) => s.accounts.removeMember(o, u, { keepPackageRoles: opts.keepPackageRoles ?? false }));
      const roles = removed.packageRoles.map((r) => `${r.role} on ${r.package}`).join(', ');
      process.stderr.write(`removed ${u} from ${o}\n`);
      if (removed.teams.length > 0) process.stderr.write(`removed from teams: ${removed.teams.join(', ')}\n`);
      if (roles) process.stderr.write(removed.keptPackageRoles ? `kept package roles: ${roles}\n` : `removed package roles: ${roles}\n`);
      else process.stderr.write('no package roles\n');
    });
  withDataOptions(org.command('policy <org>')).description('Set who may create packages and with which visibility')
    .option('--members-can-create <yes|no>', 'may members (not only owners) create packages')
    .option('--allowed-visibilities <list>', 'comma-separated: public, private, internal')
    .option('--default-visibility <visibility>', 'visibility of a newly pushed package')
    .addHelpText('after', '\nExample:\n  berth org policy acme --members-can-create no --allowed-visibilities private,internal --default-visibility internal')
    .action(async (o: string, opts: DataOpts & { membersCanCreate?: string; allowedVisibilities?: string; defaultVisibility?: string }) => {
      await withServices(opts, (s) => s.accounts.setOrgPolicy(o, {
        ...(opts.membersCanCreate === undefined ? {} : { membersCanCreate: /^(yes|true|1)$/i.test(opts.membersCanCreate) }),
        ...(opts.allowedVisibilities === undefined ? {} : { allowedVisibilities: opts.allowedVisibilities.split(',').map((v) => v.trim()) }),
        ...(opts.defaultVisibility === undefined ? {} : { defaultVisibility: opts.defaultVisibility }),
      }));
      process.stderr.write(`updated the package policy of ${o}\n`);
    });
  withDataOptions(org.command('list')).description('List organizations').action(async (opts: DataOpts) => {
    const orgs = await withServices(opts, (s) => s.accounts.list('org'));
    printTable([['LOGIN'], ...orgs.map((o) => [o.login])]);
  });
  withDataOptions(org.command('members <org>')).description('List members').action(async (o: string, opts: DataOpts) => {
    const members = await withServices(opts, (s) => s.accounts.members(o));
    printTable([['LOGIN', 'ROLE'], ...members.map((m) => [m.login, m.role])]);
  });
  return org;
}

export function teamCommand(): Command {
  const team = new Command('team').description('Manage teams inside organizations');
  withDataOptions(team.command('create <org> <team>')).description('Create a team').action(async (o: string, t: string, opts: DataOpts) => {
    await withServices(opts, (s) => s.accounts.createTeam(o, t));
    process.stderr.write(`created team ${o}/${t}\n`);
  });
  withDataOptions(team.command('add-member <org> <team> <user>')).description('Add an organization member to a team')
    .action(async (o: string, t: string, u: string, opts: DataOpts) => {
      await withServices(opts, (s) => s.accounts.addTeamMember(o, t, u));
      process.stderr.write(`added ${u} to ${o}/${t}\n`);
    });
  withDataOptions(team.command('remove-member <org> <team> <user>')).description('Remove a user from a team')
    .action(async (o: string, t: string, u: string, opts: DataOpts) => {
      await withServices(opts, (s) => s.accounts.removeTeamMember(o, t, u));
      process.stderr.write(`removed ${u} from ${o}/${t}\n`);
    });
  withDataOptions(team.command('delete <org> <team>')).description("Delete a team (its members keep their organization membership; the team's package roles go)")
    .action(async (o: string, t: string, opts: DataOpts) => {
      await withServices(opts, (s) => s.accounts.deleteTeam(o, t));
      process.stderr.write(`deleted team ${o}/${t}\n`);
    });
  withDataOptions(team.command('list <org>')).description('List teams and their members').action(async (o: string, opts: DataOpts) => {
    const teams = await withServices(opts, (s) => s.accounts.teams(o));
    printTable([['TEAM', 'MEMBERS'], ...teams.map((t) => [t.name, t.members.join(',')])]);
  });
  return team;
}

export function tokenCommand(): Command {
  const token = new Command('token').description('Manage personal access tokens');
  withDataOptions(token.command('create'))
    .description('Create a token and print only the token on stdout')
    .requiredOption('--user <name>', 'owner of the token')
    .requiredOption('--scopes <list>', 'comma-separated: read:packages, write:packages (implies read), delete:packages')
    .option('--expires <when>', '7d, 30d, 60d, 90d, any duration, a date (YYYY-MM-DD), or never', '30d')
    .option('--note <text>', 'what the token is for', 'created with the berth CLI')
    .option('--ci-package <name>', 'a short-lived CI token limited to this package (expires within 24h); it pulls and pushes only')
    .option('--allow-delete', 'with --ci-package: the CI token may also delete and restore versions (adds delete:packages)')
    .addHelpText('after', '\nExamples:\n  TOKEN=$(berth token create --user alice --scopes read:packages,write:packages --expires 90d --note "CI")\n'
      + '  berth token create --user ci-bot --scopes write:packages --ci-package acme/api --expires 1h')
    .action(async (opts: DataOpts & { user: string; scopes: string; expires: string; note: string; ciPackage?: string; allowDelete?: boolean }) => {
      if (opts.allowDelete && !opts.ciPackage) throw new UsageError('--allow-delete is for CI tokens (--ci-package); give a personal token delete:packages in --scopes');
      const expiresAt = parseFlag('--expires', () => parseExpiry(opts.expires));
      const scopes = opts.scopes.split(',').map((x) => x.trim()).filter(Boolean);
      if (opts.allowDelete && !scopes.includes('delete:packages')) scopes.push('delete:packages');
      if (expiresAt === null) process.stderr.write('warning: this token never expires; prefer an expiry and rotate it\n');
      const created = await withServices(opts, async (s) => {
        const user = await s.accounts.getUser(opts.user);
        return s.tokens.create({
          userId: user.id, note: opts.note, scopes, expiresAt,
          ...(opts.ciPackage ? { kind: 'ci' as const, repositoryLimit: opts.ciPackage, allowDelete: opts.allowDelete ?? false } : {}),
        });
      });
      process.stdout.write(`${created.token}\n`);
    });
  withDataOptions(token.command('list')).description("List a user's active tokens").requiredOption('--user <name>', 'owner')
    .action(async (opts: DataOpts & { user: string }) => {
      const list = await withServices(opts, async (s) => s.tokens.list((await s.accounts.getUser(opts.user)).id));
      const date = (ms: number | null): string => (ms === null ? 'never' : new Date(ms).toISOString().slice(0, 16).replace('T', ' '));
      printTable([['ID', 'TOKEN', 'NOTE', 'SCOPES', 'EXPIRES', 'LAST USED'],
        ...list.map((t) => [String(t.id), t.hint, t.note, t.scopes.join(','), date(t.expiresAt), t.lastUsedAt ? date(t.lastUsedAt) : '-'])]);
    });
  withDataOptions(token.command('revoke <id>')).description('Revoke a token').requiredOption('--user <name>', 'owner')
    .action(async (id: string, opts: DataOpts & { user: string }) => {
      if (!/^\d+$/.test(id)) throw new UsageError(`"${id}" is not a token id: use the number in the ID column of \`berth token list\``);
      await withServices(opts, async (s) => s.tokens.revoke((await s.accounts.getUser(opts.user)).id, Number(id)));
      process.stderr.write(`revoked token ${id}\n`);
    });
  return token;
}

export function packageCommand(): Command {
  const pkg = new Command('package').description('Manage package visibility and access, restore deleted packages');
  withDataOptions(pkg.command('visibility <name> <visibility>')).description('Set public, private or internal')
    .action(async (name: string, visibility: string, opts: DataOpts) => {
      await withServices(opts, (s) => s.packages.setVisibility(name, visibility));
      process.stderr.write(`${name} is now ${visibility}\n`);
    });
  withDataOptions(pkg.command('grant <name>')).description('Give a user or team a role on a package')
    .option('--user <login>', 'a user').option('--team <org/team>', 'a team').requiredOption('--role <role>', 'read, write or admin')
    .action(async (name: string, opts: DataOpts & { user?: string; team?: string; role: string }) => {
      await withServices(opts, async (s) => s.packages.grant(name, await principal(s, opts), opts.role));
      process.stderr.write(`granted ${opts.role} on ${name} to ${opts.user ?? opts.team}\n`);
    });
  withDataOptions(pkg.command('revoke <name>')).description("Remove a user's or team's role on a package")
    .option('--user <login>', 'a user').option('--team <org/team>', 'a team')
    .action(async (name: string, opts: DataOpts & { user?: string; team?: string }) => {
      await withServices(opts, async (s) => s.packages.revoke(name, await principal(s, opts)));
      process.stderr.write(`revoked access to ${name} for ${opts.user ?? opts.team}\n`);
    });
  withDataOptions(pkg.command('restore <owner/name>'))
    .description('Restore a deleted package (within packages.restoreWindow) with its versions and tags, as the REST API and web UI do')
    .addHelpText('after', '\nExample:\n  berth package restore acme/api')
    .action(async (ref: string, opts: DataOpts) => {
      const slash = ref.indexOf('/');
      if (slash <= 0 || slash === ref.length - 1) throw new UsageError(`"${ref}" is not a package: write OWNER/NAME, e.g. acme/api`);
      const [login, name] = [ref.slice(0, slash), ref.slice(slash + 1).toLowerCase()];
      const restored = await withServices(opts, async (s) => {
        const owner = await s.accounts.find(login);
        if (!owner) throw notFound(`there is no user or organization ${login}`);
        const deleted = await s.packageService.lastDeleted(owner, name);
        if (!deleted) throw notFound(`${owner.login.toLowerCase()}/${name} is not a deleted package that can still be restored (none, or deleted longer ago than packages.restoreWindow)`);
        await s.packageService.restore(deleted);
        return deleted;
      });
      process.stderr.write(`restored ${restored.repository} (${restored.versionCount} ${restored.versionCount === 1 ? 'version' : 'versions'}, ${restored.visibility}); it can be pulled again\n`);
    });
  return pkg;
}

export function keysCommand(): Command {
  const keys = new Command('keys').description('Registry token signing keys');
  withDataOptions(keys.command('rotate')).description('Start signing with a new key; tokens signed with the old one stay valid until they expire')
    .action(async (opts: DataOpts) => {
      const kid = await withServices(opts, (s) => s.keys.rotate());
      process.stderr.write(`new signing key ${kid}; restart or wait for replicas to pick it up\n`);
    });
  return keys;
}

async function principal(s: Parameters<Parameters<typeof withServices>[1]>[0], opts: { user?: string; team?: string }): Promise<{ type: 'user' | 'team'; id: number }> {
  if (opts.user) return { type: 'user', id: (await s.accounts.getUser(opts.user)).id };
  if (opts.team && opts.team.includes('/')) {
    const [org, team] = opts.team.split('/') as [string, string];
    return { type: 'team', id: await s.accounts.teamId(org, team) };
  }
  throw new UsageError('name a --user LOGIN or a --team ORG/TEAM');
}

/** `never`, a duration (`30d`), or a date (`2027-01-31`). */
function parseExpiry(text: string): number | null {
  if (text === 'never' || text === 'none') return null;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const ms = Date.parse(`${text}T23:59:59Z`);
    if (Number.isNaN(ms)) throw new Error(`"${text}" is not a date`);
    return ms;
  }
  return Date.now() + parseDuration(text);
}
