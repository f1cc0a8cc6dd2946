#!/usr/bin/env node
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { stringify } from 'yaml';
import { runPrimary } from '../cluster/index.js';
import { ConfigError, loadConfig, maskSecrets } from '../config/index.js';
import { openDatabase } from '../metadata/index.js';
import { createBerth } from '../server/index.js';
import { registerAdminCommands } from './admin-commands.js';
import { backupCommands } from './backup-commands.js';
import { bundleCommands } from './bundle-commands.js';
import { importCommands } from './import-commands.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Flags shared by every command that needs a configuration, mapped to dotted config keys. */
function withConfigFlags(command: Command): Command {
  return command
    .addOption(new Option('-c, --config <file>', 'YAML configuration file').env('BERTH_CONFIG'))
    .option('--host <host>', 'address to listen on (http.host)')
    .option('-p, --port <port>', 'port to listen on (http.port)')
    .option('-d, --data-dir <dir>', 'directory for blobs and the SQLite database (dataDir)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (log.level)')
    .option('--tls-cert <file>', 'PEM certificate; with --tls-key, serve HTTPS (http.tlsCert)')
    .option('--tls-key <file>', 'PEM private key (http.tlsKey)')
    .option('-w, --workers <n>', 'processes sharing the port, to use more cores (workers)');
}

interface ConfigFlags {
  config?: string;
  host?: string;
  port?: string;
  dataDir?: string;
  logLevel?: string;
  tlsCert?: string;
  tlsKey?: string;
  workers?: string;
}

function configFrom(flags: ConfigFlags) {
  return loadConfig({
    file: flags.config,
    env: process.env,
    overrides: {
      'http.host': flags.host,
      'http.port': flags.port,
      dataDir: flags.dataDir,
      'log.level': flags.logLevel,
      'http.tlsCert': flags.tlsCert,
      'http.tlsKey': flags.tlsKey,
      workers: flags.workers,
    },
  });
}

async function serve(flags: ConfigFlags): Promise<void> {
  const config = configFrom(flags);
  if (config.workers > 1 && cluster.isPrimary) {
    // Migrate once, here, before the workers open the database (an embedded one cannot lock migrations).
    const { db } = await openDatabase(config.metadata.url, { poolSize: 1 });
    await db.destroy();
    const log = (message: string, fields: Record<string, unknown> = {}) =>
      process.stdout.write(
        `${JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, ...fields, msg: message })}\n`,
      );
    log('berth starting workers', { workers: config.workers });
    runPrimary({ workers: config.workers, log });
    return;
  }
  const berth = await createBerth(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    berth.app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    berth.close().then(
      () => process.exit(0),
      (error) => {
        berth.app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // logrotate's postrotate: reopen the audit stream's file by its path.
  process.on('SIGHUP', () => {
    berth.auditStream.reopen();
    berth.app.log.info('SIGHUP: the audit stream file is reopened');
  });
  const address = await berth.listen();
  berth.app.log.info(
    { address, port: Number(new URL(address).port), dataDir: config.dataDir },
    'berth listening',
  );
}

const program = new Command()
  .name('berth')
  .description('Berth: an OCI Distribution v1.1 container image registry')
  .version(version);

withConfigFlags(program.command('serve').description('start the registry')).action(serve);

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

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`berth: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`berth: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
