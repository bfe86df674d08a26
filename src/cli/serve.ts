import { Command } from 'commander';
import { createApp } from '../app/create-app.js';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../observability/logger.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description('Start the registry (SQLite + local files under ./data unless configured otherwise)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--port <port>', 'port to listen on (default 5000; 0 picks a free one)')
    .option('--data <dir>', 'data directory (default ./data)')
    .option('--config <file>', 'YAML configuration file (or BERTH_CONFIG)')
    .addHelpText('after', `
Examples:
  berth serve                          # 127.0.0.1:5000, data in ./data
  berth serve --host 0.0.0.0 --port 5000 --data /var/lib/berth
  BERTH_SERVER_PORT=8080 berth serve --config /etc/berth/berth.yaml`)
    .action(async (opts: { host?: string; port?: string; data?: string; config?: string }) => {
      const config = loadConfig({
        file: opts.config,
        overrides: { 'server.host': opts.host, 'server.port': opts.port, dataDir: opts.data },
      });
      const log = createLogger(config.log.level);
      // A crash: the error at fatal, which also writes out the lines still buffered (see createLogger), then exit.
      process.on('uncaughtException', (err) => {
        log.fatal({ err }, 'uncaught exception: stopping');
        process.exit(1);
      });
      const app = await createApp(config, log, {
        // The database cannot safely take more writes (its WAL was lost and could not be recovered; logged): stop at
        // once, without the orderly close, so a supervisor restarts Berth on the database as it is on disk.
        onFatal: () => process.exit(1),
      });
      const urls = await app.listen();
      if (app.initialAdminPassword) {
        // On stderr, apart from the JSON log on stdout (log shippers never see it); the database keeps only its hash.
        const { password, file } = app.initialAdminPassword;
        process.stderr.write(`\nberth: first start: created the instance admin "admin" with password ${password}\n`
          + `berth: it is also in ${file} (mode 0600) until the admin changes it (Settings → Password, or berth user passwd admin).\n\n`);
      }
      // Fixed, parseable lines, plain HTTP's first: scripts and tests wait for them to learn the addresses.
      for (const url of urls) process.stdout.write(`berth listening on ${url}\n`);
      let closing = false;
      const shutdown = (signal: string): void => {
        if (closing) return;
        closing = true;
        log.info({ signal }, 'shutting down');
        app.close().then(() => process.exit(0), (err: unknown) => {
          log.error({ err }, 'error during shutdown');
          process.exit(1);
        });
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
    });
}
