import { Command } from 'commander';
import { loadConfig } from '../config/config.js';

/** `berth mirror list`: the pull-through caches the configuration defines (mirror.upstreams); never their secrets. */
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
  return mirror;
}
