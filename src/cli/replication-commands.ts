import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { formatBytes } from '../lifecycle/index.js';
import type { ExecutionProgress } from '../replication/index.js';
import type { CommandKit } from './admin-kit.js';
import { ApiCallError, type ApiClient, UsageError } from './api-client.js';
import { readStdinSecret } from './password-input.js';
import { formatTable, isoTime, out, printList, yesNo } from './table-output.js';

/** A remote registry, a policy, an execution and a task as /api/v1 answers them. */
interface RemoteRegistry {
  name: string;
  url: string;
  username: string | null;
  hasPassword: boolean;
}

interface Policy {
  id: number;
  name: string;
  registry: string;
  direction: 'push' | 'pull';
  repositories: string;
  tags: string;
  rewrite: { from: string; to: string } | null;
  trigger: string;
  schedule: string | null;
  replicateDeletes: boolean;
  enabled: boolean;
}

interface Execution {
  id: number;
  trigger: string;
  status: string;
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
  progress: ExecutionProgress | null;
  tasks?: {
    operation: string;
    sourceRepository: string;
    sourceReference: string;
    targetRepository: string;
    status: string;
    bytes: number;
    error: string | null;
  }[];
}

const POLL_MS = 500;
const BAR_WIDTH = 30;

/** `[#########---------------------] 3/10 artifacts, 12.5 MB` */
export function replicationProgressLine(progress: ExecutionProgress | null, width = BAR_WIDTH): string {
  if (!progress) return 'planning …';
  const ratio = progress.total > 0 ? Math.min(1, progress.done / progress.total) : 1;
  const filled = Math.round(ratio * width);
  const failed = progress.failed > 0 ? `, ${progress.failed} failed` : '';
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${progress.done}/${progress.total} artifacts, ${formatBytes(progress.bytes)}${failed}`;
}

/** One line on how an execution ended. */
export function describeExecution(execution: Execution): string {
  const p = execution.progress;
  const head = `execution ${execution.id} ${execution.status}`;
  if (!p) return execution.error ? `${head}: ${execution.error}` : head;
  const parts = [`${p.succeeded} copied`];
  if (p.failed) parts.push(`${p.failed} failed`);
  if (p.immutable) parts.push(`${p.immutable} immutable on target`);
  if (p.skipped) parts.push(`${p.skipped} skipped`);
  return `${head}: ${p.total} artifacts (${parts.join(', ')}), ${formatBytes(p.bytes)} sent${execution.error ? `; ${execution.error}` : ''}`;
}

/** A policy by id or name. */
async function policyOf(client: ApiClient, reference: string): Promise<Policy> {
  const { items } = await client.request<{ items: Policy[] }>('GET', '/replication/policies');
  const found = items.find((p) => String(p.id) === reference || p.name === reference);
  if (!found) throw new UsageError(`no replication policy '${reference}' (berth replication list)`);
  return found;
}

/** Polls the execution until it ends: a bar redrawn in place on a terminal, nothing otherwise. */
async function waitFor(client: ApiClient, policy: Policy, started: Execution): Promise<Execution> {
  const tty = process.stderr.isTTY === true;
  let current = started;
  let drawn = false;
  while (current.status === 'running') {
    if (tty) {
      const line = `${policy.name} #${current.id}: ${replicationProgressLine(current.progress)}`;
      process.stderr.write(`\r${line.slice(0, (process.stderr.columns || 80) - 1)}\x1b[K`);
      drawn = true;
    }
    await sleep(POLL_MS);
    current = await client.request<Execution>(
      'GET',
      `/replication/policies/${policy.id}/executions/${current.id}`,
    );
  }
  if (drawn) process.stderr.write('\r\x1b[K');
  return client.request<Execution>('GET', `/replication/policies/${policy.id}/executions/${current.id}`, {
    query: { status: 'failed' },
  });
}

