// Blob GETs redirected to a CDN (storage.cdn): a real nginx, configured from deploy/nginx-cdn.conf as shipped,
// serves Berth's filesystem storage (or proxies its S3 bucket on Swift) and checks Berth's secure_link_md5
// signatures. skopeo pulls through Berth byte for byte with every blob from nginx; nginx refuses a tampered or
// expired URL; Berth still decides who may pull (401/403 before any URL is given).
import type { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdnUrl } from '../../src/storage/index.js';
import { basic, getToken, PASSWORD } from '../auth/support.js';
import {
  buildBusyboxLayout,
  hashBlobs,
  type Layout,
  layoutDigest,
  missingTools,
  run,
} from '../fixtures/image.js';
import { startNginx, writeNginxMain } from '../helpers/nginx.js';
import { freePort } from '../helpers/ports.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import {
  berthS3Storage,
  createBucket,
  deleteBucket,
  ensureSwift,
  type S3Endpoint,
  s3Client,
} from '../helpers/swift.js';

const missing = missingTools(['nginx', 'skopeo', 'umoci', 'apt-get', 'dpkg'], 'CDN redirect tests');
const TIMEOUT = 120_000;
const EXAMPLE = new URL('../../deploy/nginx-cdn.conf', import.meta.url);
const SECRET = 'cdn-test-secret-5d1f9a0c';
const EXPIRY_SECONDS = 300;

/**
 * The shipped example with our port, secret and origin (`alias <storage root>/blobs/;` or a `proxy_pass`),
 * inside a minimal main config run from `dir`.
 */
async function renderCdnNginx(dir: string, port: number, origin: string): Promise<string> {
  const site = (await readFile(EXAMPLE, 'utf8'))
    .replace(/listen 8444;/, `listen 127.0.0.1:${port};`)
    .replaceAll('change-me-to-a-long-random-string', SECRET)
    .replace('alias /var/lib/berth/blobs/;', origin);
  expect(site).toContain(`secure_link_md5 "$secure_link_expires$uri ${SECRET}"`);
  expect(site).toContain(origin);
  return writeNginxMain(dir, 'cdn.conf', site, { workerConnections: 64, accessLog: `${dir}/access.log` });
}

