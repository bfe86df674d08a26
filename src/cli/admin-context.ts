import type { Command } from 'commander';

export { withServices, type AdminServices } from '../app/admin-services.js';

/** `--data` and `--config` on every admin command, so it works on the same data as `berth serve`. */
export function withDataOptions(cmd: Command): Command {
  return cmd.option('--data <dir>', 'data directory (default ./data)').option('--config <file>', 'YAML configuration file (or BERTH_CONFIG)');
}

/** Reads all of standard input (for --password-stdin). */
export async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text.replace(/\r?\n$/, '');
}

/** Prints rows as aligned columns. */
export function printTable(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
}
