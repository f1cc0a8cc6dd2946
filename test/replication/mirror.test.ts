// Berth as a mirror for daemons: Docker's `registry-mirrors` sends Docker Hub's plain path
// (`/v2/library/alpine/manifests/3.20`) and containerd's mirrors add `?ns=<registry host>`; both are served by
// the proxy project (proxy.mirrorProject, or the one bound to the ns host). Against a real upstream (CNCF
// Distribution 2.8.2) with real skopeo, and with raw HTTP the way dockerd pulls (token for the name it asked,
// HEAD then GET of the manifest with Docker's Accept list, then the blobs).
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/replication/index.js';
import { PASSWORD, Seeder } from '../auth/support.js';
import { findExecutable, run } from '../fixtures/image.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import { type Distribution, requireDistribution, startDistribution } from './distribution.js';
import { type PushedImage, pushImage } from './support.js';

const TIMEOUT = 120_000;
const SKOPEO = findExecutable('skopeo', ['/usr/bin']);
const distribution = requireDistribution('registry mirror tests');
if (!SKOPEO) {
  if (process.env.CI) throw new Error('registry mirror tests must run in CI: missing skopeo');
  console.warn('\n!!! SKIPPING registry mirror tests: missing skopeo (apt-get install skopeo) !!!\n');
}
const ADMIN = { username: 'root', password: PASSWORD };
/** What dockerd sends when it pulls (daemon/images, distribution/manifest.go). */
const DOCKER_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
].join(', ');

interface Challenge {
  realm: string;
  service: string;
  scope?: string;
}

function parseChallenge(header: string | null): Challenge {
  expect(header).toMatch(/^Bearer /);
  const params: Record<string, string> = {};
  for (const m of (header as string).matchAll(/(\w+)="([^"]*)"/g)) params[m[1] as string] = m[2] as string;
  return params as unknown as Challenge;
}

/**
 * A pull as dockerd makes it: GET /v2/, a token for `repository:<name>:pull` (the name it pulls, whatever the
 * challenge says) from the realm, HEAD then GET of the manifest, then each blob, verified against its digest.
 * With `ns` (containerd), no ping: a request answered 401 gets a token from that challenge's realm, then again.
 */
async function dockerdPull(base: string, name: string, reference: string, ns?: string) {
  const query = ns ? `?ns=${encodeURIComponent(ns)}` : '';
  const tokenFrom = async (challenge: Challenge) => {
    const realm = new URL(challenge.realm);
    realm.searchParams.set('service', challenge.service);
    realm.searchParams.append('scope', `repository:${name}:pull`);
    const response = await fetch(realm);
    expect(response.status).toBe(200);
    return ((await response.json()) as { token: string }).token;
  };
  let token: string | undefined;
  if (!ns) {
    const ping = await fetch(`${base}/v2/`);
    await ping.arrayBuffer();
    expect(ping.status).toBe(401);
    token = await tokenFrom(parseChallenge(ping.headers.get('www-authenticate')));
  }
  const call = async (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) => {
    const send = () =>
      fetch(`${base}/v2/${path}${query}`, {
        ...init,
        headers: { ...init.headers, ...(token && { authorization: `Bearer ${token}` }) },
      });
    let res = await send();
    if (res.status === 401 && ns) {
      await res.arrayBuffer();
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      expect(challenge.scope).toBe(`repository:${name}:pull`);
      expect(new URL(challenge.realm).searchParams.get('ns')).toBe(ns);
      token = await tokenFrom(challenge);
      res = await send();
    }
    return res;
  };
  const headers = { accept: DOCKER_ACCEPT };
  const head = await call(`${name}/manifests/${reference}`, { method: 'HEAD', headers });
  expect(head.status).toBe(200);
  const digest = head.headers.get('docker-content-digest') as string;
  const got = await call(`${name}/manifests/${reference}`, { headers });
  expect(got.status).toBe(200);
  const bytes = Buffer.from(await got.arrayBuffer());
  expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(digest);
  const manifest = JSON.parse(bytes.toString()) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  let blobs = 0;
  for (const blob of [manifest.config, ...manifest.layers]) {
    const res = await call(`${name}/blobs/${blob.digest}`);
    expect(res.status, blob.digest).toBe(200);
    const data = Buffer.from(await res.arrayBuffer());
    expect(`sha256:${createHash('sha256').update(data).digest('hex')}`).toBe(blob.digest);
    blobs++;
  }
  return { digest, bytes, blobs };
}

