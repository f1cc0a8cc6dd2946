import { setTimeout as sleep } from 'node:timers/promises';
import type { Command, CommanderError } from 'commander';
import { type CollectionSummary, formatBytes } from '../lifecycle/index.js';
import type { CommandKit } from './admin-kit.js';
import { ApiCallError, type ApiClient, UsageError } from './api-client.js';
import { isoTime, out, printList, yesNo } from './table-output.js';

/** A garbage collection run as /api/v1/gc/runs answers it. */
export interface CollectionRun {
  id: number;
  trigger: 'manual' | 'schedule';
  dryRun: boolean;
  status: 'running' | 'succeeded' | 'failed' | 'interrupted';
  requestedBy: string | null;
  startedAt: number;
  finishedAt: number | null;
  /** While running: `{ phase, done?, total? }`. */
  progress: unknown;
  summary: CollectionSummary | null;
  error: string | null;
}

export interface CollectionProgress {
  phase: string;
  done?: number;
  total?: number;
}

/** How often a waiting `berth gc` asks how the run is doing. */
const POLL_MS = 250;
const BAR_WIDTH = 30;

/** The run's progress, when it has a recognizable one. */
export function progressOf(run: Pick<CollectionRun, 'progress'>): CollectionProgress | undefined {
  const p = run.progress as { phase?: unknown; done?: unknown; total?: unknown } | null | undefined;
  if (!p || typeof p.phase !== 'string') return undefined;
  return {
    phase: p.phase,
    ...(typeof p.done === 'number' && { done: p.done }),
    ...(typeof p.total === 'number' && { total: p.total }),
  };
}

/**
 * `blobs     [#########---------------------] 256/900`; `orphans   4096 so far` for a phase that does not know
 * its total; `mark      …` for one without counts.
 */
export function progressLine(progress: CollectionProgress | undefined, width = BAR_WIDTH): string {
  const phase = (progress?.phase ?? 'starting').padEnd(9);
  if (progress?.done === undefined) return `${phase} …`;
  const { done, total } = progress;
  if (total === undefined) return `${phase} ${done} so far`;
  const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
  const filled = Math.round(ratio * width);
  return `${phase} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`;
}

/** `850 ms`, `4.2 s`, `3 min 20 s`, `1 h 05 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

function list(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function durationOf(run: CollectionRun): number | undefined {
  if (run.summary) return run.summary.durationMs;
  return run.finishedAt === null ? undefined : run.finishedAt - run.startedAt;
}

/**
 * What a finished run did, or a dry run would do:
 *
 *     garbage collection run 7 succeeded in 4.2 s
 *     deleted 3 manifests, 10 blob links, 8 blobs, 1 orphaned object (2 kB) and 4 expired uploads
 *     freed 12.3 MB
 *     spared 1 manifest, 0 blob links and 0 blobs: used again after the run marked them
 *     grace window: anything newer than 2025-03-01T02:00:00.000Z was left alone
 *
 * A dry run says "would delete" and "would free"; a run that did not succeed gives its error.
 */
export function describeCollection(run: CollectionRun): string {
  const kind = run.dryRun ? 'dry run' : 'run';
  const took = durationOf(run);
  const head = `garbage collection ${kind} ${run.id} ${run.status}${took === undefined ? '' : ` in ${formatDuration(took)}`}`;
  const s = run.summary;
  if (!s) return run.error ? `${head}: ${run.error}` : head;
  const what = list([
    count(s.manifests, 'manifest'),
    count(s.links, 'blob link'),
    count(s.blobs, 'blob'),
    `${count(s.orphans.objects, 'orphaned object')}${s.orphans.objects > 0 ? ` (${formatBytes(s.orphans.bytes)})` : ''}`,
    count(s.uploads, 'expired upload'),
  ]);
  const lines = [head];
  if (run.dryRun) {
    lines.push(`would delete ${what}`, `would free ${formatBytes(s.bytes)}`);
  } else {
    lines.push(`deleted ${what}`, `freed ${formatBytes(s.bytes)}`);
    const { spared } = s;
    if (spared.manifests + spared.links + spared.blobs > 0) {
      lines.push(
        `spared ${list([count(spared.manifests, 'manifest'), count(spared.links, 'blob link'), count(spared.blobs, 'blob')])}: used again after the run marked them`,
      );
    }
  }
  lines.push(`grace window: anything newer than ${s.cutoff} was left alone`);
  return lines.join('\n');
}

/** Shows how a run goes while `berth gc` waits: a bar redrawn in place on a terminal, a line per phase otherwise. */
class ProgressView {
  private phase: string | undefined;
  private drawn = false;

  constructor(
    private readonly id: number,
    private readonly tty: boolean,
    private readonly quiet: boolean,
  ) {}

