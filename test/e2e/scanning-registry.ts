// What the scanning end-to-end test drives: a real Berth with token auth and one private project (a system
// administrator, a maintainer who pushes, a developer who only pulls), its scanning API over HTTP as the
// administrator, and the developer's manifest GET through the Docker token flow, as a pull client makes it.
import { expect } from 'vitest';
import { basic, bearer, getToken, type Login, PASSWORD, send, startAuthBerth } from '../auth/support.js';
import type { TestBerth } from '../helpers/server.js';

/** How long the background work (a scan, a rescan, an audit write) may take on this loaded machine. */
export const DEADLINE_MS = 120_000;

export interface ScanningRegistry {
  berth: TestBerth;
  host: string;
  project: string;
  admin: Login;
  /** A maintainer: pushes. */
  maintainer: Login;
  /** A developer: pulls (and pushes), may not bypass a policy. */
  developer: Login;
  /** A request as the administrator (HTTP Basic). */
  api(method: string, path: string, body?: unknown, contentType?: string): Promise<Response>;
  /** The administrator's JSON answer to `method path`, which must have `status`. */
  json<T>(method: string, path: string, body?: unknown, status?: number): Promise<T>;
  close(): Promise<void>;
}

export async function startScanningRegistry(
  config: Record<string, unknown> = {},
  project = 'team',
): Promise<ScanningRegistry> {
  // Scans are looked for every second (a push here wakes the worker at once anyway).
  const berth = await startAuthBerth({ 'scanning.pollSeconds': 1, ...config });
  try {
    const accounts = berth.berth.accounts;
    await accounts.createProject({ name: project, public: false });
    const admin = { username: 'root', password: PASSWORD };
    const maintainer = { username: 'dana', password: PASSWORD };
    const developer = { username: 'devon', password: PASSWORD };
    await Promise.all([
      accounts.createUser({ ...admin, systemAdmin: true }),
      accounts.createUser(maintainer),
      accounts.createUser(developer),
    ]);
    await accounts.setMember(project, { kind: 'user', name: maintainer.username, role: 'maintainer' });
    await accounts.setMember(project, { kind: 'user', name: developer.username, role: 'developer' });
    const authorization = basic(admin.username, admin.password);
    const api = (method: string, path: string, body?: unknown, contentType = 'application/json') =>
      send(berth.url, method, path, {
        authorization,
        ...(body !== undefined && {
          headers: { 'content-type': contentType },
          body: Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body),
        }),
      });
    return {
      berth,
      host: berth.host,
      project,
      admin,
      maintainer,
      developer,
      api,
      async json<T>(method: string, path: string, body?: unknown, status = 200): Promise<T> {
        const res = await api(method, path, body);
        const text = await res.text();
        expect(res.status, `${method} ${path}: ${text}`).toBe(status);
        return JSON.parse(text) as T;
      },
      close: () => berth.close(),
    };
  } catch (error) {
    await berth.close();
    throw error;
  }
}

/** A pull client's manifest GET: a token for `repository:…:pull` with `who`'s password, then the GET. */
export async function manifestGet(
  registry: ScanningRegistry,
  who: Login,
  repo: string,
  reference: string,
): Promise<Response> {
  const answer = await getToken(registry.berth.url, {
    credentials: who,
    scopes: [`repository:${repo}:pull`],
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return send(registry.berth.url, 'GET', `/v2/${repo}/manifests/${reference}`, {
    authorization: bearer(answer.token as string),
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
}

/** Calls `probe` until it returns something other than undefined, or fails after DEADLINE_MS saying `what`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`gave up waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
