import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { WebhookEndpointView } from '../events/webhooks/index.js';
import type { CommandKit } from './admin-kit.js';
import { UsageError } from './api-client.js';
import { formatDuration, progressLine } from './gc-commands.js';
import { isoTime, out, printList, yesNo } from './table-output.js';

interface ScrubRun {
  id: number;
  status: string;
  startedAt: number;
  finishedAt: number | null;
  progress: { phase?: string; done?: number; total?: number } | null;
  summary: ScrubSummary | null;
  error: string | null;
}

interface Finding {
  digest: string;
  problem: string;
  detail: string;
  quarantined: boolean;
  affected: { repository: string; tags: string[] }[];
}

interface ScrubSummary {
  blobs: { checked: number; bytes: number };
  manifests: { checked: number };
  corrupt: Finding[];
  missing: Finding[];
  badManifests: { repository: string; digest: string; problem: string }[];
  unlisted: number;
  resumedFrom?: number;
  durationMs: number;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** `50MB/s`, `512KiB/s`, `1e6`, `0` (no limit) → bytes per second. */
export function parseRate(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?(?:\/s)?$/i.exec(text.trim());
  const factor = match ? UNITS[(match[2] ?? '').toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new UsageError(`--rate: bytes per second such as 50MB/s, 512KiB/s or 0 (no limit), not '${text}'`);
  }
  return Math.round(Number(match[1]) * factor);
}

function where(finding: Finding): string {
  if (finding.affected.length === 0) return 'no repository links it';
  return finding.affected
    .map((a) => `${a.repository}${a.tags.length > 0 ? ` (tags ${a.tags.join(', ')})` : ''}`)
    .join('; ');
}

/** What a finished scrub found, one line per finding. */
export function describeScrub(run: ScrubRun): string {
  const s = run.summary;
  const head = `integrity scrub ${run.id} ${run.status}`;
  if (!s) return run.error ? `${head}: ${run.error}` : head;
  const lines = [
    `${head} in ${formatDuration(s.durationMs)}${s.resumedFrom ? ` (carried on from run ${s.resumedFrom})` : ''}`,
    `checked ${s.blobs.checked} blobs (${s.blobs.bytes} bytes) and ${s.manifests.checked} manifests`,
  ];
  for (const f of [...s.corrupt, ...s.missing]) {
    lines.push(
      `${f.problem.toUpperCase()} ${f.digest}: ${f.detail}; used by ${where(f)}${f.quarantined ? '; quarantined' : ''}`,
    );
  }
  for (const m of s.badManifests) lines.push(`BAD MANIFEST ${m.repository}@${m.digest}: ${m.problem}`);
  if (s.unlisted > 0) lines.push(`and ${s.unlisted} more findings not listed`);
  if (s.corrupt.length + s.missing.length + s.badManifests.length === 0) lines.push('everything is intact');
  return lines.join('\n');
}

/** `berth scrub [--rate R] [--quarantine] [--no-wait] [--json]`, `berth scrub history`. */
export function scrubCommands(program: Command, kit: CommandKit): void {
  const { connected, run } = kit;
  const scrub = connected(
    program
      .command('scrub')
      .description(
        're-hash every stored blob and check every manifest; report corrupt or missing content with the ' +
          'repositories and tags it breaks (system administrators). Subcommand: history',
      ),
  )
    .option('--rate <bytes/s>', 'read at most this fast, e.g. 50MB/s (default: scrub.rateBytesPerSecond)')
    .option('--quarantine', 'quarantine corrupt blobs: never served again (404 BLOB_UNKNOWN naming the run)')
    .option('--no-wait', 'start the run and return at once (see berth scrub history)')
    .option('--json', 'print the run as JSON')
    .action(
      run(async (client, flags: { rate?: string; quarantine?: boolean; wait: boolean; json?: boolean }) => {
        const body = {
          quarantine: flags.quarantine === true,
          ...(flags.rate !== undefined && { rateBytesPerSecond: parseRate(flags.rate) }),
        };
        let current = await client.request<ScrubRun>('POST', '/scrub/runs', { body });
        if (!flags.wait) {
          if (flags.json) return out(JSON.stringify(current, null, 2));
          return out(`started integrity scrub ${current.id} (berth scrub history shows how it went)`);
        }
        const tty = process.stderr.isTTY === true;
        while (current.status === 'running') {
          if (tty) process.stderr.write(`\rscrub ${current.id}: ${progressLine(progressOf(current))}\x1b[K`);
          await sleep(500);
          current = await client.request<ScrubRun>('GET', `/scrub/runs/${current.id}`);
        }
        if (tty) process.stderr.write('\r\x1b[K');
        if (flags.json) out(JSON.stringify(current, null, 2));
        else out(describeScrub(current));
        const s = current.summary;
        const found = s ? s.corrupt.length + s.missing.length + s.badManifests.length + s.unlisted : 0;
        if (current.status !== 'succeeded' || found > 0) process.exitCode = 1;
      }),
    );
  connected(scrub.command('history').description('list integrity scrub runs, newest first'))
    .option('--json', 'print JSON')
    .action(
      run(async (client, flags: { json?: boolean }) => {
        const runs = await client.firstItems<ScrubRun>('/scrub/runs', 20);
        printList(runs, flags, ['ID', 'STATUS', 'STARTED', 'CORRUPT', 'MISSING', 'BAD MANIFESTS'], (r) => [
          String(r.id),
          r.status,
          isoTime(r.startedAt),
          String(r.summary?.corrupt.length ?? '-'),
          String(r.summary?.missing.length ?? '-'),
          String(r.summary?.badManifests.length ?? '-'),
        ]);
      }),
    );
}

function progressOf(run: ScrubRun) {
  const p = run.progress;
  if (!p?.phase) return undefined;
  return {
    phase: p.phase,
    ...(p.done !== undefined && { done: p.done }),
    ...(p.total !== undefined && { total: p.total }),
  };
}

interface Delivery {
  id: number;
  eventType: string;
  status: string;
  attempts: number;
  responseCode: number | null;
  latencyMs: number | null;
  error: string | null;
  createdAt: number;
}

function base(project: string | undefined): string {
  return project === undefined ? '/webhooks' : `/projects/${encodeURIComponent(project)}/webhooks`;
}

function id(text: string, what: string): number {
  if (!/^[0-9]{1,15}$/.test(text)) throw new UsageError(`${what}: a number, not '${text}'`);
  return Number(text);
}

/** `berth webhook add|list|show|enable|disable|remove|deliveries|redeliver`, per project (--project) or system-wide. */
export function webhookCommands(program: Command, kit: CommandKit): void {
  const { connected, run } = kit;
  const webhook = program
    .command('webhook')
    .description('webhook endpoints: per project (--project) or system-wide (system administrators)');
  const scoped = (command: Command) =>
    connected(command).option('--project <name>', "the project's endpoints (default: system-wide ones)");

  scoped(webhook.command('add').argument('<url>', 'where to POST events').description('add an endpoint'))
    .requiredOption('--events <list>', 'comma-separated: push,pull,delete,scan,quota,gc,anomaly')
    .option('--name <name>', 'a name for people', 'webhook')
    .option('--format <format>', 'cloudevents, harbor or slack', 'cloudevents')
    .option('--secret <secret>', 'signs each body (X-Berth-Signature: sha256=<HMAC>); at least 16 characters')
    .action(
      run(
        async (
          client,
          url: string,
          flags: { project?: string; events: string; name: string; format: string; secret?: string },
        ) => {
          const created = await client.request<WebhookEndpointView>('POST', base(flags.project), {
            body: {
              name: flags.name,
              url,
              eventTypes: flags.events
                .split(',')
                .map((e) => e.trim())
                .filter(Boolean),
              format: flags.format,
              ...(flags.secret !== undefined && { secret: flags.secret }),
            },
          });
          out(
            `added webhook ${created.id}: ${created.eventTypes.join(', ')} → ${created.url} (${created.format})`,
          );
        },
      ),
    );

  scoped(webhook.command('list').description('list endpoints and their status'))
    .option('--json', 'print JSON')
    .action(
      run(async (client, flags: { project?: string; json?: boolean }) => {
        const { items } = await client.request<{ items: WebhookEndpointView[] }>('GET', base(flags.project));
        printList(items, flags, ['ID', 'NAME', 'URL', 'EVENTS', 'FORMAT', 'SECRET', 'STATUS'], (e) => [
          String(e.id),
          e.name,
          e.url,
          e.eventTypes.join(','),
          e.format,
          yesNo(e.hasSecret),
          e.status === 'failing' ? `failing: ${e.disabledReason ?? ''}` : e.status,
        ]);
      }),
    );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    scoped(webhook.command(verb).argument('<id>', 'endpoint id').description(`${verb} an endpoint`)).action(
      run(async (client, text: string, flags: { project?: string }) => {
        const changed = await client.request<WebhookEndpointView>(
          'PATCH',
          `${base(flags.project)}/${id(text, 'id')}`,
          {
            body: { enabled },
          },
        );
        out(`webhook ${changed.id} ${changed.status}`);
      }),
    );
  }

