import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JobRunRow } from '../metadata/index.js';
import { linkNext } from './pagination.js';
import { DEFAULT_LIMIT } from './schemas.js';

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
 * One page of a run history, newest first (`?limit=&cursor=`, RunsQuery): fetches one run more than asked to
 * learn whether more follow, and links the next page.
 */
export async function runsPage<T extends { id: number }>(
  call: { request: FastifyRequest; reply: FastifyReply; query: { limit?: number; cursor?: number } },
  fetch: (page: { limit: number; before?: number }) => Promise<JobRunRow[]>,
  view: (row: JobRunRow) => T,
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
