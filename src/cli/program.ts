// The whole `berth` command, every subcommand (main.ts loads it for all but `serve`).
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { maskSecrets } from '../config/index.js';
import { registerAdminCommands } from './admin-commands.js';
import { backupCommands } from './backup-commands.js';
import { bundleCommands } from './bundle-commands.js';
import { importCommands } from './import-commands.js';
import { type ConfigFlags, configFrom, exitOnError, serveCommand, withConfigFlags } from './serve-command.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command()
  .name('berth')
  .description('Berth: an OCI Distribution v1.1 container image registry')
  .version(version);

serveCommand(program);

const configCommand = program.command('config').description('inspect the configuration');
withConfigFlags(
  configCommand.command('print').description('print the effective configuration, secrets masked, as YAML'),
).action((flags: ConfigFlags) => {
  process.stdout.write(stringify(maskSecrets(configFrom(flags))));
});

registerAdminCommands(program);
importCommands(program, { withConfigFlags, configFrom });
bundleCommands(program);
backupCommands(program, { withConfigFlags, configFrom });

program.parseAsync().catch(exitOnError);
