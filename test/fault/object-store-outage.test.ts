// The object store goes away under a running Berth (S3 through a fault-injecting proxy in front of the real
// Swift): requests that need it answer 503 UNAVAILABLE with Retry-After within the configured timeouts,
// /readyz says the storage is down, and once the store is back everything works again without a restart.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { sha256 } from '../helpers/oci-client.js';
import { describeReply, errorCode, type Reply, send } from '../helpers/raw-http.js';
import { deleteBucket, ensureSwift, type S3Endpoint, s3Client } from '../helpers/swift.js';
import { FaultProxy } from './fault-proxy.js';
import { buildImage, getBlob, pushBlob, uniqueRepo, waitFor } from './support.js';

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
/** What the test configures: a request on a hung store fails after about three tries of this. */
const REQUEST_TIMEOUT_SECONDS = 2;
/** A request still unanswered after this has hung: far past 3 × (connect + request timeout) and backoff. */
const HANG_MS = 60_000;

const endpoint: S3Endpoint | undefined = await ensureSwift();
const bucket = `berth-fault-outage-${process.pid}`;
let proxy: FaultProxy;
let dataDir: string;
let berth: ChildBerth;

beforeAll(async () => {
  if (!endpoint) return;
  const target = new URL(endpoint.endpoint);
  proxy = await FaultProxy.start({ host: target.hostname, port: Number(target.port) });
  dataDir = await mkdtemp(join(tmpdir(), 'berth-fault-s3-'));
  berth = await startChildBerth(dataDir, {
    env: {
      BERTH_STORAGE_DRIVER: 's3',
      BERTH_STORAGE_S3_ENDPOINT: `http://127.0.0.1:${proxy.port}`,
      BERTH_STORAGE_S3_REGION: endpoint.region,
      BERTH_STORAGE_S3_BUCKET: bucket,
      BERTH_STORAGE_S3_FORCE_PATH_STYLE: 'true',
      BERTH_STORAGE_S3_ACCESS_KEY_ID: endpoint.accessKeyId,
      BERTH_STORAGE_S3_SECRET_ACCESS_KEY: endpoint.secretAccessKey,
      BERTH_STORAGE_S3_CONNECT_TIMEOUT_SECONDS: '1',
      BERTH_STORAGE_S3_REQUEST_TIMEOUT_SECONDS: String(REQUEST_TIMEOUT_SECONDS),
    },
  });
});

afterAll(async () => {
  if (!endpoint) return;
  await berth?.kill();
  await proxy?.close();
  await deleteBucket(s3Client(endpoint), bucket).catch(() => {});
  await rm(dataDir, { recursive: true, force: true });
});

/** The request's reply, or a failure naming it when it hangs. */
async function bounded(what: string, request: Promise<Reply>): Promise<Reply> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} hung for ${HANG_MS} ms`)), HANG_MS);
  });
  try {
    return await Promise.race([request, hang]);
  } finally {
    clearTimeout(timer);
  }
}

function expectUnavailable(reply: Reply): void {
  expect(reply.status, describeReply(reply)).toBe(503);
  expect(errorCode(reply)).toBe('UNAVAILABLE');
  expect(reply.headers['retry-after']).toMatch(/^\d+$/);
  expect(reply.headers['content-type']).toBe('application/json');
}

async function pushImage(repo: string, tag: string, image: ReturnType<typeof buildImage>): Promise<void> {
  for (const blob of [image.config, image.layer]) {
    const reply = await bounded('blob push', pushBlob(berth.url, repo, blob));
    expect(reply.status, describeReply(reply)).toBe(201);
  }
  const put = await send(berth.url, 'PUT', `/v2/${repo}/manifests/${tag}`, {
    headers: { 'content-type': MANIFEST_TYPE },
    body: image.manifest,
  });
  expect(put.status, describeReply(put)).toBe(201);
}

async function expectPulls(repo: string, image: ReturnType<typeof buildImage>): Promise<void> {
  const manifest = await send(berth.url, 'GET', `/v2/${repo}/manifests/${image.digest}`, {
    headers: { accept: MANIFEST_TYPE },
  });
  expect(manifest.status, describeReply(manifest)).toBe(200);
  expect(manifest.body.equals(image.manifest)).toBe(true);
  for (const blob of [image.config, image.layer]) {
    const reply = await bounded('blob pull', getBlob(berth.url, repo, sha256(blob)));
    expect(reply.status, describeReply(reply)).toBe(200);
    expect(reply.body.equals(blob)).toBe(true);
  }
}

async function readiness(): Promise<{ status: number; body: Record<string, unknown> }> {
  const reply = await bounded('/readyz', send(berth.url, 'GET', '/readyz'));
  return { status: reply.status, body: JSON.parse(reply.body.toString('utf8')) };
}

describe.skipIf(!endpoint)('object store down, hung or slow (S3 behind a fault proxy)', () => {
  it('answers 503 UNAVAILABLE with Retry-After, reports it on /readyz, never hangs, recovers without restart', {
    timeout: 600_000,
  }, async () => {
    const repo = uniqueRepo('s3-outage');
    const before = buildImage(32 * 1024);
    await pushImage(repo, 'before', before);
    expect((await readiness()).status).toBe(200);
    const pid = berth.process.pid;

    for (const fault of ['refuse', 'blackhole'] as const) {
      proxy.set(fault);
      // A pull of a stored blob and a push of a new one both need the store.
      const pull = await bounded(`blob GET (${fault})`, getBlob(berth.url, repo, sha256(before.layer)));
      expectUnavailable(pull);
      const push = await bounded(`blob push (${fault})`, pushBlob(berth.url, repo, buildImage(1024).layer));
      expectUnavailable(push);
      // Metadata-only reads keep working: the manifest and the tag list live in the database.
      const manifest = await send(berth.url, 'GET', `/v2/${repo}/manifests/before`, {
        headers: { accept: MANIFEST_TYPE },
      });
      expect(manifest.status, describeReply(manifest)).toBe(200);
      expect(manifest.body.equals(before.manifest)).toBe(true);
      let ready = await readiness();
      await waitFor(
        `/readyz to report the store (${fault})`,
        async () => {
          ready = await readiness();
          return ready.status === 503;
        },
        HANG_MS,
      );
      expect(ready.body.status).toBe('unavailable');
      expect(ready.body.checks).toMatchObject({ metadata: 'ok' });
      expect((ready.body.checks as Record<string, string>).storage).not.toBe('ok');
      console.info(`object store ${fault}: /readyz ${JSON.stringify(ready.body)}`);
    }

    // Slow but under the timeout: served, only late.
    proxy.set('delay', 300);
    await waitFor('/readyz to recover while slow', async () => (await readiness()).status === 200, HANG_MS);
    await expectPulls(repo, before);

    proxy.set('pass');
    const after = buildImage(48 * 1024);
    await pushImage(repo, 'after', after);
    await expectPulls(repo, before);
    await expectPulls(repo, after);
    expect((await readiness()).status).toBe(200);
    // The same process throughout, and nothing it logged was an internal error.
    expect(berth.process.pid).toBe(pid);
    expect(berth.process.exitCode).toBeNull();
    const serverErrors = berth.logs().filter((entry) => entry.msg === 'request' && entry.status === 500);
    expect(serverErrors).toEqual([]);
    expect(proxy.accepted).toBeGreaterThan(0);
  });
});
