import type { Command } from 'commander';
import type { Member, Project } from '../accounts/index.js';
import { PROJECT_ROLES } from '../auth/index.js';
import { collect, connected, group, path, run } from './admin-kit.js';
import { parseMember, parseRole } from './flag-parsing.js';
import { projectLifecycleCommands } from './project-lifecycle-commands.js';
import { retentionCommands } from './retention-commands.js';
import { scanningCommands } from './scanning-commands.js';
import { signatureCommands } from './signature-commands.js';
import { out, printList, yesNo } from './table-output.js';

/** `berth project create|list|member add`, with the project's quota, immutability, retention, signatures and scans. */
export function projectCommands(program: Command): void {
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
        printList(projects, flags, ['NAME', 'PUBLIC', 'PUSH ALLOWLIST'], (p) => [
          p.name,
          yesNo(p.public),
          p.pushAllowlist?.join(',') ?? 'anywhere',
        ]);
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

  projectLifecycleCommands(project);
  retentionCommands(project, { connected, run });
  const artifact = signatureCommands(program, project, { connected, run });
  scanningCommands(program, project, artifact, { connected, run });
}