async function finish(client: ApiClient, policy: Policy, started: Execution, flags: RunFlags): Promise<void> {
  if (!flags.wait) {
    if (flags.json) return out(JSON.stringify(started, null, 2));
    return out(
      `started execution ${started.id} of ${policy.name} (berth replication executions ${policy.name})`,
    );
  }
  const ended = await waitFor(client, policy, started);
  if (flags.json) return out(JSON.stringify(ended, null, 2));
  out(describeExecution(ended));
  for (const task of ended.tasks ?? []) {
    out(
      `  failed: ${task.sourceRepository}:${task.sourceReference} → ${task.targetRepository}: ${task.error}`,
    );
  }
  if (ended.status !== 'succeeded') {
    process.stderr.write(
      `berth: retry the failed tasks: berth replication retry ${policy.name} ${ended.id}\n`,
    );
    process.exitCode = 1;
  }
}

interface RunFlags {
  wait?: boolean;
  json?: boolean;
}

interface PolicyFlags {
  registry?: string;
  direction?: string;
  repositories?: string;
  tags?: string;
  artifactType?: string;
  rewrite?: string;
  prefix?: string;
  trigger?: string;
  schedule?: string;
  replicateDeletes?: boolean;
  referrers?: boolean | string;
  bytesPerSecond?: string;
  enabled?: boolean;
  description?: string;
  eventSecretStdin?: boolean;
}

