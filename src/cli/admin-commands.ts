import { type Command, type CommanderError, Option } from 'commander';
import type { AccessToken, Member, Project, Robot, User } from '../accounts/index.js';
import { ACTIONS, type Action, PROJECT_ROLES, type ProjectRole } from '../auth/index.js';
import type { AuditEvent } from '../events/types.js';
import { formatBytes, type ImmutabilityRule } from '../lifecycle/index.js';
import { anomalyCommands } from './anomaly-commands.js';
import { ApiCallError, ApiClient, type Connection, UsageError } from './api-client.js';
import { gcCommands } from './gc-commands.js';
import { scrubCommands, webhookCommands } from './operations-commands.js';
import { askSecret, newPassword } from './password-input.js';
import { replicationCommands } from './replication-commands.js';
import { retentionCommands } from './retention-commands.js';
import { scanningCommands } from './scanning-commands.js';
import { sessionCommands } from './session-commands.js';
import { signatureCommands } from './signature-commands.js';
import { formatTable, isoTime, yesNo } from './table-output.js';

/**
 * The admin verbs (`berth user|project|robot|token|audit|gc …`, with `project quota|immutable|retention`): thin clients of a running server's /api/v1.
 *
 * Connection: `--server` (BERTH_SERVER, default http://127.0.0.1:5000) and Basic credentials from `--user` and
 * `--password` (BERTH_USER, BERTH_PASSWORD). They are accepted before the verb (`berth --user admin user list`)
 * or after it; on `user add` and `user passwd`, `--password` after the verb is the password being set, so log
 * in there with BERTH_PASSWORD or `berth --password … user add …`.
 *
 * Exit codes: 0 done; 1 the server refused (its message is printed) or cannot be reached; 2 usage errors.
 */
export const DEFAULT_SERVER = 'http://127.0.0.1:5000';
const DAY_MS = 86_400_000;

