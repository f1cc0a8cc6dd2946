import type { Command } from 'commander';
import type { User } from '../accounts/index.js';
import { type ConnectionFlags, collect, connected, group, path, run } from './admin-kit.js';
import { newPassword } from './password-input.js';
import { sessionCommands } from './session-commands.js';
import { out, printList, yesNo } from './table-output.js';

/** `berth user add|list|passwd|disable|enable` and `berth user session …`. */
export function userCommands(program: Command): void {
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
        printList(users, flags, ['USERNAME', 'ADMIN', 'DISABLED', 'SOURCE', 'EMAIL'], (u) => [
          u.username,
          yesNo(u.systemAdmin),
          yesNo(u.disabled),
          u.source,
          u.email ?? '',
        ]);
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
