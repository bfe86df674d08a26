import { rename, writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import type { JobRunFile } from '../observability/metrics.js';
import { parseDuration } from '../util/duration.js';
import { withDataOptions, withServices, type DataOptions } from './admin-context.js';
import { parseFlag } from './usage-error.js';

/** `berth gc`: dry run by default; `--delete` frees unreferenced blobs and expired upload sessions, online. */
export function gcCommand(): Command {
  return withDataOptions(new Command('gc'))
    .description('Find (and with --delete, remove) unreferenced blobs and expired upload sessions; safe while serving')
    .option('--delete', 'actually delete; without it nothing is changed (dry run)')
    .option('--grace <duration>', 'leave links and files younger than this alone (pushes in progress)', '1h')
    .option('--metrics-file <path>', 'write the run\'s berth_job_* metrics (job="gc") to this file, for node_exporter\'s textfile collector')
    .addHelpText('after', `
Examples:
  berth gc                       # dry run: what would be freed
  berth gc --delete --grace 2h   # free it, sparing anything touched in the last 2 hours
  berth gc --delete --metrics-file /var/lib/node_exporter/textfile/berth-gc.prom   # from cron or a systemd timer`)
    .action(async (opts: DataOptions & { delete?: boolean; grace: string; metricsFile?: string }) => {
      const dryRun = !opts.delete;
      const graceMs = parseFlag('--grace', () => parseDuration(opts.grace));
      const tty = process.stderr.isTTY;
      // prom-client is loaded only for a run that writes metrics.
      const metrics = opts.metricsFile ? new (await import('../observability/metrics.js')).JobRunFile() : null;
      const finished = metrics?.jobStarted('gc') ?? (() => undefined);
      const run = withServices(opts, async (s) => {
        const uploads = dryRun ? 0 : await s.uploads.purgeIdleSince(Date.now() - s.uploadExpiryMs);
        const gc = await s.gc.run({
          dryRun, graceMs,
          onProgress: tty ? (done, total) => process.stderr.write(`\r${bar(done, total)} ${done}/${total} blobs`) : undefined,
        });
        if (tty) process.stderr.write('\n');
        return { ...gc, uploads };
      });
      // A dry run is recorded too: it read everything a real run does, and failing is what an alert wants to see.
      const report = await run.then((r) => { finished('success'); return r; }, (err: unknown) => { finished('failure'); throw err; })
        .finally(() => (opts.metricsFile && metrics ? writeAtomically(opts.metricsFile, metrics) : undefined));
      const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
      const verb = dryRun ? 'would delete' : 'deleted';
      process.stdout.write([
        `unreferenced links: ${verb} ${report.links}`,
        `blobs no repository uses: ${verb} ${report.blobs} (${mb(report.bytes)})`,
        `orphan files: ${verb} ${report.orphanFiles} (${mb(report.orphanBytes)})`,
        ...(dryRun ? [] : [`expired upload sessions: deleted ${report.uploads}`]),
        dryRun
          ? `dry run: nothing was changed; run \`berth gc --delete\` to free ${mb(report.bytes + report.orphanBytes)}`
          : `freed ${mb(report.bytes + report.orphanBytes)}`,
      ].join('\n') + '\n');
    });
}

/** Written beside and renamed into place, so the collector never reads half a file. */
async function writeAtomically(path: string, metrics: JobRunFile): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, await metrics.render());
  await rename(tmp, path);
}

function bar(done: number, total: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