interface ConnectionFlags {
  server?: string;
  user?: string;
  password?: string;
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function fail(error: unknown): never {
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
function onCommanderExit(error: CommanderError): never {
  process.exit(error.exitCode === 0 ? 0 : 2);
}

/** Adds the connection flags; `password: false` where `--password` means something else (the one being set). */
function connected(command: Command, options: { password: boolean } = { password: true }): Command {
  command
    .option('--server <url>', `Berth server (BERTH_SERVER; default ${DEFAULT_SERVER})`)
    .option('-u, --user <name>', 'log in as this user or robot$name (BERTH_USER)');
  if (options.password)
    command.option('--password <password>', 'password, token or robot secret (BERTH_PASSWORD)');
  return command;
}

async function clientFor(command: Command, ownPassword: boolean): Promise<ApiClient> {
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
function run<A extends unknown[]>(
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

function group(program: Command, name: string, description: string): Command {
  return program.command(name).description(description).exitOverride(onCommanderExit);
}

// --- argument parsing ------------------------------------------------------------------------------------

function parseActions(text: string): Action[] {
  const actions = text
    .split(',')
    .map((action) => action.trim())
    .filter(Boolean);
  if (actions.length === 0) throw new UsageError('--actions: give at least one action');
  for (const action of actions) {
    if (!(ACTIONS as readonly string[]).includes(action)) {
      throw new UsageError(`--actions: unknown action '${action}' (one of ${ACTIONS.join(', ')})`);
    }
  }
  return actions as Action[];
}

function parseExpiryDays(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const days = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(days > 0)) {
    throw new UsageError(`--expires-days: a positive number of days, not '${text}'`);
  }
  return Date.now() + Math.round(days * DAY_MS);
}

function parseRole(text: string): ProjectRole {
  const role = PROJECT_ROLES.find((candidate) => candidate.toLowerCase() === text.toLowerCase());
  if (!role) throw new UsageError(`role: one of ${PROJECT_ROLES.join(', ')}, not '${text}'`);
  return role;
}

/** `alice`, `user:alice` or `group:NAME`. */
function parseMember(text: string): { kind: Member['kind']; name: string } {
  const match = /^(user|group):(.+)$/.exec(text);
  const member = match
    ? { kind: match[1] as Member['kind'], name: match[2] as string }
    : { kind: 'user' as const, name: text };
  if (member.name === '') throw new UsageError('member: give a user name or group:NAME');
  return member;
}

const RELATIVE = /^(\d+)([smhdw])$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS };

/** An ISO 8601 date or date-time, milliseconds since the epoch, or a duration ago (`30m`, `24h`, `7d`). */
export function parseTimeFlag(flag: string, text: string | undefined, now = Date.now()): number | undefined {
  if (text === undefined) return undefined;
  const relative = RELATIVE.exec(text);
  if (relative) return now - Number(relative[1]) * (UNIT_MS[relative[2] as string] as number);
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (Number.isNaN(ms)) {
    throw new UsageError(`${flag}: an ISO 8601 time, milliseconds, or a duration such as 30m, 24h or 7d`);
  }
  return ms;
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** `10000000`, `10MB`, `9.5 GiB`: a whole number of bytes. */
export function parseBytes(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/i.exec(text.trim());
  const bytes = match
    ? Number(match[1]) * (BYTE_UNITS[(match[2] ?? 'b').toLowerCase()] as number)
    : Number.NaN;
  if (!Number.isSafeInteger(Math.round(bytes)) || (match?.[2] === undefined && !Number.isInteger(bytes))) {
    throw new UsageError(`${flag}: a number of bytes, optionally with a unit (500MB, 10GiB), not '${text}'`);
  }
  return Math.round(bytes);
}

function path(...segments: string[]): string {
  return segments.map((segment) => `/${encodeURIComponent(segment)}`).join('');
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

// --- the verbs -----------------------------------------------------------------------------------------

function userCommands(program: Command): void {
  const user = group(program, 'user', 'manage users (system administrators; passwd also for yourself)');
  connected(user.command('add').argument('<name>', 'user name').description('create a local user'), {
    password: false,
  })
    .option('--password <password>', "the new user's password (prefer --password-stdin)")
    .option('--password-stdin', "read the new user's password from standard input")
    .option('--admin', 'make them a system administrator')
    .option('--email <address>', 'e-mail address')
    .action(
      run(
        async (
          client,
          name: string,
          flags: { password?: string; passwordStdin?: boolean; admin?: boolean; email?: string },
        ) => {
          const password = await newPassword(flags);
          const created = await client.request<User>('POST', '/users', {
            body: {
              username: name,
              password,
              ...(flags.admin && { systemAdmin: true }),
              ...(flags.email !== undefined && { email: flags.email }),
            },
          });
          out(`created user ${created.username}${created.systemAdmin ? ' (system administrator)' : ''}`);
        },
        { ownPassword: true },
      ),
    );

  connected(user.command('list').description('list users'))
    .option('--json', 'print JSON')
    .action(
      run(async (client, flags: { json?: boolean }) => {
        const users = await collect(client.items<User>('/users', { limit: 1000 }));
        if (flags.json) return out(JSON.stringify(users, null, 2));
        out(
          formatTable(
            ['USERNAME', 'ADMIN', 'DISABLED', 'SOURCE', 'EMAIL'],
            users.map((u) => [u.username, yesNo(u.systemAdmin), yesNo(u.disabled), u.source, u.email ?? '']),
          ),
        );
      }),
    );

  connected(
    user
      .command('passwd')
      .argument('<name>', 'user name')
      .description("set a user's password (yours: log in with the current one)"),
    { password: false },
  )
    .option('--password <password>', 'the new password (prefer --password-stdin)')
    .option('--password-stdin', 'read the new password from standard input')
    .action(
      run(
        async (
          client,
          name: string,
          flags: { password?: string; passwordStdin?: boolean },
          command: Command,
        ) => {
          const password = await newPassword(flags);
          // Changing one's own password takes the current one: the password this command logs in with.
          let root: Command = command;
          while (root.parent) root = root.parent;
          const login = command.opts<ConnectionFlags>().user ?? root.opts<ConnectionFlags>().user;
          const current = root.opts<ConnectionFlags>().password;
          await client.request('PUT', `/users${path(name)}/password`, {
            body: { password, ...(login === name && current !== undefined && { currentPassword: current }) },
          });
          out(`changed the password of ${name}`);
        },
        { ownPassword: true },
      ),
    );

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    connected(
      user
        .command(verb)
        .argument('<name>', 'user name')
        .description(disabled ? 'stop a user from logging in' : 'let a disabled user log in again'),
    ).action(
      run(async (client, name: string) => {
        await client.request<User>('PATCH', `/users${path(name)}`, { body: { disabled } });
        out(`${verb}d user ${name}`);
      }),
    );
  }
  sessionCommands(user, { connected, run });
}

function projectCommands(program: Command): void {
  const project = group(program, 'project', 'manage projects, their members, quotas and immutable tags');
  connected(project.command('create').argument('<name>', 'project name').description('create a project'))
    .option('--public', 'anyone may pull, anonymous included')
    .option('--proxy <url>', 'a pull-through cache of this registry, e.g. https://registry-1.docker.io')
    .option('--proxy-username <name>', "the upstream account (needs the server's replication.secretKey)")
    .option(
      '--proxy-password <password>',
      'its password or token (env BERTH_PROXY_PASSWORD keeps it out of ps)',
    )
    .action(
      run(
        async (
          client,
          name: string,
          flags: { public?: boolean; proxy?: string; proxyUsername?: string; proxyPassword?: string },
        ) => {
          const password = flags.proxyPassword ?? process.env.BERTH_PROXY_PASSWORD;
          if (!flags.proxy && (flags.proxyUsername || flags.proxyPassword)) {
            throw new Error('--proxy-username and --proxy-password need --proxy');
          }
          const proxy = flags.proxy && {
            url: flags.proxy,
            ...(flags.proxyUsername && { username: flags.proxyUsername }),
            ...(flags.proxyUsername && password && { password }),
          };
          const created = await client.request<Project & { proxy?: { url: string } | null }>(
            'POST',
            '/projects',
            { body: { name, ...(flags.public && { public: true }), ...(proxy && { proxy }) } },
          );
          const kind = created.public ? 'public' : 'private';
          const cache = created.proxy ? `, a pull-through cache of ${created.proxy.url}` : '';
          out(`created project ${created.name} (${kind}${cache})`);
        },
      ),
    );

  connected(project.command('list').description('list the projects you can see'))
    .option('--json', 'print JSON')
    .action(
      run(async (client, flags: { json?: boolean }) => {
        const projects = await collect(client.items<Project>('/projects', { limit: 1000 }));
        if (flags.json) return out(JSON.stringify(projects, null, 2));
        out(
          formatTable(
            ['NAME', 'PUBLIC', 'PUSH ALLOWLIST'],
            projects.map((p) => [p.name, yesNo(p.public), p.pushAllowlist?.join(',') ?? 'anywhere']),
          ),
        );
      }),
    );

  const member = project.command('member').description("manage a project's members");
  connected(
    member
      .command('add')
      .argument('<project>', 'project name')
      .argument('<member>', 'a user name, or group:NAME for an LDAP group')
      .argument('<role>', PROJECT_ROLES.join(', '))
      .description('add a member, or change their role'),
  ).action(
    run(async (client, projectName: string, memberText: string, roleText: string) => {
      const { kind, name } = parseMember(memberText);
      const role = parseRole(roleText);
      const set = await client.request<Member>(
        'PUT',
        `/projects${path(projectName, 'members', kind, name)}`,
        {
          body: { role },
        },
      );
      out(`${set.kind} ${set.name} is ${set.role} in ${projectName}`);
    }),
  );

  lifecycleCommands(project);
  retentionCommands(project, { connected, run });
  const artifact = signatureCommands(program, project, { connected, run });
  scanningCommands(program, project, artifact, { connected, run });
}

interface Quota {
  limitBytes: number | null;
  usedBytes: number;
}

function describeQuota(name: string, quota: Quota): string {
  const used = `${formatBytes(quota.usedBytes)} used`;
  if (quota.limitBytes === null) return `${name}: ${used}, no quota (${quota.usedBytes} bytes)`;
  return `${name}: ${used} of ${formatBytes(quota.limitBytes)} (${quota.usedBytes} of ${quota.limitBytes} bytes)`;
}

/** `berth project quota` and `berth project immutable …`. */
function lifecycleCommands(project: Command): void {
  connected(
    project
      .command('quota')
      .argument('<project>', 'project name')
      .description(
        "show a project's storage quota and usage; --set or --unset changes it (system administrators)",
      ),
  )
    .option('--set <bytes>', 'set the quota: bytes, or with a unit (500MB, 10GiB)')
    .option('--unset', 'remove the quota')
    .option('--json', 'print JSON')
    .action(
      run(async (client, name: string, flags: { set?: string; unset?: boolean; json?: boolean }) => {
        if (flags.set !== undefined && flags.unset) throw new UsageError('give --set or --unset, not both');
        const change = flags.unset
          ? null
          : flags.set === undefined
            ? undefined
            : parseBytes('--set', flags.set);
        const quota =
          change === undefined
            ? await client.request<Quota>('GET', `/projects${path(name)}/quota`)
            : await client.request<Quota>('PUT', `/projects${path(name)}/quota`, {
                body: { limitBytes: change },
              });
        out(flags.json ? JSON.stringify(quota, null, 2) : describeQuota(name, quota));
      }),
    );

  const immutable = project
    .command('immutable')
    .description("manage a project's tag immutability rules: matching tags, once pushed, never move or go");
  connected(
    immutable
      .command('add')
      .argument('<project>', 'project name')
      .description('add a rule (globs: * and ? within a path segment, ** across segments)'),
  )
    .requiredOption('--repository <glob>', 'repositories it covers, e.g. team/** (the whole name)')
    .requiredOption('--tag <glob>', 'tags it protects, e.g. v*')
    .action(
      run(async (client, name: string, flags: { repository: string; tag: string }) => {
        const rule = await client.request<ImmutabilityRule>('POST', `/projects${path(name)}/immutability`, {
          body: { repositoryPattern: flags.repository, tagPattern: flags.tag },
        });
        out(
          `added rule ${rule.id} to ${name}: repository "${rule.repositoryPattern}", tag "${rule.tagPattern}"`,
        );
      }),
    );
  connected(
    immutable.command('list').argument('<project>', 'project name').description("list a project's rules"),
  )
    .option('--json', 'print JSON')
    .action(
      run(async (client, name: string, flags: { json?: boolean }) => {
        const { items } = await client.request<{ items: ImmutabilityRule[] }>(
          'GET',
          `/projects${path(name)}/immutability`,
        );
        if (flags.json) return out(JSON.stringify(items, null, 2));
        out(
          formatTable(
            ['ID', 'REPOSITORY', 'TAG', 'CREATED'],
            items.map((r) => [String(r.id), r.repositoryPattern, r.tagPattern, isoTime(r.createdAt)]),
          ),
        );
      }),
    );
  connected(
    immutable
      .command('remove')
      .argument('<project>', 'project name')
      .argument('<id>', 'rule id (see list)')
      .description('remove a rule'),
  ).action(
    run(async (client, name: string, id: string) => {
      if (!/^\d{1,15}$/.test(id)) throw new UsageError(`id: a rule number, not '${id}'`);
      await client.request('DELETE', `/projects${path(name, 'immutability', id)}`);
      out(`removed rule ${id} from ${name}`);
    }),
  );
}

function printSecret(login: string, secret: string, hint: string): void {
  out(`login:  ${login}\nsecret: ${secret}`);
  process.stderr.write(`Store the secret now: it is not shown again. ${hint}\n`);
}

function robotCommands(program: Command): void {
  const robot = group(program, 'robot', 'manage robot accounts');
  connected(
    robot
      .command('create')
      .argument('<name>', 'robot name; it logs in as robot$<name>')
      .description('create a robot account and print its secret (once)'),
  )
    .requiredOption('--project <project...>', "project(s) it works on ('*': all, for system administrators)")
    .requiredOption('--actions <list>', `comma-separated: ${ACTIONS.join(', ')}`)
    .option('--expires-days <days>', 'stop working after this many days')
    .option('--description <text>', 'what it is for')
    .option('--json', 'print JSON')
    .action(
      run(
        async (
          client,
          name: string,
          flags: {
            project: string[];
            actions: string;
            expiresDays?: string;
            description?: string;
            json?: boolean;
          },
        ) => {
          const actions = parseActions(flags.actions);
          const expiresAt = parseExpiryDays(flags.expiresDays);
          const created = await client.request<{ robot: Robot; login: string; secret: string }>(
            'POST',
            '/robots',
            {
              body: {
                name,
                permissions: flags.project.map((project) => ({ project, actions })),
                ...(expiresAt !== undefined && { expiresAt }),
                ...(flags.description !== undefined && { description: flags.description }),
              },
            },
          );
          if (flags.json) return out(JSON.stringify(created, null, 2));
          printSecret(
            created.login,
            created.secret,
            `Log in with: --user '${created.login}' and the secret.`,
          );
        },
      ),
    );
}

function tokenCommands(program: Command): void {
  const token = group(program, 'token', 'manage personal access tokens');
  connected(
    token
      .command('create')
      .argument('<name>', 'what the token is for')
      .description('create a personal access token, used as your password, and print it (once)'),
  )
    .option('--project <project...>', 'limit it to these projects (with --actions)')
    .option('--actions <list>', `comma-separated: ${ACTIONS.join(', ')}`)
    .option('--expires-days <days>', 'stop working after this many days')
    .option('--for <user>', "another user's token (system administrators)")
    .option('--json', 'print JSON')
    .action(
      run(
        async (
          client,
          name: string,
          flags: { project?: string[]; actions?: string; expiresDays?: string; for?: string; json?: boolean },
          command: Command,
        ) => {
          if ((flags.project === undefined) !== (flags.actions === undefined)) {
            throw new UsageError(
              'give --project and --actions together, or neither (a token that may do all you may)',
            );
          }
          const actions = flags.actions === undefined ? undefined : parseActions(flags.actions);
          const expiresAt = parseExpiryDays(flags.expiresDays);
          let root: Command = command;
          while (root.parent) root = root.parent;
          const owner =
            flags.for ?? command.opts<ConnectionFlags>().user ?? root.opts<ConnectionFlags>().user;
          if (!owner)
            throw new UsageError('log in with --user (or BERTH_USER), or name the owner with --for');
          const created = await client.request<{ token: AccessToken; secret: string }>(
            'POST',
            `/users${path(owner)}/tokens`,
            {
              body: {
                name,
                ...(actions && {
                  permissions: (flags.project ?? []).map((project) => ({ project, actions })),
                }),
                ...(expiresAt !== undefined && { expiresAt }),
              },
            },
          );
          if (flags.json) return out(JSON.stringify(created, null, 2));
          printSecret(owner, created.secret, `Use it as the password of ${owner}.`);
        },
      ),
    );
}

function auditCommand(program: Command): void {
  const audit = program
    .command('audit')
    .description('show the audit log, newest first; `audit anomalies`: what the detector found')
    .exitOverride(onCommanderExit)
    // `berth audit anomalies --limit 5`: flags after the subcommand are the subcommand's.
    .enablePositionalOptions();
  anomalyCommands(audit, { connected, run });
  connected(audit)
    .option('--actor <name>', 'only this actor (a user name or robot$name)')
    .option('--action <action>', 'only this action (push, pull, login, user.create, member.set, …)')
    .option('--resource <prefix>', 'only resources starting with this')
    .option('--project <name>', "only this project's events (project administrators must give it)")
    .option('--since <time>', 'from this time: ISO 8601, milliseconds, or a duration ago (30m, 24h, 7d)')
    .option('--until <time>', 'before this time (same forms)')
    .option('--limit <n>', 'at most this many events', '100')
    .option('--json', 'print one JSON object per line')
    .action(
      run(
        async (
          client,
          flags: {
            actor?: string;
            action?: string;
            resource?: string;
            project?: string;
            since?: string;
            until?: string;
            limit: string;
            json?: boolean;
          },
        ) => {
          if (!/^\d+$/.test(flags.limit) || Number(flags.limit) < 1) {
            throw new UsageError(`--limit: a positive whole number, not '${flags.limit}'`);
          }
          const limit = Number(flags.limit);
          const query = {
            actor: flags.actor,
            action: flags.action,
            resource: flags.resource,
            project: flags.project,
            from: parseTimeFlag('--since', flags.since),
            to: parseTimeFlag('--until', flags.until),
            limit: Math.min(limit, 1000),
          };
          const events: AuditEvent[] = [];
          for await (const event of client.items<AuditEvent>('/audit', query, 'before')) {
            events.push(event);
            if (events.length >= limit) break;
          }
          if (flags.json) {
            out(events.map((event) => JSON.stringify(event)).join('\n'));
            return;
          }
          out(
            formatTable(
              ['TIME', 'ACTOR', 'ACTION', 'RESOURCE', 'RESULT', 'SOURCE'],
              events.map((e) => [isoTime(e.time), e.actor, e.action, e.resource, e.result, e.sourceIp ?? '']),
            ),
          );
        },
      ),
    );
}

/** Adds the admin verbs and their connection flags to the `berth` program. */
export function registerAdminCommands(program: Command): void {
  // Flags before a verb belong to `berth` itself, flags after it to the verb: `user add --password` is the new
  // user's, `berth --password … user add` the caller's.
  program
    .enablePositionalOptions()
    .addOption(new Option('--server <url>', 'Berth server the admin commands talk to').env('BERTH_SERVER'))
    .addOption(new Option('-u, --user <name>', 'log in as (admin commands)').env('BERTH_USER'))
    .addOption(new Option('--password <password>', 'password, token or robot secret').env('BERTH_PASSWORD'));
  userCommands(program);
  projectCommands(program);
  robotCommands(program);
  tokenCommands(program);
  auditCommand(program);
  gcCommands(program, { connected, run });
  scrubCommands(program, { connected, run });
  webhookCommands(program, { connected, run });
  replicationCommands(program, { connected, run });
}
