import { accessSync, constants, mkdirSync } from 'node:fs';
import { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { renderExampleConfig } from '../config/example.js';

export function configCommand(): Command {
  const config = new Command('config').description('Configuration helpers');
  config.command('example')
    .description('Print a fully commented configuration file with every key and its default')
    .addHelpText('after', '\nExample:\n  berth config example > berth.yaml')
    .action(() => {
      process.stdout.write(renderExampleConfig());
    });
  config.command('check')
    .description('Validate the configuration and say what is wrong in plain words (exit 2 when it is wrong)')
    .option('--config <file>', 'YAML configuration file (or BERTH_CONFIG)')
    .option('--data <dir>', 'data directory')
    .addHelpText('after', '\nExample:\n  BERTH_SERVER_PORT=8080 berth config check --config /etc/berth/berth.yaml')
    .action((opts: { config?: string; data?: string }) => {
      // loadConfig throws a ConfigError naming the key and the source of the bad value; the CLI exits 2 with it.
      const c = loadConfig({ file: opts.config, overrides: { dataDir: opts.data } });
      const problems: string[] = [];
      if (c.storage.driver === 'fs') {
        try {
          mkdirSync(c.storage.fs.root, { recursive: true, mode: 0o700 });
          accessSync(c.storage.fs.root, constants.W_OK);
        } catch (err) {
          problems.push(`storage.fs.root ${c.storage.fs.root} is not a writable directory (${(err as NodeJS.ErrnoException).code})`);
        }
      }
      const metadata = c.metadata.url.startsWith('sqlite:') ? c.metadata.url : c.metadata.url.replace(/\/\/[^@/]*@/, '//***@');
      process.stdout.write(`listen:   ${c.server.host}:${c.server.port}${c.server.publicUrl ? ` (public URL ${c.server.publicUrl})` : ''}\n`
        + `metadata: ${metadata}\nstorage:  ${c.storage.driver} ${c.storage.fs.root}\n`);
      if (problems.length > 0) {
        for (const p of problems) process.stderr.write(`berth: ${p}\n`);
        process.exit(2);
      }
      process.stdout.write('configuration OK\n');
    });
  return config;
}
