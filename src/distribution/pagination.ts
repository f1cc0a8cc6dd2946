import { RegistryError } from '../registry/index.js';

/** The most entries one response holds; more are reached through the Link header. */
export const MAX_PAGE = 10000;
/** Without `n` a client expects the whole list (Distribution sends every tag), so give as much as one page may. */
export const DEFAULT_PAGE = MAX_PAGE;

export interface Page {
  limit: number;
  last?: string;
}

/** `n` and `last` of tags/list and _catalog (distribution-spec "Listing Tags"). */
export function parsePage(query: URLSearchParams): Page {
  const n = query.get('n');
  let limit = DEFAULT_PAGE;
  if (n !== null && n !== '') {
    if (!/^\d+$/.test(n)) throw new RegistryError('PAGINATION_NUMBER_INVALID', { detail: { n } });
    limit = n.length > 6 ? MAX_PAGE : Math.min(Number(n), MAX_PAGE);
  }
  const last = query.get('last');
  return last === null || last === '' ? { limit } : { limit, last };
}

/**
 * Fetches one item more than asked to learn whether a next page exists; returns the page and, if there is a
 * next one, the RFC 5988 Link header that points to it.
 */
export async function paginate(
  page: Page,
  path: string,
  fetch: (limit: number, last?: string) => Promise<string[]>,
): Promise<{ items: string[]; link?: string }> {
  if (page.limit === 0) return { items: [] };
  const rows = await fetch(page.limit + 1, page.last);
  if (rows.length <= page.limit) return { items: rows };
  const items = rows.slice(0, page.limit);
  const last = encodeURIComponent(items[items.length - 1] as string);
  return { items, link: `<${path}?n=${page.limit}&last=${last}>; rel="next"` };
}