  show(run: CollectionRun): void {
    const progress = progressOf(run);
    if (this.tty) {
      const columns = process.stderr.columns || 80;
      const line = `gc run ${this.id}: ${progressLine(progress)}`.slice(0, columns - 1);
      process.stderr.write(`\r${line}\x1b[K`);
      this.drawn = true;
      return;
    }
    if (this.quiet || !progress || progress.phase === this.phase) return;
    this.phase = progress.phase;
    const counts = progress.total === undefined ? '' : ` (${progress.done ?? 0}/${progress.total})`;
    process.stderr.write(`gc run ${this.id}: ${progress.phase}${counts}\n`);
  }

  clear(): void {
    if (this.drawn) process.stderr.write('\r\x1b[K');
    this.drawn = false;
  }
}

/** Polls the run until it ends, showing its progress on stderr. */
async function waitFor(client: ApiClient, started: CollectionRun, json: boolean): Promise<CollectionRun> {
  const view = new ProgressView(started.id, process.stderr.isTTY === true, json);
  const interrupted = () => {
    view.clear();
    process.stderr.write(
      `berth: stopped waiting; garbage collection run ${started.id} goes on in the server (berth gc history)\n`,
    );
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  let current = started;
  try {
    view.show(current);
    while (current.status === 'running') {
      await sleep(POLL_MS);
      try {
        current = await client.request<CollectionRun>('GET', `/gc/runs/${current.id}`);
      } catch (error) {
        if (error instanceof ApiCallError) {
          throw new ApiCallError(
            `${error.message} (while waiting for garbage collection run ${started.id})`,
            error.status,
            error.code,
          );
        }
        throw error;
      }
      if (current.status === 'running') view.show(current);
    }
  } finally {
    view.clear();
    process.removeListener('SIGINT', interrupted);
  }
  return current;
}

function parseLimit(text: string): number {
  if (!/^[1-9]\d{0,5}$/.test(text)) throw new UsageError(`--limit: a positive whole number, not '${text}'`);
  return Number(text);
}

/**
 * `berth gc [--dry-run] [--no-wait] [--json]` and `berth gc history [--limit N] [--json]`: garbage collection
 * on a running server (system administrators).
 */
export function gcCommands(program: Command, kit: CommandKit): void {
  const { connected, run } = kit;
  const gc = connected(
    program
      .command('gc')
      .description(
        'collect garbage now, online: untagged manifests, unreferenced blobs, orphaned bytes, expired ' +
          'uploads (system administrators); waits and prints what it did. Subcommand: history',
      )
      .exitOverride(usageExit),
  )
    .option('--dry-run', 'delete nothing: report what would be deleted and the bytes it would free')
    .option('--no-wait', 'start the run and return at once (see berth gc history)')
    .option('--json', 'print the run as JSON (no progress lines unless stderr is a terminal)')
    .action(
      run(async (client, flags: { dryRun?: boolean; wait: boolean; json?: boolean }) => {
        let started: CollectionRun;
        try {
          started = await client.request<CollectionRun>('POST', '/gc/runs', {
            body: { dryRun: flags.dryRun === true },
          });
        } catch (error) {
          if (error instanceof ApiCallError && error.status === 409) {
            throw new ApiCallError(`${error.message} (see berth gc history)`, error.status, error.code);
          }
          throw error;
        }
        if (!flags.wait) {
          if (flags.json) return out(JSON.stringify(started, null, 2));
          return out(
            `started garbage collection ${started.dryRun ? 'dry run' : 'run'} ${started.id}` +
              ' (berth gc history shows how it went)',
          );
        }
        const finished = await waitFor(client, started, flags.json === true);
        if (flags.json) out(JSON.stringify(finished, null, 2));
        else if (finished.status === 'succeeded') out(describeCollection(finished));
        if (finished.status !== 'succeeded') {
          const kind = finished.dryRun ? 'dry run' : 'run';
          process.stderr.write(
            `berth: garbage collection ${kind} ${finished.id} ${finished.status}: ${finished.error ?? 'no reason given'}\n`,
          );
          process.exitCode = 1;
        }
      }),
    );

  connected(gc.command('history').description('list garbage collection runs, newest first'))
    .option('--limit <n>', 'how many runs', '20')
    .option('--json', 'print JSON')
    .action(
      run(async (client, flags: { limit: string; json?: boolean }) => {
        const limit = parseLimit(flags.limit);
        const runs = await client.firstItems<CollectionRun>('/gc/runs', limit);
        printList(
          runs,
          flags,
          ['ID', 'TRIGGER', 'DRY RUN', 'STATUS', 'STARTED', 'DURATION', 'FREED'],
          (r) => {
            const took = durationOf(r);
            const bytes = r.summary ? formatBytes(r.summary.bytes) : '-';
            return [
              String(r.id),
              r.trigger,
              yesNo(r.dryRun),
              r.status,
              isoTime(r.startedAt),
              took === undefined ? '-' : formatDuration(took),
              // A dry run frees nothing: what it would have freed, in parentheses.
              r.dryRun && r.summary ? `(${bytes})` : bytes,
            ];
          },
        );
      }),
    );
}

/** Commander's own usage errors (unknown option, extra argument) exit 2, as in admin-commands; help exits 0. */
function usageExit(error: CommanderError): never {
  process.exit(error.exitCode === 0 ? 0 : 2);
}