  scoped(webhook.command('remove').argument('<id>', 'endpoint id').description('remove an endpoint')).action(
    run(async (client, text: string, flags: { project?: string }) => {
      await client.request('DELETE', `${base(flags.project)}/${id(text, 'id')}`);
      out(`removed webhook ${text}`);
    }),
  );

  scoped(
    webhook
      .command('deliveries')
      .argument('<id>', 'endpoint id')
      .description('the delivery log, newest first'),
  )
    .option('--json', 'print JSON')
    .action(
      run(async (client, text: string, flags: { project?: string; json?: boolean }) => {
        const { items } = await client.request<{ items: Delivery[] }>(
          'GET',
          `${base(flags.project)}/${id(text, 'id')}/deliveries`,
          { query: { limit: 50 } },
        );
        printList(
          items,
          flags,
          ['ID', 'EVENT', 'STATUS', 'ATTEMPTS', 'CODE', 'LATENCY', 'CREATED', 'ERROR'],
          (d) => [
            String(d.id),
            d.eventType,
            d.status,
            String(d.attempts),
            d.responseCode === null ? '-' : String(d.responseCode),
            d.latencyMs === null ? '-' : `${d.latencyMs} ms`,
            isoTime(d.createdAt),
            d.error ?? '',
          ],
        );
      }),
    );

  scoped(
    webhook
      .command('redeliver')
      .argument('<id>', 'endpoint id')
      .argument('<delivery>', 'delivery id')
      .description('send a delivery again (same body and event id)'),
  ).action(
    run(async (client, text: string, delivery: string, flags: { project?: string }) => {
      const queued = await client.request<Delivery>(
        'POST',
        `${base(flags.project)}/${id(text, 'id')}/deliveries/${id(delivery, 'delivery')}/redeliver`,
      );
      out(`queued delivery ${queued.id}`);
    }),
  );
}
