import type { Command } from 'commander';
import { formatBytes, type ImmutabilityRule } from '../lifecycle/index.js';
import { connected, path, run } from './admin-kit.js';
import { UsageError } from './api-client.js';
import { parseBytes } from './flag-parsing.js';
import { isoTime, out, printList } from './table-output.js';

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
export function projectLifecycleCommands(project: Command): void {
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
        printList(items, flags, ['ID', 'REPOSITORY', 'TAG', 'CREATED'], (r) => [
          String(r.id),
          r.repositoryPattern,
          r.tagPattern,
          isoTime(r.createdAt),
        ]);
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
