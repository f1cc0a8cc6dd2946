import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_PAGE, MAX_PAGE, type Page, paginate, parsePage } from '../../src/distribution/pagination.js';
import { RegistryError } from '../../src/registry/errors.js';

describe('parsePage', () => {
  it('has the documented bounds', () => {
    expect(DEFAULT_PAGE).toBe(10000);
    expect(MAX_PAGE).toBe(10000);
  });

  it.each<[string, string, Page]>([
    ['no parameters', '', { limit: DEFAULT_PAGE }],
    ['empty n', 'n=', { limit: DEFAULT_PAGE }],
    ['n=0', 'n=0', { limit: 0 }],
    ['n=1', 'n=1', { limit: 1 }],
    ['n=50', 'n=50', { limit: 50 }],
    ['leading zeros', 'n=007', { limit: 7 }],
    ['n at the maximum', `n=${MAX_PAGE}`, { limit: MAX_PAGE }],
    ['n above the maximum, clamped', `n=${MAX_PAGE + 1}`, { limit: MAX_PAGE }],
    ['9-digit n, clamped', 'n=999999999', { limit: MAX_PAGE }],
    ['last only', 'last=library%2Fubuntu', { limit: DEFAULT_PAGE, last: 'library/ubuntu' }],
    ['n and last', 'n=2&last=v1.0', { limit: 2, last: 'v1.0' }],
    ['empty last', 'n=2&last=', { limit: 2 }],
    ['first n wins', 'n=3&n=abc', { limit: 3 }],
  ])('%s (%j)', (_label, query, expected) => {
    expect(parsePage(new URLSearchParams(query))).toEqual(expected);
  });

  // A well-formed but huge n asks for "everything"; it is clamped like n=999999999 is, not refused.
  it.each(['1000000000', '99999999999999999999'])('clamps the huge n=%s', (n) => {
    expect(parsePage(new URLSearchParams({ n }))).toEqual({ limit: MAX_PAGE });
  });

  it.each([
    ['non-numeric', 'abc'],
    ['negative', '-1'],
    ['fractional', '1.5'],
    ['exponent', '1e3'],
    ['hex', '0x10'],
    ['plus sign', '+5'],
    ['leading space', ' 5'],
    ['trailing garbage', '5a'],
    ['infinity', 'Infinity'],
  ])('throws PAGINATION_NUMBER_INVALID (400) for %s n=%j', (_label, n) => {
    let caught: unknown;
    try {
      parsePage(new URLSearchParams({ n }));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RegistryError);
    const error = caught as RegistryError;
    expect(error.code).toBe('PAGINATION_NUMBER_INVALID');
    expect(error.status).toBe(400);
    expect(error.detail).toEqual({ n });
  });
});

describe('paginate', () => {
  /** A sorted store of names answering `fetch(limit, last)` like the metadata queries do. */
  function source(names: string[]) {
    return vi.fn(async (limit: number, last?: string) =>
      names.filter((name) => last === undefined || name > last).slice(0, limit),
    );
  }

  const tags = ['a', 'b', 'c', 'd', 'e'];

  it.each<[string, Page, string[], string | undefined]>([
    ['a first page', { limit: 2 }, ['a', 'b'], '</v2/r/tags/list?n=2&last=b>; rel="next"'],
    ['a middle page', { limit: 2, last: 'b' }, ['c', 'd'], '</v2/r/tags/list?n=2&last=d>; rel="next"'],
    ['the last, partial page', { limit: 2, last: 'd' }, ['e'], undefined],
    ['a last page that is exactly full', { limit: 5 }, tags, undefined],
    ['a page bigger than everything', { limit: 1000 }, tags, undefined],
    ['a page after everything', { limit: 2, last: 'e' }, [], undefined],
    ['pages of one', { limit: 1, last: 'a' }, ['b'], '</v2/r/tags/list?n=1&last=b>; rel="next"'],
  ])('returns %s', async (_label, page, items, link) => {
    const fetch = source(tags);
    const result = await paginate(page, '/v2/r/tags/list', fetch);
    expect(result.items).toEqual(items);
    expect(result.link).toBe(link);
    expect('link' in result).toBe(link !== undefined);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(fetch).toHaveBeenCalledWith(page.limit + 1, page.last);
  });

  it('returns nothing without fetching for n=0', async () => {
    const fetch = source(tags);
    expect(await paginate({ limit: 0 }, '/v2/_catalog', fetch)).toEqual({ items: [] });
    expect(fetch).not.toHaveBeenCalled();
  });

  it.each([
    ['library/ubuntu', 'library%2Fubuntu'],
    ['a/b/c', 'a%2Fb%2Fc'],
    ['my-org/app_v1.0', 'my-org%2Fapp_v1.0'],
  ])('encodes the last repository %j in the Link', async (name, encoded) => {
    const fetch = source(['aaa', name, 'zzz'].sort());
    const page = { limit: (['aaa', name, 'zzz'].sort().indexOf(name) + 1) as number };
    const result = await paginate(page, '/v2/_catalog', fetch);
    expect(result.items.at(-1)).toBe(name);
    expect(result.link).toBe(`</v2/_catalog?n=${page.limit}&last=${encoded}>; rel="next"`);
  });

  it('lets a client follow the Link through every page and see each item once', async () => {
    const names = Array.from({ length: 23 }, (_, i) => `repo${String(i).padStart(2, '0')}/x`);
    const fetch = source(names);
    const seen: string[] = [];
    let page: Page = { limit: 5 };
    for (let guard = 0; guard < 10; guard++) {
      const result = await paginate(page, '/v2/_catalog', fetch);
      seen.push(...result.items);
      if (!result.link) break;
      const target = /^<([^>]+)>; rel="next"$/.exec(result.link)?.[1] ?? '';
      const url = new URL(target, 'http://registry.test');
      expect(url.pathname).toBe('/v2/_catalog');
      page = parsePage(url.searchParams);
    }
    expect(seen).toEqual(names);
  });
});