describe.skipIf(!distribution || !SKOPEO)('Berth as a registry mirror (registry-mirrors, ns=)', () => {
  let tmp: string;
  let upstream: Distribution;
  let berth: TestBerth;
  let admin: Seeder;
  let alpine: PushedImage;
  let tool: PushedImage;
  let upstreamTeamApp: PushedImage;

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await admin.request(method, `/api/v1${path}`, {
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text };
  };
  const skopeo = (args: string[]) => run(SKOPEO as string, args, { timeoutMs: 90_000 });
  /** skopeo copy into a fresh OCI layout; the manifest digest it wrote (skopeo may rewrite the manifest). */
  const skopeoPull = async (host: string, reference: string, creds?: string) => {
    const dir = await mkdtemp(join(tmp, 'oci-'));
    await skopeo([
      'copy',
      '--src-tls-verify=false',
      ...(creds ? ['--src-creds', creds] : []),
      `docker://${host}/${reference}`,
      `oci:${dir}:v1`,
    ]);
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    return index.manifests[0]?.digest;
  };
  /** The same pull straight from the upstream, which a pull through the mirror must equal. */
  const direct = (reference: string) => skopeoPull(upstream.host, reference);
  /** The manifest cached under a tag: stored once the last blob's fill has been committed, just after it is sent. */
  const cached = async (repository: string, tag: string) => {
    for (let i = 0; i < 200; i++) {
      const row = await berth.berth.registry.meta.manifestByTag(repository, tag);
      if (row) return row;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return undefined;
  };

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-mirror-'));
    upstream = await startDistribution();
    const direct = new RegistryClient({ url: upstream.url, access: 'push' });
    // Docker Hub's shapes: an official image under library/, an organisation's image, and a name that is a
    // private project's here.
    alpine = await pushImage(direct, 'library/alpine', { tag: '3.20' });
    tool = await pushImage(direct, 'someorg/tool', { tag: '1' });
    upstreamTeamApp = await pushImage(direct, 'team/app', { tag: '1' });
    berth = await startBerth({ config: { 'auth.enabled': true, 'proxy.mirrorProject': 'hub' } });
    await berth.berth.accounts.createUser({ ...ADMIN, systemAdmin: true });
    admin = new Seeder(berth.url, ADMIN.username, ADMIN.password);
    const hub = await api('POST', '/projects', { name: 'hub', public: true, proxy: { url: upstream.url } });
    expect(hub.status, hub.text).toBe(201);
    const team = await api('POST', '/projects', { name: 'team', public: false });
    expect(team.status, team.text).toBe(201);
    await admin.pushImage('library/local', undefined, 'v1');
  }, TIMEOUT);

  afterAll(async () => {
    await berth?.close();
    await upstream?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it(
    'serves Docker Hub plain paths through the mirror project to skopeo, anonymously (the project is public)',
    async () => {
      expect(await skopeoPull(berth.host, 'library/alpine:3.20')).toBe(await direct('library/alpine:3.20'));
      expect(await skopeoPull(berth.host, 'someorg/tool:1')).toBe(await direct('someorg/tool:1'));
      // Cached in the proxy project, under the upstream's names.
      expect((await cached('hub/library/alpine', '3.20'))?.digest).toBe(alpine.digest);
      expect((await cached('hub/someorg/tool', '1'))?.digest).toBe(tool.digest);
      expect(await berth.berth.registry.meta.repositoryId('library/alpine')).toBeUndefined();
    },
    TIMEOUT,
  );

  it(
    'pulls the way dockerd does: a token for repository:library/alpine:pull, HEAD and GET, then the blobs',
    async () => {
      const pulled = await dockerdPull(berth.url, 'library/alpine', '3.20');
      expect(pulled.digest).toBe(alpine.digest);
      expect(pulled.bytes.equals(alpine.manifest)).toBe(true);
      expect(pulled.blobs).toBe(alpine.blobs.length);
      // The token endpoint answers the OAuth2 form too, naming the scope as asked.
      const oauth = await fetch(`${berth.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'password',
          username: ADMIN.username,
          password: ADMIN.password,
          service: 'berth',
          scope: 'repository:someorg/tool:pull',
        }),
      });
      const body = (await oauth.json()) as { scope: string; access_token: string };
      expect(body.scope).toBe('repository:someorg/tool:pull');
      const res = await fetch(`${berth.url}/v2/someorg/tool/manifests/1`, {
        headers: { authorization: `Bearer ${body.access_token}`, accept: DOCKER_ACCEPT },
      });
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(tool.digest);
    },
    TIMEOUT,
  );

  it(
    'never mirrors a name in an existing project, and serves library/ names that exist here locally',
    async () => {
      // team is a project here: its names are never fetched upstream, whatever the upstream has.
      const anonymous = await fetch(`${berth.url}/v2/team/app/manifests/1`);
      await anonymous.arrayBuffer();
      expect(anonymous.status).toBe(401);
      expect(parseChallenge(anonymous.headers.get('www-authenticate')).scope).toBe(
        'repository:team/app:pull',
      );
      const asAdmin = await admin.request('GET', '/v2/team/app/manifests/1');
      expect(asAdmin.status, await asAdmin.text()).toBe(404);
      expect(await berth.berth.registry.meta.repositoryId('hub/team/app')).toBeUndefined();
      // library/local was pushed here: served from here, anonymously (library is public).
      const pulled = await dockerdPull(berth.url, 'library/local', 'v1');
      expect(pulled.blobs).toBe(2);
      expect(await berth.berth.registry.meta.repositoryId('hub/library/local')).toBeUndefined();
    },
    TIMEOUT,
  );

  it(
    "maps containerd's ns= to the project bound to that upstream (also names of existing projects)",
    async () => {
      const pulled = await dockerdPull(berth.url, 'team/app', '1', upstream.host);
      expect(pulled.digest).toBe(upstreamTeamApp.digest);
      expect((await cached('hub/team/app', '1'))?.digest).toBe(upstreamTeamApp.digest);
      // hosts.toml with override_path: the project is in the path already, and stays as it is.
      const prefixed = await dockerdPull(berth.url, 'hub/library/alpine', '3.20', upstream.host);
      expect(prefixed.digest).toBe(alpine.digest);
      // No proxy project caches docker.io here: served as asked (team/app is not here).
      const other = await admin.request('GET', '/v2/team/app/manifests/1?ns=docker.io');
      expect(other.status, await other.text()).toBe(404);
    },
    TIMEOUT,
  );

  it(
    'lets anonymous pulls through only while the mirror project is public',
    async () => {
      expect((await api('PATCH', '/projects/hub', { public: false })).status).toBe(200);
      try {
        // The challenge names what the client asked for; its token grants nothing of a private mirror.
        const challenged = await fetch(`${berth.url}/v2/library/alpine/manifests/3.20`);
        await challenged.arrayBuffer();
        expect(challenged.status).toBe(401);
        const { realm, service, scope } = parseChallenge(challenged.headers.get('www-authenticate'));
        expect(scope).toBe('repository:library/alpine:pull');
        const tokenUrl = `${realm}?service=${service}&scope=repository:library/alpine:pull`;
        const { token } = (await (await fetch(tokenUrl)).json()) as { token: string };
        const refused = await fetch(`${berth.url}/v2/library/alpine/manifests/3.20`, {
          headers: { authorization: `Bearer ${token}`, accept: DOCKER_ACCEPT },
        });
        await refused.arrayBuffer();
        expect(refused.status).toBe(401);
        // With ns=, the realm carries it, so that the token endpoint maps the name as /v2 does.
        const viaNs = await fetch(`${berth.url}/v2/team/app/manifests/1?ns=${upstream.host}`);
        await viaNs.arrayBuffer();
        expect(viaNs.status).toBe(401);
        const nsChallenge = parseChallenge(viaNs.headers.get('www-authenticate'));
        expect(nsChallenge.scope).toBe('repository:team/app:pull');
        expect(new URL(nsChallenge.realm).searchParams.get('ns')).toBe(upstream.host);
        // A member (here the administrator) still pulls through the mirror, with a token for the plain name.
        expect(
          await skopeoPull(berth.host, 'library/alpine:3.20', `${ADMIN.username}:${ADMIN.password}`),
        ).toBe(await direct('library/alpine:3.20'));
      } finally {
        expect((await api('PATCH', '/projects/hub', { public: true })).status).toBe(200);
      }
    },
    TIMEOUT,
  );

  it(
    'pushes to a plain name go here (not to the mirror), and the name is then served from here',
    async () => {
      // A pusher's token (pull,push for the name itself) sees the name here, not the mirror: containerd's
      // pusher asks HEAD of the manifest before it pushes, and must not find the upstream's.
      const pushToken = await fetch(
        `${berth.url}/token?service=berth&scope=repository:library/alpine:pull,push`,
        {
          headers: {
            authorization: `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`,
          },
        },
      );
      const { token } = (await pushToken.json()) as { token: string };
      const head = await fetch(`${berth.url}/v2/library/alpine/manifests/3.20`, {
        method: 'HEAD',
        headers: { authorization: `Bearer ${token}`, accept: DOCKER_ACCEPT },
      });
      expect(head.status).toBe(404);
      const src = await mkdtemp(join(tmp, 'src-'));
      await skopeo([
        'copy',
        '--src-tls-verify=false',
        `docker://${upstream.host}/someorg/tool:1`,
        `oci:${src}:v1`,
      ]);
      // skopeo asks a pull,push token for the name itself, checks the blobs with HEAD, then pushes.
      await skopeo([
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `${ADMIN.username}:${ADMIN.password}`,
        `oci:${src}:v1`,
        `docker://${berth.host}/library/alpine:mine`,
      ]);
      expect(await cached('library/alpine', 'mine')).toBeDefined();
      // library/alpine exists here now: the local repository wins over the mirror.
      const shadowed = await admin.request('GET', '/v2/library/alpine/manifests/3.20');
      expect(shadowed.status, await shadowed.text()).toBe(404);
      const mirrored = await admin.request('GET', '/v2/hub/library/alpine/manifests/3.20', {
        headers: { accept: DOCKER_ACCEPT },
      });
      expect(mirrored.status, await mirrored.text()).toBe(200);
    },
    TIMEOUT,
  );
});
