import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type {
  RetentionItem,
  RetentionPolicyView,
  RetentionRule,
  RetentionSummary,
} from '../lifecycle/index.js';
import { type CommandKit, path } from './admin-kit.js';
import { UsageError } from './api-client.js';
import { formatTable, isoTime, out, printList, yesNo } from './table-output.js';

/** A run as /api/v1 answers it. */
interface RetentionRun {
  id: number;
  project: string;
  trigger: 'manual' | 'schedule';
  dryRun: boolean;
  status: 'running' | 'succeeded' | 'failed' | 'interrupted';
  requestedBy: string | null;
  startedAt: number;
  finishedAt: number | null;
  progress: { phase?: string; done?: number; total?: number } | null;
  summary: RetentionSummary | null;
  error: string | null;
}

/** How often `run --wait` asks how the run is doing. */
const POLL_MS = 500;

/** `keep the latest 10 pushed of team/** tagged v*, and untagged ones` */
export function describeRule(rule: RetentionRule): string {
  const keep =
    rule.keep === 'latestPushed'
      ? `the ${rule.count} most recently pushed`
      : rule.keep === 'pulledWithin'
        ? `those pulled within ${rule.days} day${rule.days === 1 ? '' : 's'}`
        : 'all';
  const { pattern, match } = rule.tags;
  const tagged =
    match === 'matching'
      ? pattern === '**'
        ? 'tagged'
        : `tagged ${pattern}`
      : pattern === '**'
        ? ''
        : `tagged other than ${pattern}`;
  const what = [tagged, rule.untagged ? 'untagged' : ''].filter(Boolean).join(' or ') || 'none';
  return `keep ${keep} of the ${what} artifacts in ${rule.repositories === '**' ? 'every repository' : rule.repositories}`;
}

export function describePolicy(policy: RetentionPolicyView): string {
  const lines = [
    policy.rules.length === 0
      ? `${policy.project}: no retention rules (nothing is deleted)`
      : `${policy.project}: ${policy.rules.length} retention rule${policy.rules.length === 1 ? '' : 's'}; what none keeps is deleted`,
    ...policy.rules.map((rule, index) => `  ${index + 1}. ${describeRule(rule)}`),
    policy.schedule === null
      ? 'schedule: none (manual runs only)'
      : `schedule: ${policy.schedule} (UTC), next run ${isoTime(policy.nextRunAt)}`,
  ];
  return lines.join('\n');
}

function itemRows(items: RetentionItem[], withReason: boolean): string[][] {
  return items.map((item) => [
    item.repository,
    item.digest,
    item.tags.join(',') || '-',
    withReason ? (item.reason ?? '') : String(item.referrers?.length ?? 0),
  ]);
}

/** What a finished run did, or a dry run would do, with the artifacts listed. */
export function describeRun(run: RetentionRun): string {
  const kind = run.dryRun ? 'dry run' : 'run';
  const head = `retention ${kind} ${run.id} of ${run.project} ${run.status}`;
  const summary = run.summary;
  if (!summary) return run.error ? `${head}: ${run.error}` : head;
  const verb = run.dryRun ? 'would be deleted' : 'deleted';
  const lines = [
    `${head}${run.error ? `: ${run.error}` : ''}`,
    `${summary.artifacts} artifacts under the rules: ${summary.retained} kept, ${summary.deleted.total} ${verb} ` +
      `(with ${summary.referrersDeleted} referrers), ${summary.keptByImmutability.total} kept by immutable tags` +
      (summary.skipped.total > 0 ? `, ${summary.skipped.total} skipped` : '') +
      (summary.untouched > 0 ? `; ${summary.untouched} in repositories no rule applies to` : ''),
  ];
  const section = (title: string, list: RetentionSummary['deleted'], withReason: boolean) => {
    if (list.total === 0) return;
    const more = list.total > list.items.length ? ` (the first ${list.items.length} of ${list.total})` : '';
    lines.push('', `${title}${more}:`);
    lines.push(
      formatTable(
        ['REPOSITORY', 'DIGEST', 'TAGS', withReason ? 'WHY' : 'REFERRERS'],
        itemRows(list.items, withReason),
      ).trimEnd(),
    );
  };
  section(run.dryRun ? 'would be deleted' : 'deleted', summary.deleted, false);
  section('kept by immutable tags', summary.keptByImmutability, true);
  section('skipped', summary.skipped, true);
  return lines.join('\n');
}

