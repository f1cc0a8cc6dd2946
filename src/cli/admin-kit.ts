import type { Command, CommanderError } from 'commander';
import { ApiCallError, ApiClient, type Connection, UsageError } from './api-client.js';
import { askSecret } from './password-input.js';
import { out } from './table-output.js';

/**
 * What every admin verb shares: the connection flags, the API client they make, and the errors that become a
 * one-line message and an exit code (0 done; 1 the server refused or cannot be reached; 2 usage errors).
 */
export const DEFAULT_SERVER = 'http://127.0.0.1:5000';

/** What the command groups borrow from the admin verbs: the connection flags and the error handling. */
export interface CommandKit {
  connected(command: Command): Command;
  run<A extends unknown[]>(
    action: (client: ApiClient, ...args: A) => Promise<void>,
  ): (...args: A) => Promise<void>;
}

export interface ConnectionFlags {
  server?: string;
  user?: string;
  password?: string;
}

export function fail(error: unknown): never {
  if (error instanceof UsageError) {
    process.stderr.write(`berth: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof ApiCallError) {
    process.stderr.write(`berth: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

/** Commander's own usage errors (unknown option, missing argument) exit 2 as ours do; help exits 0. */
export function onCommanderExit(error: CommanderError): never {
  process.exit(error.exitCode === 0 ? 0 : 2);
}

/** Adds the connection flags; `password: false` where `--password` means something else (the one being set). */
export function connected(command: Command, options: { password: boolean } = { password: true }): Command {
  command
    .option('--server <url>', `Berth server (BERTH_SERVER; default ${DEFAULT_SERVER})`)
    .option('-u, --user <name>', 'log in as this user or robot$name (BERTH_USER)');
  if (options.password)
    command.option('--password <password>', 'password, token or robot secret (BERTH_PASSWORD)');
  return command;
}

export async function clientFor(command: Command, ownPassword: boolean): Promise<ApiClient> {
  let root: Command = command;
  while (root.parent) root = root.parent;
  const local = command.opts<ConnectionFlags>();
  const global = root.opts<ConnectionFlags>();
  const connection: Connection = {
    server: local.server ?? global.server ?? DEFAULT_SERVER,
    user: local.user ?? global.user,
    password: (ownPassword ? undefined : local.password) ?? global.password,
  };
  if (connection.user && connection.password === undefined && process.stdin.isTTY) {
    connection.password = await askSecret(`Password for ${connection.user}: `);
  }
  return new ApiClient(connection);
}

/** Wraps an action: our errors become a one-line message and an exit code. */
export function run<A extends unknown[]>(
  action: (client: ApiClient, ...args: A) => Promise<void>,
  options: { ownPassword?: boolean } = {},
) {
  return async (...args: A): Promise<void> => {
    try {
      const command = args[args.length - 1] as Command;
      await action(await clientFor(command, options.ownPassword ?? false), ...args);
    } catch (error) {
      fail(error);
    }
  };
}

export function group(program: Command, name: string, description: string): Command {
  return program.command(name).description(description).exitOverride(onCommanderExit);
}

export function path(...segments: string[]): string {
  return segments.map((segment) => `/${encodeURIComponent(segment)}`).join('');
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

export function printSecret(login: string, secret: string, hint: string): void {
  out(`login:  ${login}\nsecret: ${secret}`);
  process.stderr.write(`Store the secret now: it is not shown again. ${hint}\n`);
}
