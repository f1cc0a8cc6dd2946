import { Readable } from 'node:stream';
import type { z } from 'zod';
import type { AuditEvent, AuditQuery } from '../events/types.js';
import { denied, isSystemAdmin, requireProjectAction } from './access.js';
import { AUDIT_CSV_HEADER, auditCsvRow } from './audit-csv.js';
import { linkNext } from './pagination.js';
import { type ApiRoute, type Call, preamble, route } from './route.js';
import {
  AuditEventList,
  type AuditExportQuery,
  AuditListQuery,
  DEFAULT_LIMIT,
  MAX_LIMIT,
} from './schemas.js';
import { AuditDownloadQuery } from './system-schemas.js';

const tag = 'audit';
const READERS =
  "system administrators: every event; project administrators: their project's events, with ?project=<name>";
const FOR_READERS = preamble({ tag, gate: 'authenticated', access: READERS });
type ExportQuery = z.output<typeof AuditExportQuery>;

/** The audit store's filter, plus a check the store cannot make (an exact project boundary). */
interface Filter {
  query: Omit<AuditQuery, 'limit' | 'before'>;
  keep?: (event: AuditEvent) => boolean;
}

/** Rows fetched from the store per round while filling one page. */
const ROUNDS = 10;

/**
 * Who may read what, as a filter. A project's events are the project itself (resource `<project>`: settings and
 * members) and its repositories (`<project>/…`). The store filters by prefix, so `<project>` is the prefix and
 * `keep` drops other projects that merely start with the same letters (`team` vs `teamwork`).
 * Single-segment repositories of the default project (`busybox`) have no project prefix: only system
 * administrators see their events.
 */
async function filterFor(call: Call<unknown, unknown, unknown>, query: ExportQuery): Promise<Filter> {
  const { project, resource } = query;
  if (project === undefined) {
    if (!isSystemAdmin(call.identity)) {
      throw denied(
        'reading the whole audit log needs system administrator rights; project administrators add ?project=<name>',
      );
    }
  } else {
    await requireProjectAction(call, project, 'project:settings', "reading a project's audit events");
  }
  const inProject = (name: string) =>
    project === undefined || name === project || name.startsWith(`${project}/`);
  if (resource !== undefined && !inProject(resource)) {
    throw denied(`resource '${resource}' is outside project '${project}'`);
  }
  const prefix = resource ?? project;
  return {
    query: {
      ...(query.actor !== undefined && { actor: query.actor }),
      ...(query.action !== undefined && { action: query.action }),
      ...(prefix !== undefined && { resourcePrefix: prefix }),
      ...(query.from !== undefined && { from: query.from }),
      ...(query.to !== undefined && { to: query.to }),
    },
    ...(project !== undefined && { keep: (event: AuditEvent) => inProject(event.resource) }),
  };
}

/**
 * One page, newest first. Fetches one row more than asked to learn whether more follow; with `keep`, keeps
 * fetching until the page is full, giving up after a few rounds with a short page whose cursor is the last
 * row examined (so nothing is skipped).
 */
async function auditPage(
  store: Call<unknown, unknown, unknown>['options']['audit'],
  filter: Filter,
  limit: number,
  before: number | undefined,
): Promise<{ items: AuditEvent[]; next?: number }> {
  const items: AuditEvent[] = [];
  let cursor = before;
  for (let round = 0; round < ROUNDS; round++) {
    const rows = await store.query({
      ...filter.query,
      limit: limit + 1,
      ...(cursor !== undefined && { before: cursor }),
    });
    for (const row of rows) {
      if (filter.keep && !filter.keep(row)) continue;
      if (items.length === limit) return { items, next: (items[limit - 1] as AuditEvent).id };
      items.push(row);
    }
    const last = rows[rows.length - 1];
    if (rows.length <= limit || last === undefined) return { items };
    cursor = last.id;
  }
  return cursor === undefined ? { items } : { items, next: cursor };
}

export const auditRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/audit',
    operationId: 'listAuditEvents',
    summary: 'Query the audit log, newest first',
    task: 'reading the audit log',
    ...FOR_READERS,
    query: AuditListQuery,
    success: {
      status: 200,
      description: 'One page of events; `next` is the `before` of the following page',
      schema: AuditEventList,
    },
    errors: [404],
    async handler(call) {
      const { query, request, reply } = call;
      const filter = await filterFor(call, query);
      const page = await auditPage(
        call.options.audit,
        filter,
        query.limit ?? DEFAULT_LIMIT,
        query.before ?? query.cursor,
      );
      const next = page.next === undefined ? undefined : String(page.next);
      linkNext(request, reply, next, 'before');
      return next === undefined ? { items: page.items } : { items: page.items, next };
    },
  }),
  route({
    method: 'GET',
    path: '/audit/export',
    operationId: 'exportAuditEvents',
    summary: 'Export the audit log as JSON lines or CSV, newest first, with the filters of the list',
    task: 'exporting the audit log',
    ...FOR_READERS,
    query: AuditDownloadQuery,
    success: {
      status: 200,
      description:
        'Streamed page by page, as an attachment: one AuditEvent JSON object per line (application/x-ndjson), ' +
        'or with format=csv a header row and one record per event (text/csv)',
      contentType: 'application/x-ndjson',
    },
    errors: [404],
    async handler(call) {
      const filter = await filterFor(call, call.query);
      const store = call.options.audit;
      let before = call.query.before;
      const csv = call.query.format === 'csv';
      async function* lines(): AsyncGenerator<string> {
        if (csv) yield AUDIT_CSV_HEADER;
        for (;;) {
          const page = await auditPage(store, filter, MAX_LIMIT, before);
          if (page.items.length > 0) {
            yield csv
              ? page.items.map(auditCsvRow).join('')
              : `${page.items.map((event) => JSON.stringify(event)).join('\n')}\n`;
          }
          if (page.next === undefined) return;
          before = page.next;
        }
      }
      const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '-');
      call.reply.type(csv ? 'text/csv; charset=utf-8; header=present' : 'application/x-ndjson');
      call.reply.header(
        'content-disposition',
        `attachment; filename="berth-audit-${stamp}.${csv ? 'csv' : 'jsonl'}"`,
      );
      return Readable.from(lines());
    },
  }),
];
