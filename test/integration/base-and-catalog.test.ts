// API version check (spec "Determining Support", end-1), operational endpoints, and the catalog listing
// (`/v2/_catalog`, the Docker Registry API extension the brief asks Berth to serve with n/last pagination).
import { beforeAll, describe, expect, it } from 'vitest';
import { mediaTypeOf, type OciClient, randomBytes } from '../helpers/oci-client.js';
import { startBerthWithClient, type TestBerth } from '../helpers/server.js';

let berth: TestBerth;
let client: OciClient;
startBerthWithClient((started) => {
  ({ berth, client } = started);
});

describe('GET /v2/ (end-1)', () => {
  it('returns 200, the API version header and an empty JSON object', async () => {
    const res = await client.get('/v2/');
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(mediaTypeOf(res)).toBe('application/json');
    expect(await res.json()).toEqual({});
  });

  it('carries an X-Request-Id header', async () => {
    const res = await client.get('/v2/');
    await res.arrayBuffer();
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('gives distinct request ids to distinct requests', async () => {
    const [a, b] = await Promise.all([client.get('/v2/'), client.get('/v2/')]);
    await Promise.all([a.arrayBuffer(), b.arrayBuffer()]);
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
  });

  it('answers HEAD /v2/ with 200 and no body', async () => {
    const res = await client.head('/v2/');
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });
});

describe('operational endpoints', () => {
  it.each(['/healthz', '/readyz'])('GET %s → 200', async (path) => {
    const res = await client.get(path);
    await res.arrayBuffer();
    expect(res.status).toBe(200);
  });

  it('GET /metrics → 200 text with berth_http_requests_total', async () => {
    // Make sure at least one request has been counted before scraping.
    await (await client.get('/v2/')).arrayBuffer();
    const res = await client.get('/metrics');
    expect(res.status).toBe(200);
    expect(mediaTypeOf(res)).toMatch(/^text\/plain|^application\/openmetrics-text/);
    expect(await res.text()).toContain('berth_http_requests_total');
  });
});

describe('GET /v2/_catalog', () => {
  const prefix = `cat${randomBytes(3).toString('hex')}`;
  // Pushed out of lexical order on purpose. Separators make byte order differ from a locale's order
  // (which skips punctuation): every metadata backend must list in byte order.
  const names = [
    `${prefix}/zeta`,
    `${prefix}/alpha`,
    `${prefix}/mid/deep`,
    `${prefix}/beta`,
    `${prefix}/alpha2`,
    `${prefix}/a-c`,
    `${prefix}/ab`,
    `${prefix}/a.d`,
    `${prefix}/a_b`,
    `${prefix}/a/e`,
  ];
  let full: string[];

  beforeAll(async () => {
    for (const name of names) await client.pushRandomImage(name, 'latest', { layers: 1, layerSize: 16 });
    const res = await client.get('/v2/_catalog');
    expect(res.status).toBe(200);
    full = ((await res.json()) as { repositories: string[] }).repositories;
  });

  it('lists every repository, sorted lexically', () => {
    for (const name of names) expect(full).toContain(name);
    expect(full).toEqual([...full].sort());
    expect(full.filter((r) => r.startsWith(`${prefix}/`))).toEqual([...names].sort());
  });

  it('returns a JSON body {repositories:[...]}', async () => {
    const res = await client.get('/v2/_catalog');
    expect(mediaTypeOf(res)).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(Array.isArray(body.repositories)).toBe(true);
  });

  it('?n=2 returns the first two with a Link to the next page', async () => {
    const res = await client.get('/v2/_catalog?n=2');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { repositories: string[] };
    expect(body.repositories).toEqual(full.slice(0, 2));
    // `</v2/_catalog?n=2&last=R>; rel="next"`; R may be percent-encoded (`/` as %2F), so compare decoded.
    const link = res.headers.get('link') ?? '';
    const target = /^<([^>]+)>; rel="next"$/.exec(link)?.[1];
    expect(target, link).toBeDefined();
    const next = new URL(target as string, berth.url);
    expect(next.pathname).toBe('/v2/_catalog');
    expect(Object.fromEntries(next.searchParams)).toEqual({ n: '2', last: full[1] });
  });

  it('?n=2&last=R returns the two repositories after R', async () => {
    const res = await client.get(`/v2/_catalog?n=2&last=${full[1]}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { repositories: string[] };
    expect(body.repositories).toEqual(full.slice(2, 4));
  });

  it('following Link headers walks the whole catalog, and the last page has no Link', async () => {
    const seen: string[] = [];
    let next: string | null = '/v2/_catalog?n=2';
    let pages = 0;
    while (next) {
      const res = await client.get(next);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { repositories: string[] };
      expect(body.repositories.length).toBeLessThanOrEqual(2);
      seen.push(...body.repositories);
      const link = res.headers.get('link');
      next = link ? (/^<([^>]+)>;\s*rel="next"$/.exec(link)?.[1] ?? null) : null;
      if (link) expect(next, `malformed Link: ${link}`).not.toBeNull();
      pages += 1;
      expect(pages).toBeLessThan(1000);
    }
    expect(seen).toEqual(full);
  });

  it('has no Link header when the page covers the rest of the catalog', async () => {
    const res = await client.get(`/v2/_catalog?n=${full.length + 5}`);
    const body = (await res.json()) as { repositories: string[] };
    expect(body.repositories).toEqual(full);
    expect(res.headers.get('link')).toBeNull();
  });

  it('returns an empty list after the last repository', async () => {
    const res = await client.get(`/v2/_catalog?n=2&last=${full[full.length - 1]}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { repositories: string[] }).repositories).toEqual([]);
    expect(res.headers.get('link')).toBeNull();
  });
});