/** The body fields the flags set (left out: unchanged on update, defaults on create). */
function policyBody(flags: PolicyFlags): Record<string, unknown> {
  if (flags.rewrite !== undefined && flags.prefix !== undefined) {
    throw new UsageError('--rewrite and --prefix: one or the other');
  }
  let rewrite: { from: string; to: string } | undefined;
  if (flags.rewrite !== undefined) {
    const [from, to, ...rest] = flags.rewrite.split('=');
    if (!from || !to || rest.length > 0)
      throw new UsageError(`--rewrite: FROM=TO (team/**=branch-a/team/**)`);
    rewrite = { from, to };
  }
  if (flags.prefix !== undefined) rewrite = { from: '**', to: `${flags.prefix.replace(/\/+$/, '')}/**` };
  let referrers = flags.referrers;
  if (typeof referrers === 'string') {
    if (referrers !== 'on' && referrers !== 'off')
      throw new UsageError(`--referrers: on or off, not '${referrers}'`);
    referrers = referrers === 'on';
  }
  let bytesPerSecond: number | undefined;
  if (flags.bytesPerSecond !== undefined) {
    if (!/^[1-9]\d{0,15}$/.test(flags.bytesPerSecond)) {
      throw new UsageError(`--bytes-per-second: a positive whole number, not '${flags.bytesPerSecond}'`);
    }
    bytesPerSecond = Number(flags.bytesPerSecond);
  }
  const body: Record<string, unknown> = {
    registry: flags.registry,
    direction: flags.direction,
    repositories: flags.repositories,
    tags: flags.tags,
    artifactType: flags.artifactType,
    rewrite,
    trigger: flags.trigger,
    schedule: flags.schedule,
    replicateDeletes: flags.replicateDeletes,
    referrers,
    bytesPerSecond,
    enabled: flags.enabled,
    description: flags.description,
  };
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

function policyOptions(command: Command, creating: boolean): Command {
  const registry = '--registry <name>';
  const direction = '--direction <push|pull>';
  const repositories = '--repositories <glob>';
  const withOptions = (
    creating
      ? command
          .requiredOption(registry, 'the remote registry (berth replication registry list)')
          .requiredOption(direction, 'push: from here to the remote; pull: from the remote to here')
          .requiredOption(repositories, 'source repositories, a glob: team/**')
      : command
          .option(registry, 'the remote registry')
          .option(direction, 'push or pull')
          .option(repositories, 'source repositories, a glob')
  )
    .option('--tags <glob>', 'tags to copy, a glob (default every tag)')
    .option('--artifact-type <type>', "'image', or an artifact/config media type (default any)")
    .option('--rewrite <from=to>', 'destination names: team/**=branch-a/team/**')
    .option('--prefix <prefix>', 'destination names: <prefix>/<source name>')
    .option(
      '--trigger <trigger>',
      'manual, schedule or event (push: on each push here; pull: on each event the remote sends)',
    )
    .option('--schedule <cron>', 'cron (UTC) for --trigger schedule: "0 2 * * *"')
    .option('--replicate-deletes', 'event policies: deletes at the source are made at the target too')
    .option(
      '--event-secret-stdin',
      'pull policies with --trigger event: read the secret the remote proves its events with from standard input',
    )
    .option('--bytes-per-second <n>', 'bandwidth limit per execution')
    .option('--description <text>', 'for people');
  // Commander gives a --no-x flag a default (true), which an update must not send.
  return creating
    ? withOptions.option('--no-referrers', 'leave signatures, SBOMs and other referrers behind')
    : withOptions
        .option('--no-replicate-deletes', 'deletes at the source stay there')
        .option('--referrers <on|off>', 'copy signatures, SBOMs and other referrers too, or not');
}

/**
 * `berth replication …`: remote registries, replication policies, their executions (system administrators).
 */
export function replicationCommands(program: Command, kit: CommandKit): void {
  const { connected, run } = kit;
  const replication = program
    .command('replication')
    .description('replicate to and from other registries: remote registries, policies, executions');

  // ------------------------------------------------------------------------------------------- registries
  const registry = replication.command('registry').description('remote registries policies copy to or from');
  connected(registry.command('list').description('list remote registries'))
    .option('--json', 'print JSON')
    .action(
      run(async (client, flags: { json?: boolean }) => {
        const { items } = await client.request<{ items: RemoteRegistry[] }>('GET', '/registries');
        printList(items, flags, ['NAME', 'URL', 'USERNAME', 'PASSWORD'], (r) => [
          r.name,
          r.url,
          r.username ?? '-',
          r.hasPassword ? 'stored' : '-',
        ]);
      }),
    );
  connected(
    registry
      .command('add')
      .argument('<name>', 'how policies name it')
      .argument('<url>', 'https://registry.example.com')
      .description('add a remote registry (the password is read from standard input and stored encrypted)'),
  )
    .option('--username <name>', 'log in as')
    .option('--password-stdin', 'read the password or token from standard input')
    .option('--description <text>', 'for people')
    .action(
      run(
        async (
          client,
          name: string,
          url: string,
          flags: { username?: string; passwordStdin?: boolean; description?: string },
        ) => {
          const password = flags.passwordStdin ? await readStdinSecret('--password-stdin') : undefined;
          if (password !== undefined && flags.username === undefined) {
            throw new UsageError('--password-stdin needs --username');
          }
          const added = await client.request<RemoteRegistry>('POST', '/registries', {
            body: {
              name,
              url,
              ...(flags.username !== undefined && { username: flags.username }),
              ...(password !== undefined && { password }),
              ...(flags.description !== undefined && { description: flags.description }),
            },
          });
          out(
            `added registry ${added.name}: ${added.url}${added.hasPassword ? ` as ${added.username}` : ''}`,
          );
        },
      ),
    );
  connected(
    registry
      .command('update')
      .argument('<name>', 'the registry')
      .description('change its URL or credentials'),
  )
    .option('--url <url>', 'the new base URL')
    .option('--username <name>', 'log in as')
    .option('--password-stdin', 'read the new password from standard input')
    .option('--anonymous', 'forget the username and password')
    .action(
      run(
        async (
          client,
          name: string,
          flags: { url?: string; username?: string; passwordStdin?: boolean; anonymous?: boolean },
        ) => {
          const body: Record<string, unknown> = {};
          if (flags.url !== undefined) body.url = flags.url;
          if (flags.username !== undefined) body.username = flags.username;
          if (flags.passwordStdin) body.password = await readStdinSecret('--password-stdin');
          if (flags.anonymous) Object.assign(body, { username: null, password: null });
          const changed = await client.request<RemoteRegistry>(
            'PATCH',
            `/registries/${encodeURIComponent(name)}`,
            {
              body,
            },
          );
          out(`changed registry ${changed.name}: ${changed.url}`);
        },
      ),
    );
  connected(
    registry.command('remove').argument('<name>', 'the registry').description('remove a registry'),
  ).action(
    run(async (client, name: string) => {
      await client.request('DELETE', `/registries/${encodeURIComponent(name)}`);
      out(`removed registry ${name}`);
    }),
  );
  connected(
    registry
      .command('test')
      .argument('<name>', 'the registry')
      .description('check that it answers and lets the stored credentials in'),
  ).action(
    run(async (client, name: string) => {
      const check = await client.request<{ ok: boolean; error?: string; latencyMs: number }>(
        'POST',
        `/registries/${encodeURIComponent(name)}/test`,
      );
      if (check.ok) return out(`registry ${name}: ok (${check.latencyMs} ms)`);
      process.stderr.write(`berth: registry ${name}: ${check.error ?? 'failed'}\n`);
      process.exitCode = 1;
    }),
  );

  // --------------------------------------------------------------------------------------------- policies
  connected(replication.command('list').description('list replication policies'))
    .option('--json', 'print JSON')
    .action(
      run(async (client, flags: { json?: boolean }) => {
        const { items } = await client.request<{ items: Policy[] }>('GET', '/replication/policies');
        printList(
          items,
          flags,
          [
            'ID',
            'NAME',
            'DIRECTION',
            'REGISTRY',
            'REPOSITORIES',
            'TAGS',
            'REWRITE',
            'TRIGGER',
            'DELETES',
            'ENABLED',
          ],
          (p) => [
            String(p.id),
            p.name,
            p.direction,
            p.registry,
            p.repositories,
            p.tags,
            p.rewrite ? `${p.rewrite.from} → ${p.rewrite.to}` : '-',
            p.trigger === 'schedule' ? `schedule ${p.schedule}` : p.trigger,
            yesNo(p.replicateDeletes),
            yesNo(p.enabled),
          ],
        );
      }),
    );
  policyOptions(
    connected(replication.command('create').argument('<name>', 'the policy').description('add a policy')),
    true,
  )
    .option('--disabled', 'add it switched off')
    .action(
      run(async (client, name: string, flags: PolicyFlags & { disabled?: boolean }) => {
        const body: Record<string, unknown> = {
          name,
          trigger: 'manual',
          ...policyBody(flags),
          ...(flags.disabled && { enabled: false }),
        };
        if (flags.eventSecretStdin) body.eventSecret = await readStdinSecret('--event-secret-stdin');
        const created = await client.request<Policy>('POST', '/replication/policies', { body });
        out(
          `added replication policy ${created.id} ${created.name}: ${created.direction} ${created.repositories} (${created.trigger})`,
        );
        if (created.direction === 'pull' && created.trigger === 'event') {
          out(`  the remote sends its events to: POST /api/v1/replication/policies/${created.id}/events`);
        }
      }),
    );
  policyOptions(
    connected(
      replication.command('update').argument('<policy>', 'id or name').description('change a policy'),
    ),
    false,
  )
    .option('--enable', 'switch it on')
    .option('--disable', 'switch it off')
    .action(
      run(async (client, reference: string, flags: PolicyFlags & { enable?: boolean; disable?: boolean }) => {
        const policy = await policyOf(client, reference);
        const body = policyBody(flags);
        if (flags.eventSecretStdin) body.eventSecret = await readStdinSecret('--event-secret-stdin');
        if (flags.enable) body.enabled = true;
        if (flags.disable) body.enabled = false;
        const changed = await client.request<Policy>('PATCH', `/replication/policies/${policy.id}`, { body });
        out(`changed replication policy ${changed.id} ${changed.name}`);
      }),
    );
  connected(
    replication.command('delete').argument('<policy>', 'id or name').description('remove a policy'),
  ).action(
    run(async (client, reference: string) => {
      const policy = await policyOf(client, reference);
      await client.request('DELETE', `/replication/policies/${policy.id}`);
      out(`removed replication policy ${policy.id} ${policy.name}`);
    }),
  );

  // ------------------------------------------------------------------------------------------- executions
  connected(
    replication
      .command('run')
      .argument('<policy>', 'id or name')
      .description('start an execution now: every artifact the policy selects'),
  )
    .option('--wait', 'wait for it to end, with a progress bar on a terminal; exit 1 if a task failed')
    .option('--json', 'print the execution as JSON')
    .action(
      run(async (client, reference: string, flags: RunFlags) => {
        const policy = await policyOf(client, reference);
        let started: Execution;
        try {
          started = await client.request<Execution>('POST', `/replication/policies/${policy.id}/executions`);
        } catch (error) {
          if (error instanceof ApiCallError && error.status === 409) {
            throw new ApiCallError(
              `${error.message} (berth replication executions ${policy.name})`,
              409,
              error.code,
            );
          }
          throw error;
        }
        await finish(client, policy, started, flags);
      }),
    );
  connected(
    replication
      .command('retry')
      .argument('<policy>', 'id or name')
      .argument('<execution>', 'the execution whose failed tasks to run again')
      .description('run the tasks an execution did not finish again'),
  )
    .option('--wait', 'wait for it to end, with a progress bar on a terminal')
    .option('--json', 'print the execution as JSON')
    .action(
      run(async (client, reference: string, execution: string, flags: RunFlags) => {
        const policy = await policyOf(client, reference);
        const started = await client.request<Execution>(
          'POST',
          `/replication/policies/${policy.id}/executions/${encodeURIComponent(execution)}/retry`,
        );
        await finish(client, policy, started, flags);
      }),
    );
  connected(
    replication
      .command('executions')
      .argument('<policy>', 'id or name')
      .argument('[execution]', 'one execution: its tasks')
      .description("a policy's executions, newest first; or one execution's tasks"),
  )
    .option('--limit <n>', 'how many executions', '20')
    .option('--failed', "only the execution's failed tasks")
    .option('--json', 'print JSON')
    .action(
      run(
        async (
          client,
          reference: string,
          execution: string | undefined,
          flags: { limit: string; failed?: boolean; json?: boolean },
        ) => {
          const policy = await policyOf(client, reference);
          if (execution !== undefined) {
            const found = await client.request<Execution>(
              'GET',
              `/replication/policies/${policy.id}/executions/${encodeURIComponent(execution)}`,
              { query: { status: flags.failed ? 'failed' : undefined } },
            );
            if (flags.json) return out(JSON.stringify(found, null, 2));
            out(describeExecution(found));
            out(
              formatTable(
                ['OPERATION', 'SOURCE', 'TARGET', 'STATUS', 'BYTES', 'ERROR'],
                (found.tasks ?? []).map((t) => [
                  t.operation,
                  `${t.sourceRepository}:${t.sourceReference}`,
                  t.targetRepository,
                  t.status,
                  formatBytes(t.bytes),
                  t.error ?? '',
                ]),
              ),
            );
            return;
          }
          if (!/^[1-9]\d{0,5}$/.test(flags.limit)) throw new UsageError(`--limit: a positive whole number`);
          const limit = Number(flags.limit);
          const path = `/replication/policies/${policy.id}/executions`;
          const executions = await client.firstItems<Execution>(path, limit);
          printList(
            executions,
            flags,
            ['ID', 'TRIGGER', 'STATUS', 'STARTED', 'DONE', 'FAILED', 'BYTES', 'ERROR'],
            (e) => [
              String(e.id),
              e.trigger,
              e.status,
              isoTime(e.startedAt),
              e.progress ? `${e.progress.done}/${e.progress.total}` : '-',
              e.progress ? String(e.progress.failed) : '-',
              e.progress ? formatBytes(e.progress.bytes) : '-',
              e.error ?? '',
            ],
          );
        },
      ),
    );
}
