import { Command } from 'commander';
import type { ScrubReport } from '../app/admin-services.js';
import { parseDuration } from '../util/duration.js';
import { withDataOptions, withServices, type DataOptions } from './admin-context.js';
import { parseFlag } from './usage-error.js';

/** Exit code when corrupt or missing blobs were found (README "Exit codes"); 1 stays "the command failed". */
const EXIT_PROBLEMS = 3;

/** `berth scrub`: re-hashes stored blobs, quarantines corrupt or missing ones; safe while serving. */
export function scrubCommand(): Command {
  return withDataOptions(new Command('scrub'))
    .description('Re-hash stored blobs and quarantine corrupt or missing ones (they answer 404 until pushed again); safe while serving')
    .option('--rate <bytes>', 'read at most this many bytes per second, e.g. 100MiB; 0: unlimited (default: config scrub.rate)')
    .option('--older-than <duration>', 'only blobs not verified within this long, e.g. 7d (continues an interrupted scrub); default: all')
    .option('--dry-run', 'report only: quarantine nothing, record nothing')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `
Exit code 0: every blob checked is good; ${EXIT_PROBLEMS}: corrupt or missing blobs were found (listed with the
repositories to push again); 1: the scrub failed or could not read some blobs.

Examples:
  berth scrub                          # everything, at scrub.rate (default 50 MiB/s)
  berth scrub --rate 0 --json          # full speed, machine-readable report
  berth scrub --older-than 7d          # what no scrub verified in the last week`)
    .action(async (opts: DataOptions & { rate?: string; olderThan?: string; dryRun?: boolean; json?: boolean }) => {
      const olderThanMs = opts.olderThan === undefined ? 0 : parseFlag('--older-than', () => parseDuration(opts.olderThan!));
      const tty = process.stderr.isTTY && !opts.json;
      // Ctrl-C stops after the current blob; what was checked is recorded, and --older-than continues from there.
      const stop = new AbortController();
      const onSigint = (): void => stop.abort();
      process.once('SIGINT', onSigint);
      try {
        const report = await withServices({ ...opts, overrides: { 'scrub.rate': opts.rate } }, (s) => s.scrubber.run({
          dueBefore: Date.now() - olderThanMs,
          rateBytesPerSecond: s.scrubRate,
          dryRun: Boolean(opts.dryRun),
          signal: stop.signal,
          onProgress: tty ? (checked, bytes) => process.stderr.write(`\r${checked} blobs, ${mb(bytes)} checked`) : undefined,
        }));
        if (tty) process.stderr.write('\n');
        process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : render(report, Boolean(opts.dryRun)));
        process.exitCode = report.problems.length > 0 ? EXIT_PROBLEMS : report.errors.length > 0 || !report.complete ? 1 : 0;
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
}

function render(r: ScrubReport, dryRun: boolean): string {
  const lines = [`checked ${r.checked} blob${r.checked === 1 ? '' : 's'} (${mb(r.bytes)} read) in ${r.seconds.toFixed(1)} s`];
  for (const p of r.problems) {
    const state = { now: 'quarantined now', already: 'quarantined earlier', 'dry-run': 'would be quarantined' }[p.quarantine];
    const found = p.problem === 'missing' ? 'no stored bytes' : `read ${p.actual}`;
    lines.push(`${p.problem.toUpperCase()}  ${p.digest}  ${mb(p.size)}  ${state}; ${found}; used by ${p.repositories.join(', ') || 'no repository'}`);
  }
  for (const d of r.released) lines.push(`released  ${d}: its bytes are good again; served again`);
  for (const e of r.errors) lines.push(`error  ${e.digest}: ${e.error} (checked again next time)`);
  if (!r.complete) lines.push('interrupted: run `berth scrub --older-than <time since this run began>` to continue where it stopped');
  if (r.problems.length > 0) {
    lines.push(`${r.problems.length} corrupt or missing blob${r.problems.length === 1 ? '' : 's'}: ${dryRun
      ? 'run without --dry-run to quarantine them'
      : 'GET/HEAD answer 404 for them, so a push of the images using them uploads them again and repairs them'}`);
  } else {
    lines.push('no corrupt or missing blobs');
  }
  return `${lines.join('\n')}\n`;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
