import type { Command } from 'commander';
import type { Robot } from '../accounts/index.js';
import { ACTIONS } from '../auth/index.js';
import { connected, group, printSecret, run } from './admin-kit.js';
import { parseActions, parseExpiryDays } from './flag-parsing.js';
import { out } from './table-output.js';

/** `berth robot create`. */
export function robotCommands(program: Command): void {
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
