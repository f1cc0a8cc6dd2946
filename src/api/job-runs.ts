import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { JobRunRow } from '../metadata/index.js';
import { RegistryError } from '../registry/index.js';
import { SYSTEM_ADMINS } from './access.js';
import type { ApiOptions } from './options.js';
import { linkNext } from './pagination.js';
import { type ApiRoute, route } from './route.js';
import { DEFAULT_LIMIT, RunsQuery } from './schemas.js';

/** The fields every run shows (schemas.ts jobRunFields); gc-routes and retention-routes add the rest. */
export function jobRunView(row: JobRunRow) {
  return {
    id: row.id,
    trigger: row.trigger,
    dryRun: row.dryRun,
    status: row.status,
    requestedBy: row.requestedBy,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    error: row.error,
  };
}

/**
 * One page of a history keyed by increasing ids (runs, webhook deliveries), newest first (`?limit=&cursor=`,
 * RunsQuery): fetches one row more than asked to learn whether more follow, and links the next page.
 */
export async function historyPage<R, T extends { id: number }>(
  call: { request: FastifyRequest; reply: FastifyReply; query: { limit?: number; cursor?: number } },
  fetch: (page: { limit: number; before?: number }) => Promise<R[]>,
  view: (row: R) => T,
): Promise<{ items: T[]; next?: string }> {
  const limit = call.query.limit ?? DEFAULT_LIMIT;
  const rows = await fetch({
    limit: limit + 1,
    ...(call.query.cursor !== undefined && { before: call.query.cursor }),
  });
  const items = rows.slice(0, limit).map(view);
  const last = items[items.length - 1];
  const next = rows.length > limit && last ? String(last.id) : undefined;
  linkNext(call.request, call.reply, next);
  return next === undefined ? { items } : { items, next };
}

/** Where a job's run history is read: the GC and scrub services both answer these. */
export interface RunHistory {
  runs(page: { limit: number; before?: number }): Promise<JobRunRow[]>;
  run(id: number): Promise<JobRunRow | undefined>;
}

/**
 * The two history routes of a job that runs registry-wide (garbage collection, integrity scrub), for system
 * administrators: GET `path` (one page of runs, newest first) and GET `path/{id}` (one run, 404 when unknown).
 */
export function systemRunRoutes<T extends { id: number }>(spec: {
  /** `/gc/runs`. */
  path: string;
  tag: string;
  /** `garbage collection`: names the runs in tasks and in the 404 message. */
  job: string;
  list: { operationId: string; summary: string; schema: z.ZodType };
  get: { operationId: string; summary: string; schema: z.ZodType };
  params: z.ZodType<{ id: number }, Record<string, string>>;
  history(options: Required<ApiOptions>): RunHistory;
  view(row: JobRunRow): T;
}): ApiRoute[] {
  const shared = {
    method: 'GET',
    task: `reading ${spec.job} runs`,
    tag: spec.tag,
    gate: 'systemAdmin',
    access: SYSTEM_ADMINS,
  } as const;
  return [
    route({
      ...shared,
      path: spec.path,
      operationId: spec.list.operationId,
      summary: spec.list.summary,
      query: RunsQuery,
      success: { status: 200, description: 'One page of runs', schema: spec.list.schema },
      async handler(call) {
        return historyPage(call, (page) => spec.history(call.options).runs(page), spec.view);
      },
    }),
    route({
      ...shared,
      path: `${spec.path}/{id}`,
      operationId: spec.get.operationId,
      summary: spec.get.summary,
      params: spec.params,
      success: { status: 200, description: 'The run', schema: spec.get.schema },
      errors: [404],
      async handler(call) {
        const run = await spec.history(call.options).run(call.params.id);
        if (!run) throw new RegistryError('NOT_FOUND', { message: `no ${spec.job} run ${call.params.id}` });
        return spec.view(run);
      },
    }),
  ];
}
