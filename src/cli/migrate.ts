import { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { connect } from '../db/connect.js';
import { migrate, migrationStatus } from '../db/migrate.js';
import { describeData } from '../app/admin-services.js';
import { printTable } from './admin-context.js';

/**
 * `berth migrate`: brings the metadata database's schema up to date, for operators who set
 * `metadata.autoMigrate: false` and migrate as a deployment step. On PostgreSQL it takes the same advisory lock
 * as a starting replica, so running it while replicas start is safe.
 */
export function migrateCommand(): Command {
  // No --init: creating the schema of a new database is what this command is for.
  return new Command('migrate')
    .option('--data <dir>', 'data directory (default ./data)').option('--config <file>', 'YAML configuration file (or BERTH_CONFIG)')
    .description('Apply pending database migrations (or with --status, list applied and pending ones)')
    .option('--status', 'only list the migrations, applied and pending; change nothing')
    .addHelpText('after', `
Examples:
  berth migrate --status                     # what would run
  BERTH_METADATA_URL=postgres://… berth migrate`)
    .action(async (opts: { status?: boolean; data?: string; config?: string }) => {
      const config = loadConfig({ file: opts.config, overrides: { dataDir: opts.data } });
      process.stderr.write(`berth: using ${describeData(config)}\n`);
      const conn = connect(config.metadata.url);
      try {
        if (opts.status) {
          const all = await migrationStatus(conn);
          printTable([['MIGRATION', 'STATUS'], ...all.map((m) => [m.name, m.appliedAt ? `applied ${m.appliedAt.toISOString()}` : 'pending'])]);
          const pending = all.filter((m) => m.appliedAt === null).length;
          process.stdout.write(pending === 0 ? 'schema is up to date\n' : `${pending} pending: run \`berth migrate\`\n`);
          return;
        }
        const applied = await migrate(conn);
        for (const name of applied) process.stdout.write(`applied ${name}\n`);
        process.stdout.write(applied.length === 0 ? 'schema is up to date; nothing to apply\n' : `${applied.length} migration${applied.length > 1 ? 's' : ''} applied\n`);
      } finally {
        await conn.close();
      }
    });
}
