import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { EvictionRun } from '../app/admin-services.js';
import { loadConfig } from '../config/config.js';
import { parseDuration } from '../util/duration.js';
import { notFound } from '../util/errors.js';
import { printTable, withDataOptions, withServices } from './admin-context.js';
import { parseFlag } from './usage-error.js';

type DataOpts = { data?: string; config?: string; init?: boolean };

/**
 * `berth mirror list|add|delete|show|evict|remove`: the pull-through caches (those of the configuration,
 * mirror.upstreams, and those an admin adds here or on /admin/mirrors; never their secrets), what they hold, and
 * eviction. A running server picks up a mirror added or deleted here at once, as every replica does.
 */
export function mirrorCommand(): Command {
  const mirror = new Command('mirror').description('Pull-through caches of other registries');
  withDataOptions(mirror.command('list'))
    .description('List the mirror namespaces, their upstreams, how Berth authenticates to them and the default mirror')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  BERTH_MIRROR_UPSTREAMS_DOCKERHUB_URL=https://registry-1.docker.io berth mirror list')
    .action(async (opts: DataOpts & { json?: boolean }) => {
      const { mirror: config } = loadConfig({ file: opts.config });
      const upstreams = await withServices(opts, (s) => s.mirror.upstreams.list());
      const rows = upstreams.map((u) => ({
        namespace: u.namespace, upstream: u.url, auth: u.credentials ? `user ${u.credentials.username}` : 'anonymous', default: u.isDefault,
        access: u.access, source: u.source,
      }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ access: config.access, tagTtlMs: config.tagTtlMs, upstreams: rows }, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('no mirrors yet (berth mirror add NAMESPACE URL, or mirror.upstreams.<namespace>.url in the configuration)\n');
        return;
      }
      printTable([['NAMESPACE', 'UPSTREAM', 'AUTH', 'DEFAULT', 'PULLS', 'DEFINED BY'],
        ...rows.map((r) => [r.namespace, r.upstream, r.auth, r.default ? 'yes' : '-', r.access, r.source === 'config' ? 'configuration' : 'admin'])]);
      process.stdout.write(`pulls: public (anyone), signed-in (users with read:packages) or org:LOGIN (its members); tags revalidated after ${config.tagTtlMs / 1000}s (mirror.tagTtl)\n`);
    });
  withDataOptions(mirror.command('add <namespace> <url>'))
    .description('Add a mirror: pulls of NAMESPACE/IMAGE:TAG go through the upstream at URL, on every replica, without a restart')
    .option('--username <name>', 'user name upstream (default: anonymous)')
    .option('--password-file <file>', 'file holding the password or token upstream, with --username (never on the command line)')
    .option('--default', 'the default mirror: Docker registry-mirrors mode pulls through it')
    .option('--access <who>', 'who may pull through it: public, signed-in or org:LOGIN (default: mirror.access)')
    .option('--evict-after <duration>', 'evict cached images not pulled for this long (e.g. 30d); default: kept')
    .addHelpText('after', '\nExamples:\n  berth mirror add dockerhub https://registry-1.docker.io --default --evict-after 30d\n  berth mirror add ghcr https://ghcr.io --username bot --password-file /run/secrets/ghcr')
    .action(async (namespace: string, url: string, opts: DataOpts & { username?: string; passwordFile?: string; default?: boolean; access?: string; evictAfter?: string }) => {
      const password = opts.passwordFile === undefined ? null : parseFlag('--password-file', () => readFileSync(opts.passwordFile!, 'utf8').trim());
      const evictAfterMs = opts.evictAfter === undefined ? null : parseFlag('--evict-after', () => parseDuration(opts.evictAfter!));
      const added = await withServices(opts, (s) => s.mirror.upstreams.add({
        namespace, url, username: opts.username ?? null, password, isDefault: opts.default ?? false, access: opts.access ?? null, evictAfterMs,
      }));
      process.stdout.write(`added mirror ${added.namespace} of ${added.url}${added.isDefault ? ' (the default)' : ''}: docker pull HOST/${added.namespace}/IMAGE:TAG\n`);
    });
  withDataOptions(mirror.command('delete <namespace>'))
    .description('Delete a mirror added by an admin; its cache must be empty first (berth mirror remove NAMESPACE)')
    .action(async (namespace: string, opts: DataOpts) => {
      await withServices(opts, (s) => s.mirror.upstreams.remove(namespace));
      process.stdout.write(`deleted mirror ${namespace}\n`);
    });
  withDataOptions(mirror.command('show [namespace]'))
    .description('Each mirror\'s cached packages, versions, size and last pull; with a namespace, its cached packages')
    .option('--json', 'print JSON')
    .action(async (namespace: string | undefined, opts: DataOpts & { json?: boolean }) => {
      const out = await withServices(opts, async (s) => {
        const upstreams = (await s.mirror.upstreams.list()).filter((u) => namespace === undefined || u.namespace === namespace);
        if (namespace !== undefined && upstreams.length === 0) throw notFound(`no mirror namespace ${namespace} (berth mirror list shows them)`);
        return namespace === undefined
          ? { summaries: await s.mirror.packages.summaries(upstreams.map((u) => u.namespace)) }
          : { cached: (await s.mirror.packages.list(namespace, { page: 1, perPage: Number.MAX_SAFE_INTEGER })).repositories };
      });
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
