import { Command } from 'commander';
import { parseImmutableTagRules, parseRetentionPolicy, type PolicyScope, type RetentionPolicy, type RetentionRun } from '../app/admin-services.js';
import { notFound } from '../util/errors.js';
import { printTable, withDataOptions, withServices, type AdminServices } from './admin-context.js';

type DataOpts = { data?: string; config?: string };

/**
 * `berth retention show|set|run` and `berth immutable-tags show|set`, on a namespace (`acme`) or a package
 * (`acme/api`), with the operator's rights (like `berth package grant`); the REST API and the settings pages
 * are the way for organization owners.
 */
export function retentionCommand(): Command {
  const cmd = new Command('retention').description('Retention rules of an organization, a user or a package, and retention runs');
  withDataOptions(cmd.command('show <target>')).description('Print the retention rules of a namespace (acme) or package (acme/api)')
    .option('--json', 'as JSON')
    .action(async (target: string, opts: DataOpts & { json?: boolean }) => {
      const out = await withServices(opts, async (s) => {
        const scope = await scopeOf(s, target);
        const own = (await s.lifecycle.policies.get(scope)).retention ?? {};
        const inherited = scope.repositoryId === null ? null : (await s.lifecycle.policies.get({ ownerId: scope.ownerId, repositoryId: null })).retention ?? {};
        return { own, inherited };
      });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ retention: out.own, ...(out.inherited ? { namespace_retention: out.inherited } : {}) }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${target}: ${describe(out.own)}\n`);
      if (out.inherited) process.stdout.write(`${target.slice(0, target.indexOf('/'))} (defaults): ${describe(out.inherited)}\n`);
    });
  withDataOptions(cmd.command('set <target>')).description('Replace the retention rules of a namespace or package (no options: remove them)')
    .option('--keep-most-recent <n>', 'keep the N most recently pushed images')
    .option('--keep-tags <patterns>', 'comma-separated: globs (v*), /regex/, semver:RANGE (semver:>=1.0 <2)')
    .option('--keep-pulled-within <duration>', 'keep images pulled within this long, e.g. 30d')
    .option('--delete-untagged-after <duration>', 'delete untagged images pushed longer ago than this, e.g. 7d')
    .option('--delete-not-pulled-for <duration>', 'delete images not pulled (or, never pulled, pushed) for this long, e.g. 180d')
    .addHelpText('after', `
Precedence, per image (an index with its platform manifests and the signatures and attestations of all of them):
immutable tag > keep-tags > keep-pulled-within > keep-most-recent > delete-untagged-after > delete-not-pulled-for;
an image no rule deletes is kept. A package's settings replace its namespace's; keep-tags of both apply.

Examples:
  berth retention set acme --keep-most-recent 20 --delete-untagged-after 7d
  berth retention set acme/api --keep-tags 'latest,semver:>=1.0 <2' --delete-not-pulled-for 180d
  berth retention run acme/api --dry-run`)
    .action(async (target: string, opts: DataOpts & Record<string, string | undefined>) => {
      const doc: Record<string, unknown> = {};
      if (opts.keepMostRecent !== undefined) doc.keep_most_recent = /^\d+$/.test(opts.keepMostRecent) ? Number(opts.keepMostRecent) : opts.keepMostRecent;
      if (opts.keepTags !== undefined) doc.keep_tags = opts.keepTags.split(',').map((t) => t.trim()).filter((t) => t !== '');
      for (const [flag, field] of [['keepPulledWithin', 'keep_pulled_within'], ['deleteUntaggedAfter', 'delete_untagged_after'], ['deleteNotPulledFor', 'delete_not_pulled_for']]) {
        if (opts[flag!] !== undefined) doc[field!] = opts[flag!];
      }
      const policy = parseRetentionPolicy(doc);
      await withServices(opts, async (s) => s.lifecycle.policies.setRetention(await scopeOf(s, target), Object.keys(policy).length ? policy : null, null));
      process.stdout.write(`${target}: ${describe(policy)}\n`);
    });
  withDataOptions(cmd.command('run <target>')).description('Apply the retention rules of a package, or of every package of a namespace')
    .option('--dry-run', 'list what would be kept and deleted, change nothing')
    .option('--json', 'print every version with its decision and rule as JSON')
    .action(async (target: string, opts: DataOpts & { dryRun?: boolean; json?: boolean }) => {
      const runs = await withServices(opts, async (s) => {
        const scope = await scopeOf(s, target);
        const dryRun = Boolean(opts.dryRun);
        return scope.repositoryId === null
          ? s.lifecycle.retention.runOwner(scope.ownerId, { dryRun })
          : [await s.lifecycle.retention.runPackage(scope.repositoryId, { dryRun })];
      });
      if (opts.json) process.stdout.write(`${JSON.stringify({ dry_run: Boolean(opts.dryRun), packages: runs }, null, 2)}\n`);
      else render(runs, Boolean(opts.dryRun));
    });
  return cmd;
}

export function immutableTagsCommand(): Command {
  const cmd = new Command('immutable-tags').description('Immutable-tag rules of an organization, a user or a package');
  withDataOptions(cmd.command('show <target>')).description('Print the immutable-tag rules of a namespace (acme) or package (acme/api)')
    .action(async (target: string, opts: DataOpts) => {
      const rules = await withServices(opts, async (s) => (await s.lifecycle.policies.get(await scopeOf(s, target))).immutableTags);
      process.stdout.write(`${target}: ${rules ? `patterns ${rules.patterns.join(', ') || '(none)'}; exclude ${rules.exclude.join(', ') || '(none)'}` : 'no immutable tags'}\n`);
    });
  withDataOptions(cmd.command('set <target>')).description('Replace the immutable-tag rules (no patterns: remove them)')
    .option('--patterns <globs>', 'comma-separated tag globs, e.g. v*,release-*')
    .option('--exclude <globs>', 'comma-separated tag globs that stay mutable, e.g. latest,main-*')
    .action(async (target: string, opts: DataOpts & { patterns?: string; exclude?: string }) => {
      const list = (v: string | undefined): string[] => (v ?? '').split(',').map((t) => t.trim()).filter((t) => t !== '');
      const rules = parseImmutableTagRules({ patterns: list(opts.patterns), exclude: list(opts.exclude) });
      await withServices(opts, async (s) => s.lifecycle.policies.setImmutableTags(await scopeOf(s, target), rules, null));
      process.stdout.write(`${target}: patterns ${rules.patterns.join(', ') || '(none)'}; exclude ${rules.exclude.join(', ') || '(none)'}\n`);
    });
  return cmd;
}

/** `acme` → the namespace's scope; `acme/api` → the live package's. */
async function scopeOf(s: AdminServices, target: string): Promise<PolicyScope> {
  const slash = target.indexOf('/');
  const owner = await s.accounts.find(slash === -1 ? target : target.slice(0, slash));
  if (!owner) throw notFound(`there is no user or organization ${slash === -1 ? target : target.slice(0, slash)}`);
  if (slash === -1) return { ownerId: owner.id, repositoryId: null };
  const repositoryId = await s.lifecycle.packageId(target.toLowerCase());
  if (repositoryId === null) throw notFound(`there is no package ${target}`);
  return { ownerId: owner.id, repositoryId };
}

function describe(p: RetentionPolicy): string {
  const parts = Object.entries(p).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  return parts.length ? parts.join(' ') : 'no retention rules';
}

/** Writes each package's table of versions with decision, rule and reason. */
function render(runs: readonly RetentionRun[], dryRun: boolean): void {
  if (runs.length === 0) process.stdout.write('no retention rules apply\n');
  for (const run of runs) {
    process.stdout.write(`${run.repository}: ${run.kept} kept, ${run.deleted} ${dryRun ? 'would be deleted' : 'deleted'}\n`);
    const rows = [['DECISION', 'RULE', 'DIGEST', 'TAGS', 'REASON']];
    for (const v of run.versions) rows.push([v.decision, v.rule, v.digest.slice(0, 19), v.tags.join(',') || '-', v.reason]);
    printTable(rows);
  }
}
