import type { Command } from 'commander';
import type { AccessToken } from '../accounts/index.js';
import { ACTIONS } from '../auth/index.js';
import { type ConnectionFlags, connected, group, path, printSecret, run } from './admin-kit.js';
import { UsageError } from './api-client.js';
import { parseActions, parseExpiryDays } from './flag-parsing.js';
import { out } from './table-output.js';

/** `berth token create`: personal access tokens. */
export function tokenCommands(program: Command): void {
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
