import type { Command } from 'commander';
import type { Session } from '../accounts/index.js';
import type { CommandKit } from './admin-kit.js';
import { UsageError } from './api-client.js';
import { isoTime, out, printList } from './table-output.js';

const segment = (name: string) => `/${encodeURIComponent(name)}`;

/**
 * `berth user session list|revoke`: a user's sessions (the refresh tokens `docker login` and other OAuth2
 * clients hold), listed and revoked one by one or all at once ("sign out everywhere", which also voids the
 * user's access tokens). Users manage their own, system administrators anyone's.
 */
export function sessionCommands(user: Command, kit: CommandKit): void {
  const session = user.command('session').description("list and revoke a user's sessions (refresh tokens)");

  kit
    .connected(session.command('list').argument('<name>', 'user name').description("list a user's sessions"))
    .option('--json', 'print JSON')
    .action(
      kit.run(async (client, name: string, flags: { json?: boolean }) => {
        const sessions: Session[] = [];
        for await (const item of client.items<Session>(`/users${segment(name)}/sessions`, { limit: 1000 })) {
          sessions.push(item);
        }
        printList(sessions, flags, ['ID', 'ISSUED', 'LAST USED', 'EXPIRES', 'CLIENT', 'SOURCE'], (s) => [
          s.id,
          isoTime(s.issuedAt),
          s.lastUsedAt === null ? 'never' : isoTime(s.lastUsedAt),
          isoTime(s.expiresAt),
          s.clientId ?? s.userAgent ?? '',
          s.sourceIp ?? '',
        ]);
      }),
    );

  kit
    .connected(
      session
        .command('revoke')
        .argument('<name>', 'user name')
        .argument('[id]', 'the session to revoke (see session list)')
        .description('revoke one session, or with --all every one and the access tokens issued so far'),
    )
    .option('--all', 'sign out everywhere')
    .action(
      kit.run(async (client, name: string, id: string | undefined, flags: { all?: boolean }) => {
        if ((id === undefined) === (flags.all !== true)) {
          throw new UsageError('give a session id, or --all (sign out everywhere), not both');
        }
        if (id !== undefined) {
          await client.request('DELETE', `/users${segment(name)}/sessions${segment(id)}`);
          return out(`revoked session ${id} of ${name}`);
        }
        const result = await client.request<{ revoked: number }>('DELETE', `/users${segment(name)}/sessions`);
        out(
          `signed ${name} out everywhere: ${result.revoked} session(s) revoked, earlier access tokens void`,
        );
      }),
    );
}
