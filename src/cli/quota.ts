import { Command } from 'commander';
import { describeUsage, parseQuotaTarget, type OwnerStorage } from '../app/admin-services.js';
import { formatByteSize, parseByteSize } from '../util/byte-size.js';
import { invalid } from '../util/errors.js';
import { printTable, withDataOptions, withServices } from './admin-context.js';

type DataOpts = { data?: string; config?: string };

/**
 * `berth quota set|show|clear` (storage quotas of owners and packages, README "Quotas") and `berth usage recompute`
 * (rebuilds the storage figures quotas are checked against), with the operator's rights; `/admin` has the same form.
 */
export function quotaCommand(): Command {
  const cmd = new Command('quota').description('Storage quotas of users, organizations and packages');
  withDataOptions(cmd.command('set <target> <size>')).description('Set the storage quota of an owner (acme) or a package (acme/api), e.g. 10GiB')
    .addHelpText('after', `
A push that would take the owner (or a package with a quota of its own) over its quota is refused with the message
"acme is over its storage quota: …"; what is stored already stays. Owners without a quota of their own get config
quota.default.

Examples:
  berth quota set acme 10GiB
  berth quota set acme/api 2GiB
  berth quota show acme`)
    .action(async (target: string, size: string, opts: DataOpts) => {
      const bytes = parseByteSize(size);
      if (Number.isNaN(bytes)) throw invalid(`${size} is not a size: use e.g. 10GiB, 500MiB or a number of bytes`);
      const parsed = parseQuotaTarget(target);
      await withServices(opts, (s) => s.quotas.set(parsed, bytes));
      process.stdout.write(`quota of ${target} set to ${formatByteSize(bytes)}\n`);
    });
  withDataOptions(cmd.command('clear <target>')).description('Remove the quota of an owner (config quota.default applies again) or a package')
    .action(async (target: string, opts: DataOpts) => {
      const parsed = parseQuotaTarget(target);
      await withServices(opts, (s) => s.quotas.set(parsed, null));
      process.stdout.write(`quota of ${target} removed\n`);
    });
  withDataOptions(cmd.command('show [owner]')).description('Print every owner\'s storage against its quota (or one owner\'s), largest first')
    .option('--json', 'as JSON (bytes)')
    .action(async (owner: string | undefined, opts: DataOpts & { json?: boolean }) => {
      const owners = await withServices(opts, async (s) => (owner === undefined ? s.quotas.list() : [await s.quotas.forOwner(owner)]));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(owners.map(asJson), null, 2)}\n`);
        return;
      }
      if (owners.length === 0) {
        process.stdout.write('no owner has packages yet\n');
        return;
      }
      printTable([['OWNER', 'PACKAGES', 'STORAGE', 'QUOTA', 'USED'], ...owners.flatMap((o) => [
        [o.owner, String(o.packages), formatByteSize(o.bytes), quotaText(o), o.quotaBytes === null ? '' : used(o.bytes, o.quotaBytes)],
        ...o.packageQuotas.map((p) => [`  ${o.owner}/${p.name}`, '', formatByteSize(p.bytes), formatByteSize(p.quotaBytes), used(p.bytes, p.quotaBytes)]),
      ])]);
    });
  return cmd;
}

export function usageCommand(): Command {
  const cmd = new Command('usage').description('The storage figures quotas are checked against');
  withDataOptions(cmd.command('recompute [owner]')).description('Rebuild the storage figures of one owner, or of all, from the stored versions')
    .addHelpText('after', `
The figures are kept up to date by every push and delete; recompute them after restoring the database from a backup,
or to check them (it prints each owner's figure before and after). Safe while the registry serves.`)
    .action(async (owner: string | undefined, opts: DataOpts) => {
      const { before, after, counted } = await withServices(opts, async (s) => {
        const was = owner === undefined ? await s.quotas.list() : [await s.quotas.forOwner(owner)];
        const counted = await s.quotas.recompute(owner ?? null);
        const now = owner === undefined ? await s.quotas.list() : [await s.quotas.forOwner(owner)];
        return { before: new Map(was.map((o) => [o.owner, o])), after: now, counted };
      });
      for (const o of after) {
        const was = before.get(o.owner);
        const bytesWere = (was?.bytes ?? 0) === o.bytes ? '' : ` (was ${formatByteSize(was?.bytes ?? 0)})`;
        const countsWere = (was?.packages ?? 0) === o.packages && (was?.versions ?? 0) === o.versions
          ? '' : ` (${o.packages} packages, ${o.versions} versions; was ${was?.packages ?? 0} and ${was?.versions ?? 0})`;
        process.stdout.write(`${o.owner}: ${describeUsage(o.bytes, o.quotaBytes)}${bytesWere}${countsWere}\n`);
      }
      process.stdout.write(`recomputed ${counted.packages} package${counted.packages === 1 ? '' : 's'} of ${counted.owners} owner${counted.owners === 1 ? '' : 's'}\n`);
    });
  return cmd;
}

function quotaText(o: OwnerStorage): string {
  if (o.quotaBytes === null) return 'none';
  return `${formatByteSize(o.quotaBytes)}${o.quotaIsDefault ? ' (default)' : ''}`;
}

function used(bytes: number, quota: number): string {
  return `${quota === 0 ? 100 : Math.floor((bytes / quota) * 100)}%`;
}

function asJson(o: OwnerStorage): Record<string, unknown> {
  return {
    owner: o.owner, packages: o.packages, storage_bytes: o.bytes, quota_bytes: o.quotaBytes, quota_is_default: o.quotaIsDefault,
    package_quotas: o.packageQuotas.map((p) => ({ package: p.name, storage_bytes: p.bytes, quota_bytes: p.quotaBytes })),
  };
}
