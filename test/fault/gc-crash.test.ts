// kill -9 in the middle of a garbage collection run, restart, run again: nothing referenced is lost, nothing
// stays behind for good (rows, claims, bytes), and the history says the first run was interrupted.
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/auth/index.js';
import { openDatabase } from '../../src/metadata/index.js';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { type BuiltImage, bytesOf, OciClient, randomBytes, sha256, sleep } from '../helpers/oci-client.js';

const PASSWORD = 'gc crash admin password';
const ADMIN = basicAuthorization('admin', PASSWORD);
const ORPHANS = 4000;
const env = { BERTH_GC_GRACE_SECONDS: '0', BERTH_ADMIN_PASSWORD: PASSWORD };

let dataDir: string;
let child: ChildBerth | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'berth-gc-crash-'));
});

afterAll(async () => {
  await child?.kill();
  await rm(dataDir, { recursive: true, force: true });
});

interface Run {
  id: number;
  status: string;
  progress: { phase?: string } | null;
  summary: { bytes: number; orphans: { objects: number } } | null;
  error: string | null;
}

async function api(url: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: ADMIN, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

async function storedBlobs(): Promise<string[]> {
  const found: string[] = [];
  const root = join(dataDir, 'blobs', 'sha256');
  for (const prefix of await readdir(root).catch(() => [] as string[])) {
    for (const hex of await readdir(join(root, prefix))) found.push(`sha256:${hex}`);
  }
  return found.sort();
}

it('survives kill -9 mid-run: the next run finishes the job and loses nothing referenced', {
  timeout: 120_000,
}, async () => {
  child = await startChildBerth(dataDir, { env });
  const client = new OciClient(child.url);
  const kept: BuiltImage[] = [];
  for (let i = 0; i < 5; i++) kept.push(await client.pushRandomImage(`crash/keep${i}`, 'v1'));
  // Garbage with metadata: untagged images and abandoned layers.
  for (let i = 0; i < 20; i++) {
    await client.pushRandomImage('crash/drop', `t${i}`);
    expect((await client.delete('/v2/crash/drop/manifests/t' + i)).status).toBe(202);
  }
  for (let i = 0; i < 100; i++) await client.pushBlob('crash/abandoned', randomBytes(256));
  // Garbage without: stored bytes no row knows, as a crash between rename and row would leave.
  const past = new Date(Date.now() - 3_600_000);
  for (let i = 0; i < ORPHANS; i++) {
    const data = randomBytes(64);
    const hex = sha256(data).slice('sha256:'.length);
    const dir = join(dataDir, 'blobs', 'sha256', hex.slice(0, 2));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, hex), data);
    await utimes(join(dir, hex), past, past);
  }

  const started = (await (await api(child.url, 'POST', '/gc/runs', { dryRun: false })).json()) as Run;
  // Kill it once it is deleting.
  for (;;) {
    const run = (await (await api(child.url, 'GET', `/gc/runs/${started.id}`)).json()) as Run;
    expect(run.status, 'the run ended before it could be killed: make more garbage').toBe('running');
    if (run.progress?.phase && run.progress.phase !== 'mark') {
      console.info(`gc crash: killed during ${JSON.stringify(run.progress)}`);
      break;
    }
    await sleep(5);
  }
  await child.kill('SIGKILL');
  const midway = await storedBlobs();

  child = await startChildBerth(dataDir, { env });
  const after = new OciClient(child.url);
  const interrupted = (await (await api(child.url, 'GET', `/gc/runs/${started.id}`)).json()) as Run;
  expect(interrupted.status).toBe('interrupted');
  // Everything tagged pulls whole, before and after the second run.
  const verify = async () => {
    for (let i = 0; i < kept.length; i++) {
      const image = kept[i] as BuiltImage;
      const res = await after.get(`/v2/crash/keep${i}/manifests/v1`);
      expect(sha256(await bytesOf(res))).toBe(image.digest);
      for (const blob of [image.config, ...image.layers]) {
        const got = await after.get(`/v2/crash/keep${i}/blobs/${sha256(blob)}`);
        expect(got.status).toBe(200);
        expect((await bytesOf(got)).equals(blob)).toBe(true);
      }
    }
  };
  await verify();

  const second = (await (await api(child.url, 'POST', '/gc/runs', { dryRun: false })).json()) as Run;
  let finished: Run;
  for (;;) {
    finished = (await (await api(child.url, 'GET', `/gc/runs/${second.id}`)).json()) as Run;
    if (finished.status !== 'running') break;
    await sleep(50);
  }
  expect(finished.status, finished.error ?? '').toBe('succeeded');
  await verify();

  const referenced = new Set(kept.flatMap((image) => [image.config, ...image.layers].map(sha256)));
  expect(await storedBlobs()).toEqual([...referenced].sort());
  expect(midway.length).toBeGreaterThan(referenced.size);
  await child.kill('SIGTERM');
  child = undefined;
  const { db } = await openDatabase(`sqlite:${join(dataDir, 'berth.db')}`);
  try {
    const rows = await db.selectFrom('blobs').select(['digest', 'deleting_until']).execute();
    expect(rows.map((row) => row.digest).sort()).toEqual([...referenced].sort());
    expect(rows.every((row) => row.deleting_until === null)).toBe(true);
  } finally {
    await db.destroy();
  }
});
