import { Command } from 'commander';
import { botLogin, parseBot, parseBotRef, parseExpiry, type BotInfo } from '../app/admin-services.js';
import { invalid, notFound } from '../util/errors.js';
import { printTable, withDataOptions, withServices, type AdminServices } from './admin-context.js';

type DataOpts = { data?: string; config?: string };

/**
 * `berth bot create|list|rotate|revoke ORG/NAME`: an organization's bot accounts (README "Bot accounts"), with the
 * operator's rights; organization owners use `/api/v3/berth/orgs/{org}/bots` or the organization's settings page.
 * The token goes to stdout alone (`TOKEN=$(berth bot create …)`), once; what it is goes to stderr.
 */
export function botCommand(): Command {
  const cmd = new Command('bot').description('Bot accounts of an organization: long-lived tokens for machines, limited to some packages and actions');
  withDataOptions(cmd.command('create <org/name>')).description('Create a bot and print its token (shown once)')
    .requiredOption('--packages <globs>', 'comma-separated package names or globs in the organization, e.g. api,web-*')
    .option('--actions <list>', 'comma-separated: pull, push, delete', 'pull')
    .option('--expires <when>', 'when the token expires: a date (2027-01-31), a number of days (90d) or never', 'never')
    .option('--description <text>', 'what the bot is for', '')
    .option('--json', 'print the bot and its token as JSON')
    .addHelpText('after', `
Example (a deployment that pulls acme/api and acme/web-*):
  berth bot create acme/deployer --packages 'api,web-*' --actions pull
  docker login registry.example.com -u acme+deployer --password-stdin   # paste the token`)
    .action(async (ref: string, opts: DataOpts & { packages: string; actions: string; expires: string; description: string; json?: boolean }) => {
      const { org, name } = parseBotRef(ref);
      const input = parseBot({
        name, description: opts.description, packages: list(opts.packages), actions: list(opts.actions), expires_at: expiry(opts.expires),
      }, Date.now());
      const { token, bot } = await withServices(opts, async (s) => s.bots.create((await orgOf(s, org)).id, input, null));
      shown(bot, token, opts.json, 'created');
    });
  withDataOptions(cmd.command('list <org>')).description('List the bots of an organization (never their tokens)')
    .option('--json', 'as JSON')
    .action(async (org: string, opts: DataOpts & { json?: boolean }) => {
      const bots = await withServices(opts, async (s) => s.bots.list((await orgOf(s, org)).id));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(bots, null, 2)}\n`);
        return;
      }
      if (bots.length === 0) process.stdout.write(`${org} has no bots\n`);
      else printTable([['LOGIN', 'PACKAGES', 'ACTIONS', 'TOKEN', 'EXPIRES', 'LAST USED'], ...bots.map(row)]);
    });
  withDataOptions(cmd.command('rotate <org/name>')).description('Give a bot a new token (printed once); the old one stops working at once')
    .option('--expires <when>', 'a new expiry: a date (2027-01-31), a number of days (90d) or never (default: keep the expiry)')
    .option('--json', 'print the bot and its token as JSON')
    .action(async (ref: string, opts: DataOpts & { expires?: string; json?: boolean }) => {
      const { org, name } = parseBotRef(ref);
      const expiresAt = opts.expires === undefined ? undefined : parseExpiry(expiry(opts.expires), Date.now());
      const { token, bot } = await withServices(opts, async (s) => s.bots.rotate((await orgOf(s, org)).id, name, expiresAt));
      shown(bot, token, opts.json, 'rotated');
    });
  withDataOptions(cmd.command('revoke <org/name>')).description('Delete a bot: its token stops working at once')
    .action(async (ref: string, opts: DataOpts) => {
      const { org, name } = parseBotRef(ref);
      await withServices(opts, async (s) => s.bots.revoke((await orgOf(s, org)).id, name));
      process.stdout.write(`bot ${org}+${name} revoked\n`);
    });
  return cmd;
}

async function orgOf(s: AdminServices, login: string): Promise<{ id: number }> {
  const account = await s.accounts.find(login);
  if (!account || account.type !== 'org') throw notFound(`there is no organization ${login}`);
  return account;
}

/** `never` → null, `90d` → that many days from now, anything else is taken as an ISO date (checked by parseExpiry). */
function expiry(text: string): string | null {
  if (text === 'never') return null;
  const days = /^(\d{1,5})d$/.exec(text);
  if (days) {
    if (Number(days[1]) === 0) throw invalid('--expires: at least 1d');
    return new Date(Date.now() + Number(days[1]) * 86_400_000).toISOString();
  }
  if (!/^\d{4}-\d\d-\d\d/.test(text)) throw invalid(`--expires ${text}: write a date (2027-01-31), a number of days (90d) or never`);
  return text;
}

function shown(bot: BotInfo, token: string, json: boolean | undefined, what: string): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...bot, token }, null, 2)}\n`);
    return;
  }
  process.stderr.write(`bot ${botLogin(bot)} ${what}: may ${bot.actions.join(', ')} ${bot.packages.join(', ')} in ${bot.org}; `
    + `${bot.expiresAt === null ? 'never expires' : `expires ${new Date(bot.expiresAt).toISOString()}`}\n`
    + `Its token is printed below, once: store it now. Log in with: docker login HOST -u ${botLogin(bot)} --password-stdin\n`);
  process.stdout.write(`${token}\n`);
}

function list(v: string): string[] {
  return v.split(',').map((t) => t.trim()).filter((t) => t !== '');
}

const day = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().slice(0, 16).replace('T', ' '));

function row(b: BotInfo): string[] {
  return [botLogin(b), b.packages.join(','), b.actions.join(','), b.hint, b.expiresAt === null ? 'never' : day(b.expiresAt), b.lastUsedAt === null ? 'never' : day(b.lastUsedAt)];
}