/** nginx's access log in `dir` has a 200 for the config and every layer of the manifest `digest` pulled into `out`. */
async function expectBlobsServedByNginx(dir: string, out: string, digest: string, request: RegExp) {
  const log = await readFile(join(dir, 'access.log'), 'utf8');
  const served = log.split('\n').filter((line) => request.test(line));
  const manifest = JSON.parse(
    (await readFile(join(out, 'blobs', 'sha256', digest.slice(7)))).toString('utf8'),
  ) as { config: { digest: string }; layers: { digest: string }[] };
  for (const blob of [manifest.config, ...manifest.layers]) {
    expect(
      served.some((line) => line.includes(blob.digest.slice(7))),
      blob.digest,
    ).toBe(true);
  }
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe.skipIf(missing.length > 0)('blob GETs redirected to a CDN (nginx secure_link)', () => {
  let dir: string;
  let berth: TestBerth;
  let nginx: ReturnType<typeof spawn> | undefined;
  let cdn: string;
  let busybox: Layout;
  const developer = { username: 'dana', password: PASSWORD };
  const outsider = { username: 'eve', password: PASSWORD };

  beforeAll(async () => {
    busybox = await buildBusyboxLayout();
    dir = await mkdtemp(join(tmpdir(), 'berth-cdn-'));
    const port = await freePort();
    cdn = `http://127.0.0.1:${port}/berth`;
    berth = await startBerth({
      config: {
        'auth.enabled': true,
        'storage.cdn.baseUrl': cdn,
        'storage.cdn.signing': 'nginx-secure-link',
        'storage.cdn.secret': SECRET,
        'storage.cdn.expirySeconds': EXPIRY_SECONDS,
      },
    });
    const accounts = berth.berth.accounts;
    await accounts.createProject({ name: 'team', public: false });
    await Promise.all([accounts.createUser(developer), accounts.createUser(outsider)]);
    await accounts.setMember('team', { kind: 'user', name: developer.username, role: 'developer' });

    const config = await renderCdnNginx(dir, port, `alias ${berth.dataDir}/blobs/;`);
    nginx = await startNginx(dir, config, `${cdn}/blobs/nothing`);
    await run(
      'skopeo',
      [
        '--insecure-policy',
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `${developer.username}:${developer.password}`,
        `oci:${busybox.dir}:${busybox.tag}`,
        `docker://${berth.host}/team/busybox:1`,
      ],
      { timeoutMs: 60_000 },
    );
  }, TIMEOUT);

  afterAll(async () => {
    nginx?.kill('SIGTERM');
    await berth?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A pull token for the developer (or whoever). */
  async function pullToken(login: { username: string; password: string }): Promise<string> {
    const answer = await getToken(berth.url, {
      credentials: login,
      scopes: ['repository:team/busybox:pull'],
    });
    expect(answer.status).toBe(200);
    return answer.token as string;
  }

  async function layerDigests(): Promise<string[]> {
    const blobs = await hashBlobs(busybox.dir);
    return [...blobs.keys()];
  }

  it(
    'skopeo pulls through Berth byte for byte, every blob from nginx',
    async () => {
      const out = join(dir, 'pulled');
      await run(
        'skopeo',
        [
          '--insecure-policy',
          'copy',
          '--src-tls-verify=false',
          '--src-creds',
          `${developer.username}:${developer.password}`,
          `docker://${berth.host}/team/busybox:1`,
          `oci:${out}:1`,
        ],
        { timeoutMs: 60_000 },
      );
      expect(await layoutDigest(out, '1')).toBe(busybox.digest);
      const [pulled, original] = await Promise.all([hashBlobs(out), hashBlobs(busybox.dir)]);
      expect([...pulled.entries()].sort()).toEqual([...original.entries()].sort());
      // nginx served the config and the layer (not Berth), each with a valid signature.
      await expectBlobsServedByNginx(
        dir,
        out,
        busybox.digest,
        / "GET \/berth\/blobs\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}\?md5=[\w-]+&expires=\d+ HTTP\/1\.1" 200 /,
      );
    },
    TIMEOUT,
  );

  it(
    'a blob GET is a 307 to a signed URL on the CDN; a tampered or expired one is refused by nginx',
    async () => {
      const token = await pullToken(developer);
      const digests = await layerDigests();
      const digest = digests.find((d) => d !== busybox.digest) as string;
      const res = await fetch(`${berth.url}/v2/team/busybox/blobs/${digest}`, {
        headers: { authorization: `Bearer ${token}` },
        redirect: 'manual',
      });
      expect(res.status).toBe(307);
      expect(res.headers.get('docker-content-digest')).toBe(digest);
      const location = new URL(res.headers.get('location') as string);
      const hex = digest.slice(7);
      expect(`${location.origin}${location.pathname}`).toBe(`${cdn}/blobs/sha256/${hex.slice(0, 2)}/${hex}`);
      const expires = Number(location.searchParams.get('expires'));
      expect(expires).toBeGreaterThan(Date.now() / 1000);
      expect(expires).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + EXPIRY_SECONDS);

      const fetched = await fetch(location);
      expect(fetched.status).toBe(200);
      expect(sha256(Buffer.from(await fetched.arrayBuffer()))).toBe(digest);
      const ranged = await fetch(location, { headers: { range: 'bytes=0-9' } });
      expect(ranged.status).toBe(206);
      expect((await ranged.arrayBuffer()).byteLength).toBe(10);

      // A signature changed by one character, none at all, or moved to another blob: 403.
      const md5 = location.searchParams.get('md5') as string;
      const tampered = new URL(location);
      // (The first character: the last one of 22 carries 2 bits, the rest padding a decoder may ignore.)
      tampered.searchParams.set('md5', `${md5.startsWith('A') ? 'B' : 'A'}${md5.slice(1)}`);
      expect((await fetch(tampered)).status).toBe(403);
      expect((await fetch(`${location.origin}${location.pathname}`)).status).toBe(403);
      const other = digests.find((d) => d !== digest) as string;
      const moved = new URL(location);
      moved.pathname = `/berth/blobs/sha256/${other.slice(7, 9)}/${other.slice(7)}`;
      expect((await fetch(moved)).status).toBe(403);
      // A later expiry with the old signature: 403; a URL Berth signed that has expired: 410.
      const extended = new URL(location);
      extended.searchParams.set('expires', String(expires + 3600));
      expect((await fetch(extended)).status).toBe(403);
      const key = `blobs/sha256/${hex.slice(0, 2)}/${hex}`;
      const options = { baseUrl: cdn, signing: 'nginx-secure-link' as const, secret: SECRET };
      const expired = cdnUrl({ ...options, expirySeconds: 60 }, key, Date.now() - 120_000);
      expect((await fetch(expired)).status).toBe(410);
      // The same scheme and a current time: served (so the 410 above is the expiry, nothing else).
      expect((await fetch(cdnUrl({ ...options, expirySeconds: 60 }, key))).status).toBe(200);
    },
    TIMEOUT,
  );

  it(
    'authorization still applies at Berth: no URL for anonymous callers or non-members',
    async () => {
      const digest = (await layerDigests()).find((d) => d !== busybox.digest) as string;
      const path = `/v2/team/busybox/blobs/${digest}`;
      const anonymous = await fetch(`${berth.url}${path}`, { redirect: 'manual' });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('location')).toBeNull();
      const withPassword = await fetch(`${berth.url}${path}`, {
        headers: { authorization: basic(outsider.username, outsider.password) },
        redirect: 'manual',
      });
      expect([401, 403]).toContain(withPassword.status);
      expect(withPassword.headers.get('location')).toBeNull();
      const token = await pullToken(outsider);
      const withToken = await fetch(`${berth.url}${path}`, {
        headers: { authorization: `Bearer ${token}` },
        redirect: 'manual',
      });
      expect([401, 403]).toContain(withToken.status);
      expect(withToken.headers.get('location')).toBeNull();
      const body = (await withToken.json()) as { errors: { code: string }[] };
      expect(['UNAUTHORIZED', 'DENIED']).toContain(body.errors[0]?.code);
      // A blob of another repository (mounted nowhere) is unknown here, even to a member: no URL either.
      const elsewhere = await fetch(`${berth.url}/v2/team/busybox/blobs/sha256:${'0'.repeat(64)}`, {
        headers: { authorization: `Bearer ${await pullToken(developer)}` },
        redirect: 'manual',
      });
      expect(elsewhere.status).toBe(404);
      expect(elsewhere.headers.get('location')).toBeNull();
    },
    TIMEOUT,
  );
});

const swift: S3Endpoint | undefined = missing.length > 0 ? undefined : await ensureSwift();

/**
 * Swift's own API, to let nginx read the bucket's objects (a container read ACL): s3api buckets are Swift
 * containers of the tempauth account, and the s3api has no anonymous read here.
 */
async function publicRead(bucket: string): Promise<string> {
  const auth = await fetch(`${(swift as S3Endpoint).endpoint}/auth/v1.0`, {
    headers: { 'x-auth-user': 'test:tester', 'x-auth-key': 'testing' },
  });
  const token = auth.headers.get('x-auth-token') as string;
  const storage = auth.headers.get('x-storage-url') as string;
  expect(token).toBeTruthy();
  const acl = await fetch(`${storage}/${bucket}`, {
    method: 'POST',
    headers: { 'x-auth-token': token, 'x-container-read': '.r:*' },
  });
  expect(acl.status).toBe(204);
  return `${storage}/${bucket}`;
}

describe.skipIf(missing.length > 0 || !swift)('blob GETs redirected to a CDN in front of S3 (Swift)', () => {
  let dir: string;
  let berth: TestBerth;
  let nginx: ReturnType<typeof spawn> | undefined;
  let bucket: string;
  let busybox: Layout;
  const s3 = swift ? s3Client(swift) : undefined;

  beforeAll(async () => {
    const target = swift as S3Endpoint;
    busybox = await buildBusyboxLayout();
    dir = await mkdtemp(join(tmpdir(), 'berth-cdn-s3-'));
    bucket = await createBucket(s3 as NonNullable<typeof s3>);
    const container = await publicRead(bucket);
    const port = await freePort();
    berth = await startBerth({
      config: {
        ...berthS3Storage(target, bucket),
        'storage.cdn.baseUrl': `http://127.0.0.1:${port}/berth`,
        'storage.cdn.signing': 'nginx-secure-link',
        'storage.cdn.secret': SECRET,
      },
    });
    const config = await renderCdnNginx(dir, port, `proxy_pass ${container}/blobs/;`);
    nginx = await startNginx(dir, config, `http://127.0.0.1:${port}/berth/blobs/nothing`);
  }, TIMEOUT);

  afterAll(async () => {
    nginx?.kill('SIGTERM');
    await berth?.close();
    if (bucket && s3) await deleteBucket(s3, bucket);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(
    'skopeo pushes to Berth on S3 and pulls back byte for byte, the blobs from the bucket through nginx',
    async () => {
      const skopeo = (...args: string[]) =>
        run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 60_000 });
      await skopeo(
        'copy',
        '--dest-tls-verify=false',
        `oci:${busybox.dir}:${busybox.tag}`,
        `docker://${berth.host}/library/busybox:1`,
      );
      const out = join(dir, 'pulled');
      await skopeo(
        'copy',
        '--src-tls-verify=false',
        `docker://${berth.host}/library/busybox:1`,
        `oci:${out}:1`,
      );
      expect(await layoutDigest(out, '1')).toBe(busybox.digest);
      const [pulled, original] = await Promise.all([hashBlobs(out), hashBlobs(busybox.dir)]);
      expect([...pulled.entries()].sort()).toEqual([...original.entries()].sort());
      // The config and every layer came from the bucket through nginx.
      await expectBlobsServedByNginx(
        dir,
        out,
        busybox.digest,
        / "GET \/berth\/blobs\/sha256\/\S+ HTTP\/1\.1" 200 /,
      );
    },
    TIMEOUT,
  );
});
