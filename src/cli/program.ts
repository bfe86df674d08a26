import { Command } from 'commander';
import { ConfigError } from '../config/config.js';
import { isBerthError } from '../util/errors.js';
import { keysCommand, orgCommand, packageCommand, teamCommand, tokenCommand, userCommand } from './accounts.js';
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
import { trustCommand } from './trust.js';

/** Exit codes, documented in the README: 0 ok, 1 failure, 2 bad usage or configuration. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export async function runCli(argv: string[]): Promise<void> {
  // Whatever Berth or its libraries create (database, -wal and -shm, blobs, uploads) is the owner's only: the
  // database holds the token signing keys and private images are private. Explicit modes back this up.
  process.umask(0o077);
  const program = new Command('berth')
    .description('Berth: a self-hosted, GHCR-compatible container registry')
    .showHelpAfterError()
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
    });
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
  for (const cmd of [userCommand(), orgCommand(), teamCommand(), tokenCommand(), packageCommand(), keysCommand()]) program.addCommand(cmd);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (isBerthError(err)) {
      process.stderr.write(`berth: ${err.message}\n`);
      process.exit(EXIT.failure);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`berth: configuration error: ${err.message}\n`);
      process.exit(EXIT.usage);
    }
    process.stderr.write(`berth: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(EXIT.failure);
  }
}