async function readPolicy(source: string): Promise<unknown> {
  let text: string;
  try {
    if (source === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
      text = Buffer.concat(chunks).toString('utf8');
    } else {
      text = await readFile(source, 'utf8');
    }
  } catch (error) {
    throw new UsageError(`--set: cannot read ${source}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `--set: ${source === '-' ? 'standard input' : source} is not JSON: ${(error as Error).message}`,
    );
  }
}

/**
 * `berth project retention <project> [--set <file|->]`, `berth project retention run <project> [--dry-run]
 * [--wait]` and `berth project retention history <project>`. (A project named `run` or `history` is read
 * through the API: the words are taken for the subcommands.)
 */
export function retentionCommands(project: Command, kit: CommandKit): void {
  const { connected, run } = kit;
  const retention = connected(
    project
      .command('retention')
      .argument('<project>', 'project name')
      .description(
        "show a project's retention policy; --set replaces it (project administrators). " +
          'Subcommands: run, history',
      ),
  )
    .option(
      '--set <file>',
      'set the policy from a JSON file ({"rules": […], "schedule": "0 3 * * *"}; - for stdin)',
    )
    .option('--json', 'print JSON')
    .action(
      run(async (client, name: string, flags: { set?: string; json?: boolean }) => {
        const policy =
          flags.set === undefined
            ? await client.request<RetentionPolicyView>('GET', `/projects${path(name)}/retention`)
            : await client.request<RetentionPolicyView>('PUT', `/projects${path(name)}/retention`, {
                body: await readPolicy(flags.set),
              });
        out(flags.json ? JSON.stringify(policy, null, 2) : describePolicy(policy));
      }),
    );

  connected(
    retention
      .command('run')
      .argument('<project>', 'project name')
      .description('start a retention run now (project administrators); --dry-run only reports'),
  )
    .option('--dry-run', 'delete nothing: list what would be deleted')
    .option('--wait', 'wait for the run to end and print what it did')
    .option('--json', 'print JSON')
    .action(
      run(async (client, name: string, flags: { dryRun?: boolean; wait?: boolean; json?: boolean }) => {
        let current = await client.request<RetentionRun>('POST', `/projects${path(name)}/retention/runs`, {
          body: { dryRun: flags.dryRun === true },
        });
        if (!flags.wait) {
          if (flags.json) return out(JSON.stringify(current, null, 2));
          return out(
            `started retention ${current.dryRun ? 'dry run' : 'run'} ${current.id} of ${name}` +
              ` (berth project retention history ${name})`,
          );
        }
        while (current.status === 'running') {
          await sleep(POLL_MS);
          current = await client.request<RetentionRun>(
            'GET',
            `/projects${path(name, 'retention', 'runs', String(current.id))}`,
          );
        }
        out(flags.json ? JSON.stringify(current, null, 2) : describeRun(current));
        if (current.status !== 'succeeded') process.exitCode = 1;
      }),
    );

  connected(
    retention
      .command('history')
      .argument('<project>', 'project name')
      .description("list a project's retention runs, newest first"),
  )
    .option('--limit <n>', 'how many runs (default 20)', '20')
    .option('--json', 'print JSON')
    .action(
      run(async (client, name: string, flags: { limit: string; json?: boolean }) => {
        if (!/^[1-9]\d{0,3}$/.test(flags.limit))
          throw new UsageError(`--limit: a number, not '${flags.limit}'`);
        const { items } = await client.request<{ items: RetentionRun[] }>(
          'GET',
          `/projects${path(name, 'retention', 'runs')}`,
          { query: { limit: Number(flags.limit) } },
        );
        printList(
          items,
          flags,
          ['ID', 'STARTED', 'TRIGGER', 'DRY RUN', 'STATUS', 'DELETED', 'KEPT (IMMUTABLE)', 'BY'],
          (r) => [
            String(r.id),
            isoTime(r.startedAt),
            r.trigger,
            yesNo(r.dryRun),
            r.status,
            r.summary ? String(r.summary.deleted.total) : '-',
            r.summary ? String(r.summary.keptByImmutability.total) : '-',
            r.requestedBy ?? '-',
          ],
        );
      }),
    );
}
