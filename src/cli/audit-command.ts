import type { Command } from 'commander';
import type { AuditEvent } from '../events/types.js';
import { connected, onCommanderExit, run } from './admin-kit.js';
import { anomalyCommands } from './anomaly-commands.js';
import { parseLimitFlag, parseTimeFlag } from './flag-parsing.js';
import { formatTable, isoTime, out } from './table-output.js';

/** `berth audit` and `berth audit anomalies`. */
export function auditCommand(program: Command): void {
  const audit = program
    .command('audit')
    .description('show the audit log, newest first; `audit anomalies`: what the detector found')
    .exitOverride(onCommanderExit)
    // `berth audit anomalies --limit 5`: flags after the subcommand are the subcommand's.
    .enablePositionalOptions();
  anomalyCommands(audit, { connected, run });
  connected(audit)
    .option('--actor <name>', 'only this actor (a user name or robot$name)')
    .option('--action <action>', 'only this action (push, pull, login, user.create, member.set, …)')
    .option('--resource <prefix>', 'only resources starting with this')
    .option('--project <name>', "only this project's events (project administrators must give it)")
    .option('--since <time>', 'from this time: ISO 8601, milliseconds, or a duration ago (30m, 24h, 7d)')
    .option('--until <time>', 'before this time (same forms)')
    .option('--limit <n>', 'at most this many events', '100')
    .option('--json', 'print one JSON object per line')
    .action(
      run(
        async (
          client,
          flags: {
            actor?: string;
            action?: string;
            resource?: string;
            project?: string;
            since?: string;
            until?: string;
            limit: string;
            json?: boolean;
          },
        ) => {
          const limit = parseLimitFlag(flags.limit);
          const query = {
            actor: flags.actor,
            action: flags.action,
            resource: flags.resource,
            project: flags.project,
            from: parseTimeFlag('--since', flags.since),
            to: parseTimeFlag('--until', flags.until),
          };
          const events = await client.firstItems<AuditEvent>('/audit', limit, query, 'before');
          if (flags.json) {
            out(events.map((event) => JSON.stringify(event)).join('\n'));
            return;
          }
          out(
            formatTable(
              ['TIME', 'ACTOR', 'ACTION', 'RESOURCE', 'RESULT', 'SOURCE'],
              events.map((e) => [isoTime(e.time), e.actor, e.action, e.resource, e.result, e.sourceIp ?? '']),
            ),
          );
        },
      ),
    );
}
