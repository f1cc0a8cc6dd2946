import type { z } from 'zod';
import type { JobRunRow } from '../metadata/index.js';
import { RegistryError } from '../registry/index.js';
import { loginOf } from './access.js';
import {
  CollectionRun,
  CollectionRunList,
  CollectionRunParams,
  CollectionRunsQuery,
  StartCollectionBody,
} from './gc-schemas.js';
import { linkNext } from './pagination.js';
import { type ApiRoute, route } from './route.js';
import { DEFAULT_LIMIT } from './schemas.js';

type RunPath = z.output<typeof CollectionRunParams>;
type RunsQuery = z.output<typeof CollectionRunsQuery>;

const tag = 'garbage collection';
const ADMINS = 'system administrators';

function runOf(row: JobRunRow): z.input<typeof CollectionRun> {
  return {
    id: row.id,
    trigger: row.trigger,
    dryRun: row.dryRun,
    status: row.status,
    requestedBy: row.requestedBy,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    progress: row.status === 'running' ? row.progress : null,
    summary: row.status === 'succeeded' ? (row.summary as z.input<typeof CollectionRun>['summary']) : null,
    error: row.error,
  };
}

export const gcRoutes: ApiRoute[] = [
  route<undefined, undefined, z.output<typeof StartCollectionBody>>({
    method: 'POST',
    path: '/gc/runs',
    operationId: 'startGarbageCollection',
    summary: 'Start garbage collection (or a dry run) now; pushes and pulls go on meanwhile',
    task: 'starting garbage collection',
    tag,
    gate: 'systemAdmin',
    access: ADMINS,
    body: StartCollectionBody,
    success: {
      status: 202,
      description: 'Started; it runs in the background (poll the run for its progress and summary)',
      schema: CollectionRun,
    },
    errors: [409],
    audit: { action: 'gc.run', resource: () => 'registry' },
    async handler(call) {
      const run = await call.options.gc.start({
        dryRun: call.body.dryRun,
        trigger: 'manual',
        requestedBy: loginOf(call.identity),
      });
      call.auditDetail = { id: run.id, dryRun: run.dryRun };
      call.reply.code(202);
      return runOf(run);
    },
  }),
  route<undefined, RunsQuery>({
    method: 'GET',
    path: '/gc/runs',
    operationId: 'listGarbageCollections',
    summary: 'Garbage collection runs, newest first',
    task: 'reading garbage collection runs',
    tag,
    gate: 'systemAdmin',
    access: ADMINS,
    query: CollectionRunsQuery,
    success: { status: 200, description: 'One page of runs', schema: CollectionRunList },
    async handler(call) {
      const limit = call.query.limit ?? DEFAULT_LIMIT;
      const rows = await call.options.gc.runs({
        limit: limit + 1,
        ...(call.query.cursor !== undefined && { before: call.query.cursor }),
      });
      const items = rows.slice(0, limit).map(runOf);
      const last = items[items.length - 1];
      const next = rows.length > limit && last ? String(last.id) : undefined;
      linkNext(call.request, call.reply, next);
      return next === undefined ? { items } : { items, next };
    },
  }),
  route<RunPath>({
    method: 'GET',
    path: '/gc/runs/{id}',
    operationId: 'getGarbageCollection',
    summary: 'One garbage collection run: its progress, or its summary once done',
    task: 'reading garbage collection runs',
    tag,
    gate: 'systemAdmin',
    access: ADMINS,
    params: CollectionRunParams,
    success: { status: 200, description: 'The run', schema: CollectionRun },
    errors: [404],
    async handler(call) {
      const run = await call.options.gc.run(call.params.id);
      if (!run)
        throw new RegistryError('NOT_FOUND', { message: `no garbage collection run ${call.params.id}` });
      return runOf(run);
    },
  }),
];
