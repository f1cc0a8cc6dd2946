import type { AuditEvent } from '../events/types.js';

/** The columns of the CSV export, in order; `time` is ISO 8601 (UTC), the rest as in the JSON. */
export const AUDIT_CSV_COLUMNS = [
  'id',
  'time',
  'actor',
  'actorKind',
  'sourceIp',
  'userAgent',
  'action',
  'resource',
  'result',
  'detail',
] as const;

/**
 * A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection"): such a cell is
 * prefixed with an apostrophe, which spreadsheets take as "text" and do not show.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV field: formula-neutralised, always quoted, quotes doubled (RFC 4180). */
export function csvField(value: string | number | null): string {
  if (value === null) return '""';
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return `"${text.replaceAll('"', '""')}"`;
}

function csvRow(fields: (string | number | null)[]): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}

export const AUDIT_CSV_HEADER = csvRow([...AUDIT_CSV_COLUMNS]);

/** One event as a CSV record (CRLF-terminated). */
export function auditCsvRow(event: AuditEvent): string {
  return csvRow([
    event.id,
    new Date(event.time).toISOString(),
    event.actor,
    event.actorKind,
    event.sourceIp,
    event.userAgent,
    event.action,
    event.resource,
    event.result,
    event.detail,
  ]);
}
