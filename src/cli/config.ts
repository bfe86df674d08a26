import { Command } from 'commander';
import { renderExampleConfig } from '../config/example.js';

export function configCommand(): Command {
  const config = new Command('config').description('Configuration helpers');
  config.command('example')
    .description('Print a fully commented configuration file with every key and its default')
    .addHelpText('after', '\nExample:\n  berth config example > berth.yaml')
    .action(() => {
      process.stdout.write(renderExampleConfig());
    });
  return config;
}
