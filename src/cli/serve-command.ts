import cluster from 'node:cluster';
import { type Command, Option } from 'commander';
import { runPrimary } from '../cluster/index.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { openDatabase } from '../metadata/index.js';

/*
 * `berth serve`, and what every command that reads the configuration shares. Light on purpose: the primary of
 * `serve --workers N` runs this alone (migrate, fork, relay), so it imports the configuration, the database
 * and node:cluster, never the server or the other commands. Those cost seconds of module loading on a busy
 * machine, spent before a single worker could be forked; a worker, or a single process, loads the server
 * when it serves.
 */

/** Flags shared by every command that needs a configuration, mapped to dotted config keys. */
export function withConfigFlags(command: Command): Command {
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

export interface ConfigFlags {
  config?: string;
  host?: string;
  port?: string;
  dataDir?: string;
  logLevel?: string;
  tlsCert?: string;
  tlsKey?: string;
  workers?: string;
}

export function configFrom(flags: ConfigFlags) {
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

/** A log line in the server's JSON format, for the moments before (or, in the primary, without) its logger. */
function log(message: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(
    `${JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, ...fields, msg: message })}\n`,
  );
}

async function serve(flags: ConfigFlags): Promise<void> {
  const config = configFrom(flags);
  if (config.workers > 1 && cluster.isPrimary) {
    // Migrate once, here, before the workers open the database (an embedded one cannot lock migrations).
    const { db } = await openDatabase(config.metadata.url, { poolSize: 1 });
    await db.destroy();
    log('berth starting workers', { workers: config.workers });
    runPrimary({ workers: config.workers, log });
    return;
  }
  // 'berth starting', then 'berth listening': a start's progress, each step visible (a worker's too).
  log('berth starting', { ...(cluster.isWorker && { worker: cluster.worker?.id }) });
  const { createBerth } = await import('../server/index.js');
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

/** Registers `serve` on `program`. */
export function serveCommand(program: Command): void {
  withConfigFlags(program.command('serve').description('start the registry')).action(serve);
}

/** How the CLI ends on an error: a configuration error is one line and exit code 2; anything else a stack. */
export function exitOnError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`berth: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`berth: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
}
