import { AccountError, type Page, type PageRequest } from './types.js';

/** The API's cap on one page. */
export const MAX_PAGE = 1000;

/** Opaque to clients: the base64url of the last name on the previous page (keyset pagination by name). */
export function encodeCursor(lastName: string): string {
  return Buffer.from(lastName, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const name = Buffer.from(cursor, 'base64url').toString('utf8');
  // Node decodes leniently; a cursor we did not make does not survive the round trip.
  if (name === '' || encodeCursor(name) !== cursor) throw new AccountError('INVALID', 'invalid page cursor');
  return name;
}

/** The page size asked for, capped at MAX_PAGE. */
export function pageLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new AccountError('INVALID', `page limit must be a whole number from 1 to ${MAX_PAGE}`);
  }
  return Math.min(limit, MAX_PAGE);
}

/**
 * Runs a keyset query for one more row than asked, so the last page has no `next`.
 * `fetch(limit, after)` returns rows in name order after `after`.
 */
export async function keysetPage<Row, Item>(
  page: PageRequest,
  fetch: (limit: number, after: string | undefined) => Promise<Row[]>,
  nameOf: (row: Row) => string,
  toItem: (row: Row) => Item,
): Promise<Page<Item>> {
  const limit = pageLimit(page.limit);
  const rows = await fetch(limit + 1, decodeCursor(page.cursor));
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return rows.length > limit && last !== undefined
    ? { items: items.map(toItem), next: encodeCursor(nameOf(last)) }
    : { items: items.map(toItem) };
}
