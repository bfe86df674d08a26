import type { Command } from 'commander';
import { withServices as withAppServices, type AdminServices, type AdminServicesOptions } from '../app/admin-services.js';
import { invalid } from '../util/errors.js';

export type { AdminServices } from '../app/admin-services.js';

/**
 * `--data`, `--config` and `--init` on every admin command, so it works on the same data as `berth serve`, and
 * never starts a second, empty registry by accident (a command run from another directory without `--data`).
 */
export function withDataOptions(cmd: Command): Command {
  return cmd.option('--data <dir>', 'data directory (default ./data)').option('--config <file>', 'YAML configuration file (or BERTH_CONFIG)')
    .option('--init', 'create the Berth database when there is none yet (otherwise the command refuses)');
}

export type DataOptions = Omit<AdminServicesOptions, 'announce'> & {
  /** Say on stderr which data directory and database the command uses (default; tests seeding a server do not). */
  announce?: boolean;
};

/**
 * The admin services on the configured data (app/admin-services.ts), announcing on stderr which data directory and
 * database the command uses. Without `init` (`--init`) a data directory holding no Berth database is refused.
 */
export function withServices<T>(opts: DataOptions, fn: (s: AdminServices) => Promise<T>): Promise<T> {
  const { announce = true, ...rest } = opts;
  return withAppServices({ ...rest, ...(announce ? { announce: (where: string) => process.stderr.write(`berth: using ${where}\n`) } : {}) }, fn);
}

/** Reads all of standard input (for --password-stdin). */
export async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text.replace(/\r?\n$/, '');
}

/**
 * Asks for a new password on the terminal, twice, without echoing it. Without a terminal (a script, a pipe) there
 * is no one to ask: --password-stdin is the way.
 */
export async function askPassword(login: string): Promise<string> {
  if (!process.stdin.isTTY) throw invalid('standard input is not a terminal: pipe the password in with --password-stdin');
  const first = await readHidden(`New password for ${login}: `);
  const second = await readHidden('Again: ');
  if (first !== second) throw invalid('the two passwords differ; nothing was changed');
  return first;
}

/** One line from the terminal in raw mode (no echo); Ctrl-C gives up. Listens rather than iterating: leaving a
 * `for await` over stdin would destroy it before the second question. */
function readHidden(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise<string>((resolve, reject) => {
    let text = '';
    const done = (err: Error | null): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003') return done(invalid('interrupted; nothing was changed'));
        text = ch === '\u007f' ? text.slice(0, -1) : text + ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Prints rows as aligned columns. */
export function printTable(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
}
