import type { Command } from 'commander';
import type { Anomaly } from '../events/anomalies/index.js';
import { ANOMALY_KINDS } from '../events/anomalies/index.js';
import type { CommandKit } from './admin-kit.js';
import { UsageError } from './api-client.js';
import { parseLimitFlag, parseTimeFlag } from './flag-parsing.js';
import { formatTable, isoTime, out } from './table-output.js';

/** `berth audit anomalies`: the anomaly detector's findings, newest first (GET /api/v1/audit/anomalies). */
export function anomalyCommands(audit: Command, kit: CommandKit): void {
  const { connected, run } = kit;
  connected(
    audit
      .command('anomalies')
      .description('show what the audit anomaly detector found, newest first (system administrators)'),
  )
    .option('--kind <kind>', `only this kind: ${ANOMALY_KINDS.join(', ')}`)
    .option('--subject <name>', 'only findings about this account (login or robot$name) or address')
    .option('--since <time>', 'from this time: ISO 8601, milliseconds, or a duration ago (30m, 24h, 7d)')
    .option('--until <time>', 'before this time (same forms)')
    .option('--limit <n>', 'at most this many findings', '100')
    .option('--json', 'print one JSON object per line')
    .action(
      run(
        async (
          client,
          flags: {
            kind?: string;
            subject?: string;
            since?: string;
            until?: string;
            limit: string;
            json?: boolean;
          },
        ) => {
          if (flags.kind !== undefined && !(ANOMALY_KINDS as readonly string[]).includes(flags.kind)) {
            throw new UsageError(`--kind: one of ${ANOMALY_KINDS.join(', ')}, not '${flags.kind}'`);
          }
          const limit = parseLimitFlag(flags.limit);
          const query = {
            kind: flags.kind,
            subject: flags.subject,
            from: parseTimeFlag('--since', flags.since),
            to: parseTimeFlag('--until', flags.until),
          };
          const found = await client.firstItems<Anomaly>('/audit/anomalies', limit, query);
          if (flags.json) {
            if (found.length > 0) out(found.map((anomaly) => JSON.stringify(anomaly)).join('\n'));
            return;
          }
          if (found.length === 0) {
            out('no anomalies found');
            return;
          }
          out(
            formatTable(
              ['ID', 'TIME', 'KIND', 'SUBJECT', 'COUNT', 'SUMMARY'],
              found.map((a) => [
                String(a.id),
                isoTime(a.time),
                a.kind,
                a.subject,
                String(a.count),
                a.summary,
              ]),
            ),
          );
        },
      ),
    );
}
