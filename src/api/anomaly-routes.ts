import { z } from 'zod';
import { ANOMALY_KINDS, type Anomaly } from '../events/anomalies/index.js';
import { SYSTEM_ADMINS } from './access.js';
import { linkNext } from './pagination.js';
import { type ApiRoute, route } from './route.js';
import { DEFAULT_LIMIT, named, newestFirstPage, PageQuery, TimeText } from './schemas.js';

/** The audit anomaly detector's findings (events/anomalies): listed, newest first. */

const AnomalyKind = z.enum(ANOMALY_KINDS);

export const AuditAnomaly = named(
  'AuditAnomaly',
  'A finding of the audit anomaly detector. `subject`: the account (a login or `robot$…`), or for ' +
    '`failed-logins-address` the client address; `project`: the project a robot swept (else null); the events ' +
    'counted run from `windowStart` to `time`; `details`: the numbers the rule compared.',
  z.object({
    id: z.number().int(),
    time: z.number().int(),
    kind: AnomalyKind,
    subject: z.string(),
    project: z.string().nullable(),
    windowStart: z.number().int(),
    count: z.number().int(),
    summary: z.string(),
    details: z.record(z.string(), z.unknown()),
  }),
);

export const AuditAnomalyList = newestFirstPage('AuditAnomalyList', 'findings', AuditAnomaly);

export const AnomalyListQuery = z.object({
  kind: AnomalyKind.optional().describe(`only this kind: ${ANOMALY_KINDS.join(', ')}`),
  subject: z.string().min(1).max(255).optional().describe('only findings about this account or address'),
  from: TimeText.optional().describe(
    'raised at or after this time: milliseconds since the epoch or ISO 8601',
  ),
  to: TimeText.optional().describe('raised before this time: milliseconds since the epoch or ISO 8601'),
  limit: PageQuery.shape.limit,
  cursor: z
    .string()
    .regex(/^[0-9]{1,15}$/, 'must be a finding id')
    .transform(Number)
    .optional()
    .describe('the `next` of the previous page'),
});

export const anomalyRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/audit/anomalies',
    operationId: 'listAuditAnomalies',
    summary:
      'Findings of the audit anomaly detector, newest first: mass pulls, failed logins, robot project sweeps',
    task: 'reading audit anomalies',
    tag: 'audit',
    gate: 'systemAdmin',
    access: SYSTEM_ADMINS,
    query: AnomalyListQuery,
    success: { status: 200, description: 'One page of findings', schema: AuditAnomalyList },
    async handler(call) {
      const { query, request, reply } = call;
      const limit = query.limit ?? DEFAULT_LIMIT;
      const rows: Anomaly[] = await call.options.anomalies.list({
        kind: query.kind,
        subject: query.subject,
        from: query.from,
        to: query.to,
        limit: limit + 1,
        before: query.cursor,
      });
      const items = rows.slice(0, limit);
      const next = rows.length > limit ? String(items[items.length - 1]?.id) : undefined;
      linkNext(request, reply, next);
      return next === undefined ? { items } : { items, next };
    },
  }),
];
