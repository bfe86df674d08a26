import { Command } from 'commander';
import type { EvictionRun } from '../app/admin-services.js';
import { loadConfig } from '../config/config.js';
import { notFound } from '../util/errors.js';
import { printTable, withDataOptions, withServices } from './admin-context.js';

type DataOpts = { data?: string; config?: string; init?: boolean };

/**
 * `berth mirror list|show|evict|remove`: the pull-through caches the configuration defines (mirror.upstreams; never
 * their secrets), what they hold, and eviction. Upstreams are configuration, not edited here.
 */
export function mirrorCommand(): Command {
  const mirror = new Command('mirror').description('Pull-through caches of other registries (configured under mirror.upstreams)');
  mirror.command('list')
    .description('List the mirror namespaces, their upstreams, how Berth authenticates to them and the default mirror')
    .option('--config <file>', 'YAML configuration file (or BERTH_CONFIG)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  BERTH_MIRROR_UPSTREAMS_DOCKERHUB_URL=https://registry-1.docker.io berth mirror list')
    .action((opts: { config?: string; json?: boolean }) => {
      const { mirror: config } = loadConfig({ file: opts.config });
      const rows = config.upstreams.map((u) => ({
        namespace: u.namespace, upstream: u.url, auth: u.credentials ? `user ${u.credentials.username}` : 'anonymous', default: u.isDefault,
      }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ access: config.access, tagTtlMs: config.tagTtlMs, upstreams: rows }, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('no mirrors configured (mirror.upstreams.<namespace>.url, or BERTH_MIRROR_UPSTREAMS_<NAMESPACE>_URL)\n');
        return;
      }
      const table = [['NAMESPACE', 'UPSTREAM', 'AUTH', 'DEFAULT'], ...rows.map((r) => [r.namespace, r.upstream, r.auth, r.default ? 'yes' : ''])];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      for (const row of table) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
      process.stdout.write(`pulls: ${config.access === 'public' ? 'anyone' : 'signed-in users'} (mirror.access); tags revalidated after ${config.tagTtlMs / 1000}s (mirror.tagTtl)\n`);
    });
  withDataOptions(mirror.command('show [namespace]'))
    .description('Each mirror\'s cached packages, versions, size and last pull; with a namespace, its cached packages')
    .option('--json', 'print JSON')
    .action(async (namespace: string | undefined, opts: DataOpts & { json?: boolean }) => {
      const { mirror: config } = loadConfig({ file: opts.config });
      const upstreams = config.upstreams.filter((u) => namespace === undefined || u.namespace === namespace);
      if (namespace !== undefined && upstreams.length === 0) throw notFound(`no mirror namespace ${namespace} (berth mirror list shows them)`);
      const out = await withServices(opts, async (s) => (namespace === undefined
        ? { summaries: await s.mirror.packages.summaries(upstreams.map((u) => u.namespace)) }
        : { cached: (await s.mirror.packages.list(namespace, { page: 1, perPage: Number.MAX_SAFE_INTEGER })).repositories }));
      const when = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      if (out.summaries) {
        printTable([['NAMESPACE', 'PACKAGES', 'VERSIONS', 'BYTES', 'LAST PULL'],
          ...out.summaries.map((m) => [m.namespace, String(m.packages), String(m.versions), String(m.sizeBytes), when(m.lastPulledAt)])]);
        return;
      }
      if (out.cached.length === 0) {
        process.stdout.write(`nothing cached in ${namespace}\n`);
        return;
      }
      printTable([['PACKAGE', 'VERSIONS', 'BYTES', 'LAST PULL', 'CACHED'],
        ...out.cached.map((r) => [r.name, String(r.versions), String(r.sizeBytes), when(r.lastPulledAt), when(r.createdAt)])]);
    });
  withDataOptions(mirror.command('evict'))
    .description('Delete cached versions not pulled for their mirror\'s evictAfter now (the retention job does it every retention.interval)')
    .option('--dry-run', 'list what would be evicted, change nothing')
    .option('--json', 'print JSON')
    .action(async (opts: DataOpts & { dryRun?: boolean; json?: boolean }) => {
      const runs = await withServices(opts, (s) => s.mirror.eviction.run({ dryRun: opts.dryRun ?? false }));
      printEviction(runs, opts);
    });
  withDataOptions(mirror.command('remove <target>'))
    .description('Delete every cached version of a cached package (dockerhub/library/alpine) or of a whole mirror namespace (dockerhub)')
    .option('--dry-run', 'list what would be removed, change nothing')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nRemoved versions are restorable for packages.restoreWindow; berth gc frees their bytes; the next pull fetches them again.')
    .action(async (target: string, opts: DataOpts & { dryRun?: boolean; json?: boolean }) => {
      const runs = await withServices(opts, (s) => s.mirror.eviction.remove(target, opts.dryRun ?? false));
      if (runs === null) throw notFound(`${target} is neither a mirror namespace nor a package cached in one (berth mirror show)`);
      printEviction(runs, opts);
    });
  return mirror;
}

function printEviction(runs: readonly EvictionRun[], opts: { dryRun?: boolean; json?: boolean }): void {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
    return;
  }
  const verb = opts.dryRun ? 'would delete' : 'deleted';
  for (const run of runs) {
    for (const v of run.evicted) {
      process.stdout.write(`${run.repository}@${v.digest} ${v.tags.length ? `(${v.tags.join(', ')}) ` : ''}${verb}, last used ${new Date(v.lastUsedAt).toISOString()}\n`);
    }
  }
  const versions = runs.reduce((n, r) => n + r.evicted.length, 0);
  process.stdout.write(`${versions} cached version(s) in ${runs.filter((r) => r.evicted.length > 0).length} package(s) ${verb}${opts.dryRun ? ' (dry run)' : ''}\n`);
}
