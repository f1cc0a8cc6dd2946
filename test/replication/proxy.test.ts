// Pull-through cache projects against real registries on loopback: CNCF Distribution 2.8.2 (anonymous, and
// htpasswd Basic auth) and a central Berth with token auth (the edge-cache topology). A small node:http proxy in
// front of the anonymous upstream observes and injects faults (counts requests, refuses connections, answers
// 429, holds or cuts a blob body); clients are the real skopeo and plain HTTP.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/replication/index.js';
import { upstreamRepository } from '../../src/replication/proxy/index.js';
import { PASSWORD, Seeder } from '../auth/support.js';
import { type PrivateRegistry, startPrivateRegistry } from '../e2e/private-registry.js';
import { findExecutable, run } from '../fixtures/image.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import { type Distribution, requireDistribution, startDistribution } from './distribution.js';
import { digestOf, type PushedImage, pushImage } from './support.js';

const TIMEOUT = 180_000;
const SKOPEO = findExecutable('skopeo', ['/usr/bin']);
const distribution = requireDistribution('pull-through cache tests', true);
if (!SKOPEO) {
  if (process.env.CI) throw new Error('pull-through cache tests must run in CI: missing skopeo');
  console.warn('\n!!! SKIPPING pull-through cache tests: missing skopeo (apt-get install skopeo) !!!\n');
}
const SECRET_KEY = `k1:${randomBytes(32).toString('base64')}`;
const BASIC = { username: 'mirror', password: 'mirror-password-123' };
const ADMIN = { username: 'root', password: PASSWORD };

describe('upstream repository names', () => {
  it.each([
    ['https://registry-1.docker.io', 'hub/alpine', 'library/alpine'],
    ['https://registry-1.docker.io', 'hub/library/alpine', 'library/alpine'],
    ['https://index.docker.io', 'hub/bitnami/redis', 'bitnami/redis'],
    ['https://ghcr.io', 'gh/alpine', 'alpine'],
    ['http://127.0.0.1:5000', 'edge/team/app', 'team/app'],
  ])('%s: %s → %s', (upstream, repository, expected) => {
    expect(upstreamRepository(new URL(upstream), repository)).toBe(expected);
  });
});

