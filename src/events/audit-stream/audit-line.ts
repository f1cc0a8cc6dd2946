import { projectOf } from '../../auth/index.js';
import type { AuditInput } from '../types.js';

/** An audit event as the log records it: the input and the time it was recorded. */
export type TimedAuditEvent = AuditInput & { time: number };

/** The action of the detector's findings (events/anomalies): a syslog warning rather than a notice. */
export const ANOMALY_ACTION = 'security.anomaly';

/** Registry actions whose resource is `<repository>:<tag>` or `<repository>@<digest>`. */
const REPOSITORY_ACTIONS = new Set(['push', 'pull', 'delete']);

/**
 * One audit event as a flat object with a fixed set of keys, always all present (null when unknown), in a
 * fixed order: what the JSON lines file and the syslog messages carry. The names are a contract with the
 * operators' pipelines (Elasticsearch mappings, Loki queries): add keys, never rename or retype one.
 *
 * - time: ISO 8601 UTC with milliseconds; host: the node's host name; service: always "berth"
 * - actor, actorKind (user, robot, anonymous, system), action, resource, result (success, failure)
 * - sourceIp, userAgent, detail: as recorded, or null
 * - repository, project: for push, pull and delete, the repository and its project; else null
 */
export function auditRecord(event: TimedAuditEvent, host: string): Record<string, string | null> {
  let repository: string | null = null;
  if (REPOSITORY_ACTIONS.has(event.action)) {
    const cut = event.resource.search(/[:@]/);
    repository = cut < 0 ? event.resource : event.resource.slice(0, cut);
  }
  return {
    time: new Date(event.time).toISOString(),
    host,
    service: 'berth',
    actor: event.actor,
    actorKind: event.actorKind,
    action: event.action,
    resource: event.resource,
    result: event.result,
    sourceIp: event.sourceIp ?? null,
    userAgent: event.userAgent ?? null,
    detail: event.detail ?? null,
    repository,
    project: repository === null ? null : projectOf(repository),
  };
}

/** The JSON line of the file sink (without its newline). */
export function auditJsonLine(event: TimedAuditEvent, host: string): string {
  return JSON.stringify(auditRecord(event, host));
}

/** RFC 5424 §6.2.1 facility codes of the names audit.stream.syslogFacility accepts. */
export const SYSLOG_FACILITIES = {
  user: 1,
  daemon: 3,
  auth: 4,
  authpriv: 10,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

/** Severity: findings are warnings (4), refusals and failures notices (5), the rest informational (6). */
export function syslogSeverity(event: AuditInput): number {
  if (event.action === ANOMALY_ACTION) return 4;
  return event.result === 'failure' ? 5 : 6;
}

/** A header field: printable US-ASCII without spaces (RFC 5424 §6), at most `max` characters, or `-`. */
function headerField(value: string, max: number): string {
  const cleaned = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return cleaned === '' ? '-' : cleaned;
}

export interface SyslogHeader {
  facility: SyslogFacility;
  hostname: string;
  appName: string;
  procId: string;
}

/**
 * One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [meta sequenceId="n"] MSG`, where
 * MSGID is the audit action and MSG the same JSON object as the file's line. The `meta` structured data
 * (RFC 5424 §7.3.1) numbers the messages, so a receiver sees datagrams lost on UDP as gaps.
 */
export function syslogMessage(event: TimedAuditEvent, header: SyslogHeader, sequenceId: number): string {
  const pri = SYSLOG_FACILITIES[header.facility] * 8 + syslogSeverity(event);
  const fields = [
    `<${pri}>1`,
    new Date(event.time).toISOString(),
    headerField(header.hostname, 255),
    headerField(header.appName, 48),
    headerField(header.procId, 128),
    headerField(event.action, 32),
    `[meta sequenceId="${sequenceId}"]`,
  ];
  return `${fields.join(' ')} ${auditJsonLine(event, header.hostname)}`;
}

/** Parses a message of syslogMessage's form (for tests and for receivers written in JavaScript). */
export function parseSyslogMessage(message: string):
  | {
      facility: number;
      severity: number;
      version: number;
      timestamp: string;
      hostname: string;
      appName: string;
      procId: string;
      msgId: string;
      structuredData: string;
      msg: string;
    }
  | undefined {
  const match = /^<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[[^\]]*\])+) ?([\s\S]*)$/.exec(
    message,
  );
  if (!match) return undefined;
  const pri = Number(match[1]);
  return {
    facility: Math.floor(pri / 8),
    severity: pri % 8,
    version: Number(match[2]),
    timestamp: match[3] as string,
    hostname: match[4] as string,
    appName: match[5] as string,
    procId: match[6] as string,
    msgId: match[7] as string,
    structuredData: match[8] as string,
    msg: match[9] as string,
  };
}
