import { Command, type CommanderError } from 'commander';
import { NO_BERTH_DATABASE } from '../app/admin-services.js';
import { ConfigError } from '../config/config.js';
import { isBerthError } from '../util/errors.js';
import { keysCommand, orgCommand, packageCommand, teamCommand, tokenCommand, userCommand } from './accounts.js';
import { auditCommand } from './audit.js';
import { ciTemplateCommand } from './ci-template.js';
import { configCommand } from './config.js';
import { gcCommand } from './gc.js';
import { doctorCommand } from './doctor.js';
import { kubeSecretCommand } from './kube-secret.js';
import { migrateCommand } from './migrate.js';
import { mirrorCommand } from './mirror.js';
import { immutableTagsCommand, retentionCommand } from './retention.js';
import { scrubCommand } from './scrub.js';
import { serveCommand } from './serve.js';
import { storageCommand } from './storage.js';
import { UsageError } from './usage-error.js';
import { trustCommand } from './trust.js';
import { botCommand } from './bot.js';
import { quotaCommand, usageCommand } from './quota.js';

/** Exit codes, documented in the README: 0 ok, 1 failure, 2 bad usage or configuration. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export async function runCli(argv: string[]): Promise<void> {
  // Whatever Berth or its libraries create (database, -wal and -shm, blobs, uploads) is the owner's only: the
  // database holds the token signing keys and private images are private. Explicit modes back this up.
  process.umask(0o077);
  const program = new Command('berth')
    .description('Berth: a self-hosted, GHCR-compatible container registry');
  program.addCommand(serveCommand());
  program.addCommand(configCommand());
  program.addCommand(kubeSecretCommand());
  program.addCommand(gcCommand());
  program.addCommand(scrubCommand());
  program.addCommand(retentionCommand());
  program.addCommand(immutableTagsCommand());
  program.addCommand(migrateCommand());
  program.addCommand(storageCommand());
  program.addCommand(ciTemplateCommand());
  program.addCommand(doctorCommand());
  program.addCommand(mirrorCommand());
  program.addCommand(trustCommand());
  program.addCommand(auditCommand());
  program.addCommand(botCommand());
  program.addCommand(quotaCommand());
  program.addCommand(usageCommand());
  for (const cmd of [userCommand(), orgCommand(), teamCommand(), tokenCommand(), packageCommand(), keysCommand()]) program.addCommand(cmd);
  forEachCommand(program, oneLineUsageErrors);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`berth: ${err.message}\n`);
      process.exit(EXIT.usage);
    }
    if (isBerthError(err)) {
      process.stderr.write(`berth: ${err.message}\n`);
      // No Berth database where the command looked: the command was pointed at the wrong place (exit 2, as usage).
      process.exit(err.code === NO_BERTH_DATABASE ? EXIT.usage : EXIT.failure);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`berth: configuration error: ${err.message}\n`);
      process.exit(EXIT.usage);
    }
    // Not a bug report for the operator: the message says what failed; BERTH_DEBUG=1 adds the stack.
    const message = err instanceof Error ? (process.env.BERTH_DEBUG ? err.stack ?? err.message : err.message) : String(err);
    process.stderr.write(`berth: ${message}\n`);
    process.exit(EXIT.failure);
  }
}

/**
 * Commander's own usage errors (a missing argument or required option, an unknown flag) as one line naming the
 * command and where its help is, with exit code 2. Commands added with addCommand do not inherit these settings,
 * so every command in the tree gets them.
 */
function oneLineUsageErrors(cmd: Command): void {
  const path = commandPath(cmd);
  cmd.configureOutput({
    outputError: (text, write) => write(`${path}: ${text.trim().replace(/^error: /, '')} (see \`${path} --help\`)\n`),
  });
  cmd.exitOverride((err: CommanderError) => {
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  });
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function forEachCommand(cmd: Command, fn: (c: Command) => void): void {
  fn(cmd);
  for (const sub of cmd.commands) forEachCommand(sub, fn);
}