describe.skipIf(!distribution || !SKOPEO)('pull-through cache (proxy projects)', () => {
  let tmp: string;
  let dataDir: string;
  let upstream: Distribution;
  let basicUpstream: Distribution;
  let gate: UpstreamGate;
  let central: PrivateRegistry;
  let edge: TestBerth;
  let admin: Seeder;
  let image: PushedImage;
  let basicImage: PushedImage;
  let centralImage: PushedImage;
  let big: { digest: string; size: number };
  /** Layouts of direct pulls, which pulls through the cache must equal. */
  const directly: Record<string, Map<string, string>> = {};

  const startEdge = async () => {
    edge = await startBerth({
      dataDir,
      config: { 'auth.enabled': true, 'replication.secretKey': SECRET_KEY },
    });
    admin = new Seeder(edge.url, ADMIN.username, ADMIN.password);
  };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await admin.request(method, `/api/v1${path}`, {
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const skopeo = (args: string[]) => run(SKOPEO as string, args, { timeoutMs: 120_000 });
  /** skopeo copy docker://HOST/REPO oci:DIR (fresh DIR, no TLS, anonymous or with `creds`). */
  const pull = async (host: string, reference: string, creds?: string) => {
    const dir = await mkdtemp(join(tmp, 'oci-'));
    await skopeo([
      'copy',
      '--src-tls-verify=false',
      ...(creds ? ['--src-creds', creds] : []),
      `docker://${host}/${reference}`,
      `oci:${dir}:v1`,
    ]);
    return dir;
  };
  const manifestGet = (repository: string, reference: string) =>
    fetch(`${edge.url}/v2/${repository}/manifests/${reference}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-proxy-'));
    dataDir = await mkdtemp(join(tmpdir(), 'berth-proxy-edge-'));
    [upstream, basicUpstream, central] = await Promise.all([
      startDistribution(),
      startDistribution({ htpasswd: BASIC }),
      startPrivateRegistry('team'),
    ]);
    gate = await UpstreamGate.start(upstream.port);
    const direct = new RegistryClient({ url: upstream.url, access: 'push' });
    image = await pushImage(direct, 'app', { tag: 'v1' });
    await pushImage(direct, 'other', { tag: 'v1' });
    const bigLayer = randomBytes(24 * 1024 * 1024);
    big = { digest: digestOf(bigLayer), size: bigLayer.length };
    await pushImage(direct, 'big', { tag: 'v1', layers: [bigLayer] });
    await pushImage(direct, 'cut', { tag: 'v1', layers: [randomBytes(8 * 1024 * 1024)] });
    basicImage = await pushImage(
      new RegistryClient({ url: basicUpstream.url, access: 'push', credentials: BASIC }),
      'private/app',
      { tag: 'v1' },
    );
    centralImage = await pushImage(
      new RegistryClient({ url: central.berth.url, access: 'push', credentials: central.member }),
      'team/app',
      { tag: 'v1' },
    );
    await startEdge();
    await edge.berth.accounts.createUser({ ...ADMIN, systemAdmin: true });
  }, TIMEOUT);

  afterAll(async () => {
    await edge?.close();
    await Promise.all([upstream?.close(), basicUpstream?.close(), central?.close(), gate?.close()]);
    await rm(tmp, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it(
    'binds projects to upstreams through the API, never showing a password',
    async () => {
      const hub = await api('POST', '/projects', { name: 'hub', public: true, proxy: { url: gate.url } });
      expect(hub.status, hub.text).toBe(201);
      expect(hub.json.proxy).toEqual({ url: gate.url, username: null, credentials: false });

      const basic = await api('POST', '/projects', {
        name: 'basic',
        public: true,
        proxy: { url: basicUpstream.url, ...BASIC },
      });
      expect(basic.status, basic.text).toBe(201);
      expect(basic.text).not.toContain(BASIC.password);
      const read = await api('GET', '/projects/basic');
      expect(read.json.proxy).toEqual({
        url: basicUpstream.url,
        username: BASIC.username,
        credentials: true,
      });
      expect(read.text).not.toContain(BASIC.password);
      const { rows } = await sql`select * from proxy_projects`.execute(edge.berth.registry.meta.db);
      const sealed = JSON.stringify(rows);
      expect(sealed).toContain('berth-secret:v1:k1:');
      expect(sealed).not.toContain(BASIC.password);

      const edgeProject = await api('POST', '/projects', {
        name: 'central',
        public: true,
        proxy: { url: central.berth.url, ...central.member },
      });
      expect(edgeProject.status, edgeProject.text).toBe(201);

      for (const [proxy, message] of [
        [{ url: 'ftp://example.com' }, /http:\/\/ or https:\/\//],
        [{ url: `${gate.url}/v2/` }, /base URL/],
        [{ url: 'http://u:p@example.com' }, /must not carry credentials/],
        [{ url: gate.url, username: 'x' }, /both proxy.username and proxy.password/],
      ] as const) {
        const refused = await api('POST', '/projects', { name: 'bad', proxy });
        expect(refused.status, refused.text).toBe(400);
        expect(refused.text).toMatch(message);
      }
    },
    TIMEOUT,
  );

  it(
    'refuses credentials when no replication.secretKey is configured',
    async () => {
      const bare = await startBerth({ config: { 'auth.enabled': true } });
      try {
        await bare.berth.accounts.createUser({ ...ADMIN, systemAdmin: true });
        const res = await new Seeder(bare.url, ADMIN.username, ADMIN.password).request(
          'POST',
          '/api/v1/projects',
          {
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: 'hub', proxy: { url: basicUpstream.url, ...BASIC } }),
          },
        );
        const text = await res.text();
        expect(res.status, text).toBe(400);
        expect(text).toContain('replication.secretKey is not set');
        expect(text).not.toContain(BASIC.password);
        const anonymous = await new Seeder(bare.url, ADMIN.username, ADMIN.password).request(
          'POST',
          '/api/v1/projects',
          {
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: 'hub', proxy: { url: basicUpstream.url } }),
          },
        );
        expect(anonymous.status, await anonymous.text()).toBe(201);
      } finally {
        await bare.close();
      }
    },
    TIMEOUT,
  );

  it(
    'first pull through the cache equals a direct pull byte for byte; the second asks the upstream nothing',
    async () => {
      gate.seen.length = 0;
      const through = await pull(edge.host, 'hub/app:v1');
      expect(gate.seen.some((r) => r.method === 'GET' && r.path.endsWith('/manifests/v1'))).toBe(true);
      directly.app = await layoutFiles(await pull(upstream.host, 'app:v1'));
      expect(directly.app.size).toBeGreaterThan(3);
      expect(await layoutFiles(through)).toEqual(directly.app);
      // The manifest itself, exactly as the upstream serves it (skopeo rewrites it into the OCI layout).
      const raw = await manifestGet('hub/app', 'v1');
      expect(raw.headers.get('docker-content-digest')).toBe(image.digest);
      expect(Buffer.from(await raw.arrayBuffer()).equals(image.manifest)).toBe(true);

      // Stored through the core: tagged, blobs linked.
      const tags = await (await admin.request('GET', '/v2/hub/app/tags/list')).json();
      expect(tags).toEqual({ name: 'hub/app', tags: ['v1'] });
      for (const blob of image.blobs) {
        expect(await edge.berth.registry.meta.linkedBlobSize('hub/app', blob.digest)).toBe(blob.size);
      }

      gate.seen.length = 0;
      const again = await pull(edge.host, 'hub/app:v1');
      expect(gate.seen).toEqual([]);
      expect(await layoutFiles(again)).toEqual(directly.app);
    },
    TIMEOUT,
  );

  it(
    'htpasswd upstream through stored credentials, and a Berth with token auth as the upstream (edge ← central)',
    async () => {
      const basicDir = await pull(edge.host, 'basic/private/app:v1');
      const basicDirect = await pull(
        basicUpstream.host,
        'private/app:v1',
        `${BASIC.username}:${BASIC.password}`,
      );
      expect(await layoutFiles(basicDir)).toEqual(await layoutFiles(basicDirect));

      const edgeDir = await pull(edge.host, 'central/team/app:v1');
      const centralDir = await pull(
        central.host,
        'team/app:v1',
        `${central.member.username}:${central.member.password}`,
      );
      for (const [repository, pushed] of [
        ['basic/private/app', basicImage],
        ['central/team/app', centralImage],
      ] as const) {
        const raw = await manifestGet(repository, 'v1');
        expect(raw.headers.get('docker-content-digest')).toBe(pushed.digest);
        expect(Buffer.from(await raw.arrayBuffer()).equals(pushed.manifest)).toBe(true);
      }
      directly.central = await layoutFiles(centralDir);
      expect(directly.central.size).toBeGreaterThan(3);
      expect(await layoutFiles(edgeDir)).toEqual(directly.central);
    },
    TIMEOUT,
  );

  it(
    'refuses pushes into a proxy project',
    async () => {
      const client = new RegistryClient({ url: edge.url, access: 'push', credentials: ADMIN });
      const error = await pushImage(client, 'hub/mine', { tag: 'v1' }).catch((e: unknown) => e);
      expect(String(error)).toMatch(
        /403.*DENIED.*project hub is a pull-through cache of http:\/\/127\.0\.0\.1/,
      );
    },
    TIMEOUT,
  );

  it(
    'two concurrent first pulls of one big blob fetch it once and store one copy',
    async () => {
      expect((await manifestGet('hub/big', 'v1')).status).toBe(200);
      gate.seen.length = 0;
      gate.hold(big.digest);
      // Each body is read as it comes, as a client does (the first reader sets the pace of the fill).
      const read = (res: Promise<Response>) =>
        res.then(async (r) => ({
          status: r.status,
          length: r.headers.get('content-length'),
          digest: await sha256Of(r),
        }));
      const first = fetch(`${edge.url}/v2/hub/big/blobs/${big.digest}`);
      await gate.until(() => gate.seen.some((r) => r.path.endsWith(big.digest)));
      const second = fetch(`${edge.url}/v2/hub/big/blobs/${big.digest}`);
      // The second request must reach the cache while the first is held; were it late, it would be served
      // from storage and the count below would still hold (this wait cannot make the test fail).
      await new Promise((resolve) => setTimeout(resolve, 500));
      gate.release();
      const [a, b] = await Promise.all([read(first), read(second)]);
      expect(a).toEqual({ status: 200, length: String(big.size), digest: big.digest });
      expect(b).toEqual({ status: 200, length: String(big.size), digest: big.digest });
      expect(gate.seen.filter((r) => r.method === 'GET' && r.path.endsWith(big.digest))).toHaveLength(1);
      expect(await edge.berth.registry.meta.linkedBlobSize('hub/big', big.digest)).toBe(big.size);
      expect(await storedBlobs(edge.dataDir, big.digest)).toEqual([big.size]);
      expect(await leftovers(edge.dataDir)).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'an upstream that fails after its headers, before the first byte of a blob, gets a 503 naming it',
    async () => {
      const manifest = await manifestGet('hub/cut', 'v1');
      const layer = (JSON.parse(await manifest.text()) as { layers: { digest: string }[] }).layers[0] as {
        digest: string;
      };
      gate.cut(layer.digest, 0);
      try {
        const failed = await fetch(`${edge.url}/v2/hub/cut/blobs/${layer.digest}`);
        const body = await failed.text();
        // Not a 500: the failure is the upstream's, and the client may try again.
        expect(failed.status, body).toBe(503);
        expect(JSON.parse(body).errors[0].code).toBe('UNAVAILABLE');
        expect(body).toContain(`upstream ${gate.url}`);
        await gate.until(async () => (await leftovers(edge.dataDir)).length === 0);
        expect(await edge.berth.registry.meta.linkedBlobSize('hub/cut', layer.digest)).toBeUndefined();
      } finally {
        gate.cut(undefined, 0);
      }
    },
    TIMEOUT,
  );

  it(
    'an upstream cut off mid-blob leaves nothing linked or half-written; the next pull succeeds',
    async () => {
      const manifest = await manifestGet('hub/cut', 'v1');
      const layer = (JSON.parse(await manifest.text()) as { layers: { digest: string; size: number }[] })
        .layers[0] as { digest: string; size: number };
      gate.cut(layer.digest, 1024 * 1024);
      const broken = await fetch(`${edge.url}/v2/hub/cut/blobs/${layer.digest}`);
      const failed = await sha256Of(broken).catch((e: unknown) => e);
      expect(failed).not.toBe(layer.digest);
      await gate.until(async () => (await leftovers(edge.dataDir)).length === 0);
      expect(await edge.berth.registry.meta.linkedBlobSize('hub/cut', layer.digest)).toBeUndefined();
      expect(await storedBlobs(edge.dataDir, layer.digest)).toEqual([]);

      gate.cut(undefined, 0);
      // The failed fill may still be winding down (its temporary file is gone first): a request joining it
      // fills again itself rather than fail with it.
      const whole = await fetch(`${edge.url}/v2/hub/cut/blobs/${layer.digest}`);
      expect(whole.status, whole.status === 200 ? '' : await whole.clone().text()).toBe(200);
      expect(await sha256Of(whole)).toBe(layer.digest);
      await gate.until(
        async () => (await edge.berth.registry.meta.linkedBlobSize('hub/cut', layer.digest)) !== undefined,
      );
      const dir = await pull(edge.host, 'hub/cut:v1');
      expect(await layoutFiles(dir)).toEqual(await layoutFiles(await pull(upstream.host, 'cut:v1')));
    },
    TIMEOUT,
  );

  it(
    'with the upstreams down, cached images still pull (marked stale) and uncached ones get a clear error',
    async () => {
      // A restart forgets when tags were last confirmed: the next pull must ask the upstream.
      await edge.close();
      await central.close();
      gate.mode = 'down';
      await startEdge();

      const stale = await manifestGet('hub/app', 'v1');
      expect(stale.status).toBe(200);
      expect(stale.headers.get('docker-content-digest')).toBe(image.digest);
      expect(stale.headers.get('warning')).toBe('110 - "Response is Stale"');
      expect(stale.headers.get('x-berth-proxy-stale')).toBe('upstream unreachable');
      const dir = await pull(edge.host, 'hub/app:v1');
      expect(await layoutFiles(dir)).toEqual(directly.app);

      const uncached = await manifestGet('hub/other', 'v1');
      const body = await uncached.text();
      expect(uncached.status, body).toBe(503);
      expect(JSON.parse(body).errors[0].code).toBe('UNAVAILABLE');
      expect(body).toContain(`upstream ${gate.url} unreachable`);

      // The edge serves while the central Berth is down.
      const fromCentral = await pull(edge.host, 'central/team/app:v1');
      expect(await layoutFiles(fromCentral)).toEqual(directly.central);
      const centralStale = await manifestGet('central/team/app', 'v1');
      expect(centralStale.headers.get('x-berth-proxy-stale')).toBe('upstream unreachable');
    },
    TIMEOUT,
  );

  it(
    'an upstream answering 429 is handled the same way, its answer named',
    async () => {
      gate.mode = '429';
      const stale = await manifestGet('hub/app', 'v1');
      expect(stale.status).toBe(200);
      expect(stale.headers.get('x-berth-proxy-stale')).toBe('upstream answered 429');
      const dir = await pull(edge.host, 'hub/app:v1');
      expect(await layoutFiles(dir)).toEqual(directly.app);

      const uncached = await manifestGet('hub/other', 'v1');
      const body = await uncached.text();
      expect(uncached.status, body).toBe(503);
      expect(body).toContain(`upstream ${gate.url} answered 429`);
      expect(body).toContain('TOOMANYREQUESTS');
      expect(uncached.headers.get('retry-after')).toBe('7');

      gate.mode = 'pass';
      const fresh = await manifestGet('hub/other', 'v1');
      expect(fresh.status).toBe(200);
      expect(fresh.headers.get('x-berth-proxy-stale')).toBeNull();
      const missing = await manifestGet('hub/nothing', 'v1');
      expect(missing.status).toBe(404);
      expect(JSON.parse(await missing.text()).errors[0].code).toMatch(/MANIFEST_UNKNOWN|NAME_UNKNOWN/);
    },
    TIMEOUT,
  );
});

// ---------------------------------------------------------------------------------------------------------------

/** Every file of an OCI layout (path → sha256 of its bytes). */
async function layoutFiles(dir: string, prefix = ''): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      for (const [name, hash] of await layoutFiles(dir, path)) files.set(name, hash);
    } else if (entry.isFile()) {
      files.set(
        path,
        createHash('sha256')
          .update(await readFile(join(dir, path)))
          .digest('hex'),
      );
    }
  }
  return files;
}

async function sha256Of(res: Response): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

/** Sizes of the stored copies of a blob under the edge's data directory (one, or none). */
async function storedBlobs(dataDir: string, digest: string): Promise<number[]> {
  const hex = digest.slice(7);
  try {
    return [(await stat(join(dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex))).size];
  } catch {
    return [];
  }
}

/** Temp objects of pull-through fills still in the uploads area. */
async function leftovers(dataDir: string): Promise<string[]> {
  const names = await readdir(join(dataDir, 'uploads')).catch(() => [] as string[]);
  return names.filter((name) => name.startsWith('proxy-'));
}

/**
 * A real HTTP proxy in front of the upstream registry that records every request and injects faults: refused
 * connections (`down`), 429 with Retry-After, a blob body held after its first bytes until released, or cut
 * off (connection destroyed) after some bytes.
 */
class UpstreamGate {
  readonly seen: { method: string; path: string }[] = [];
  mode: 'pass' | 'down' | '429' = 'pass';
  private held: { digest: string; waiting: (() => void)[] } | undefined;
  private cutAt: { digest: string; bytes: number } | undefined;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(port: number): Promise<UpstreamGate> {
    let self: UpstreamGate | undefined;
    const server = createServer((req, res) => self?.handle(req, res, port));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('no port');
    self = new UpstreamGate(server, `http://127.0.0.1:${address.port}`);
    return self;
  }

  hold(digest: string): void {
    this.held = { digest, waiting: [] };
  }

  release(): void {
    const waiting = this.held?.waiting ?? [];
    this.held = undefined;
    for (const resume of waiting) resume();
  }

  cut(digest: string | undefined, bytes: number): void {
    this.cutAt = digest === undefined ? undefined : { digest, bytes };
  }

  /** Waits (polling) until `condition` holds. */
  async until(condition: () => boolean | Promise<boolean>): Promise<void> {
    for (let i = 0; i < 2000; i++) {
      if (await condition()) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('condition never held');
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse, port: number): void {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    this.seen.push({ method, path });
    if (this.mode === 'down') {
      req.socket.destroy();
      return;
    }
    if (this.mode === '429') {
      req.resume();
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }));
      return;
    }
    const upstream = httpRequest(
      { host: '127.0.0.1', port, method, path, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const held = this.held && path.endsWith(this.held.digest) ? this.held : undefined;
        const cut = this.cutAt && path.endsWith(this.cutAt.digest) ? this.cutAt : undefined;
        if (method !== 'GET' || answer.statusCode !== 200 || (!held && !cut)) {
          answer.pipe(res);
          return;
        }
        // The client sees the headers even when the cut comes before the first byte.
        if (cut) res.flushHeaders();
        let sent = 0;
        answer.on('data', (chunk: Buffer) => {
          if (cut && sent + chunk.length > cut.bytes) {
            res.write(chunk.subarray(0, Math.max(0, cut.bytes - sent)));
            answer.destroy();
            res.destroy();
            return;
          }
          sent += chunk.length;
          res.write(chunk);
          if (held && this.held === held) {
            answer.pause();
            held.waiting.push(() => answer.resume());
          }
        });
        answer.on('end', () => res.end());
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }
}
