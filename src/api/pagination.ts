import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Page, PageRequest } from '../accounts/types.js';
import { RegistryError } from '../registry/index.js';
import { DEFAULT_LIMIT } from './schemas.js';

/** `?limit=&cursor=` after validation (see PageQuery). */
export function pageRequest(query: { limit?: number; cursor?: string }): PageRequest {
  return { limit: query.limit ?? DEFAULT_LIMIT, ...(query.cursor !== undefined && { cursor: query.cursor }) };
}

/**
 * Sets `Link: <…>; rel="next"` (RFC 8288) when there is a next page: the request's own URL with the cursor
 * parameter replaced, so filters carry over.
 */
export function linkNext(
  request: FastifyRequest,
  reply: FastifyReply,
  next: string | undefined,
  cursorParam = 'cursor',
): void {
  if (next === undefined) return;
  const url = new URL(request.url, 'http://berth.invalid');
  url.searchParams.delete('cursor');
  url.searchParams.delete('before');
  url.searchParams.set(cursorParam, next);
  reply.header('link', `<${url.pathname}${url.search}>; rel="next"`);
}

/** Pages an in-memory list (members, tokens) by a unique sort key; the cursor is the last key seen. */
export function pageOf<T>(all: readonly T[], keyOf: (item: T) => string, page: PageRequest): Page<T> {
  const sorted = [...all].sort((a, b) => {
    const ka = keyOf(a);
    const kb = keyOf(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  let start = 0;
  if (page.cursor !== undefined) {
    const cursor = decodeCursor(page.cursor);
    start = sorted.findIndex((item) => keyOf(item) > cursor);
    if (start < 0) start = sorted.length;
  }
  const items = sorted.slice(start, start + page.limit);
  const last = items[items.length - 1];
  const more = start + page.limit < sorted.length;
  return more && last !== undefined ? { items, next: encodeCursor(keyOf(last)) } : { items };
}

function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw new RegistryError('INVALID_REQUEST', { message: 'invalid cursor', detail: { cursor } });
  }
  return Buffer.from(cursor, 'base64url').toString('utf8');
}
