import { Command } from 'commander';
import { parseTrustPolicy, type TrustPolicy } from '../app/admin-services.js';
import { invalid, notFound } from '../util/errors.js';
import { printTable, withDataOptions, withServices, type AdminServices } from './admin-context.js';

type DataOpts = { data?: string; config?: string };

/**
 * `berth trust add|list|remove ORG`: the organization's OIDC trust policies (README "Tokenless CI"), with the
 * operator's rights; organization owners use `/api/v3/berth/orgs/{org}/trust-policies`.
 */
export function trustCommand(): Command {
  const cmd = new Command('trust').description('OIDC trust policies of an organization (tokenless CI: trusted publishing)');
  withDataOptions(cmd.command('add <org>')).description('Trust ID tokens of an issuer whose claims match, for some packages and actions')
    .requiredOption('--issuer <url>', 'the OIDC issuer, e.g. https://token.actions.githubusercontent.com')
    .requiredOption('--audience <aud>', 'the audience the tokens must carry (aud), e.g. the registry host')
    .requiredOption('--claim <claim=pattern...>', 'a condition, repeatable: exact value or glob, e.g. repository=acme/api ref=refs/heads/main')
    .requiredOption('--packages <globs>', 'comma-separated package names or globs in the organization, e.g. api,web-*')
    .option('--actions <list>', 'comma-separated: pull, push, delete', 'pull,push')
    .option('--token-lifetime <seconds>', 'lifetime of the registry tokens issued (60-3600)', '900')
    .option('--json', 'print the policy as JSON')
    .addHelpText('after', `
Example (GitHub Actions of acme/api on main may push acme/api):
  berth trust add acme --issuer https://token.actions.githubusercontent.com --audience registry.example.com \\
    --claim repository=acme/api --claim ref=refs/heads/main --packages api --actions pull,push`)
    .action(async (org: string, opts: DataOpts & { issuer: string; audience: string; claim: string[]; packages: string; actions: string; tokenLifetime: string; json?: boolean }) => {
      const conditions: Record<string, string> = {};
      for (const c of opts.claim) {
        const eq = c.indexOf('=');
        if (eq <= 0) throw invalid(`--claim ${c}: write CLAIM=PATTERN, e.g. repository=acme/api`);
        conditions[c.slice(0, eq)] = c.slice(eq + 1);
      }
      const input = parseTrustPolicy({
        issuer: opts.issuer, audience: opts.audience, conditions, packages: list(opts.packages), actions: list(opts.actions),
        token_lifetime_seconds: /^\d+$/.test(opts.tokenLifetime) ? Number(opts.tokenLifetime) : opts.tokenLifetime,
      });
      const policy = await withServices(opts, async (s) => s.trust.add((await orgOf(s, org)).id, input, null));
      process.stdout.write(opts.json ? `${JSON.stringify(policy, null, 2)}\n` : `trust policy ${policy.id} added to ${org}\n`);
    });
  withDataOptions(cmd.command('list <org>')).description('List the trust policies of an organization')
    .option('--json', 'as JSON')
    .action(async (org: string, opts: DataOpts & { json?: boolean }) => {
      const policies = await withServices(opts, async (s) => s.trust.list((await orgOf(s, org)).id));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(policies, null, 2)}\n`);
        return;
      }
      if (policies.length === 0) process.stdout.write(`${org} has no trust policies\n`);
      else printTable([['ID', 'ISSUER', 'AUDIENCE', 'CONDITIONS', 'PACKAGES', 'ACTIONS', 'LIFETIME'], ...policies.map(row)]);
    });
  withDataOptions(cmd.command('remove <org> <id>')).description('Remove a trust policy (tokens already issued live out their lifetime)')
    .action(async (org: string, id: string, opts: DataOpts) => {
      if (!/^\d+$/.test(id)) throw invalid(`${id} is not a trust policy id (see berth trust list ${org})`);
      await withServices(opts, async (s) => s.trust.remove((await orgOf(s, org)).id, Number(id)));
      process.stdout.write(`trust policy ${id} removed from ${org}\n`);
    });
  return cmd;
}

async function orgOf(s: AdminServices, login: string): Promise<{ id: number }> {
  const account = await s.accounts.find(login);
  if (!account || account.type !== 'org') throw notFound(`there is no organization ${login}`);
  return account;
}

function list(v: string): string[] {
  return v.split(',').map((t) => t.trim()).filter((t) => t !== '');
}

function row(p: TrustPolicy): string[] {
  return [String(p.id), p.issuer, p.audience, Object.entries(p.conditions).map(([k, v]) => `${k}=${v}`).join(' '), p.packages.join(','),
    p.actions.join(','), `${p.tokenLifetimeSeconds}s`];
}
