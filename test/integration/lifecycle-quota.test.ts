// Storage quotas over HTTP: a push that would pass a project's quota is refused with DENIED, usage and limit
// at POST (project full), at PATCH and at PUT (declared length, before the bytes are written) and when the
// blob is linked (the authoritative check, which concurrent pushes cannot slip past, on SQLite and on
// PostgreSQL alike). A blob counts once per project. Usage is in the API and in /metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/auth/index.js';
import { OciClient, randomBytes, sha256 } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const ADMIN = basicAuthorization('admin', 'lifecycle admin password');

let server: TestBerth;
let client: OciClient;

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: ADMIN, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

async function project(name: string, limitBytes: number | null = null): Promise<void> {
  await server.berth.accounts.createProject({ name });
  const res = await api('PUT', `/projects/${name}/quota`, { limitBytes });
  expect(res.status, await res.text()).toBe(200);
}

async function quota(name: string): Promise<{ limitBytes: number | null; usedBytes: number }> {
  const res = await api('GET', `/projects/${name}/quota`);
  expect(res.status).toBe(200);
  return (await res.json()) as { limitBytes: number | null; usedBytes: number };
}

/** The exact refusal: `project P is over its quota: U used of L[; this blob needs N]`. */
function overQuota(name: string, used: [number, string], limit: [number, string], needs?: [number, string]) {
  return {
    errors: [
      {
        code: 'DENIED',
        message: `project ${name} is over its quota: ${used[1]} used of ${limit[1]}${needs ? `; this blob needs ${needs[1]}` : ''}`,
        detail: {
          project: name,
          usedBytes: used[0],
          limitBytes: limit[0],
          ...(needs && { neededBytes: needs[0] }),
        },
      },
    ],
  };
}

function monolithic(repo: string, data: Buffer): Promise<Response> {
  return client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, {
    headers: { 'content-type': 'application/octet-stream' },
    body: data,
  });
}

function patch(location: string, data: Buffer, offset: number): Promise<Response> {
  return client.request('PATCH', location, {
    headers: {
      'content-type': 'application/octet-stream',
      'content-range': `${offset}-${offset + data.length - 1}`,
    },
    body: data,
  });
}

function put(location: string, digest: string, data?: Buffer, offset = 0): Promise<Response> {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return client.request('PUT', url.toString(), {
    ...(data && {
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': `${offset}-${offset + data.length - 1}`,
      },
      body: data,
    }),
  });
}

/** Where the upload stands (GET status), or the status code when it is gone. */
async function uploadOffset(location: string): Promise<string | number> {
  const res = await client.get(location);
  await res.arrayBuffer();
  return res.status === 204 ? (res.headers.get('range') as string) : res.status;
}

/** Every project's usage counter equals a recount from the links. */
async function expectConsistent(): Promise<void> {
  const recount = await server.berth.lifecycle.store.recount();
  for (const row of await server.berth.lifecycle.store.allStorage()) {
    expect(row.usedBytes, row.project).toBe(recount.get(row.project) ?? 0);
  }
}

beforeAll(async () => {
  server = await startBerth();
  client = new OciClient(server.url);
  await server.berth.accounts.setPassword('admin', 'lifecycle admin password');
});
afterAll(() => server?.close());

describe('quota refusals', () => {
  it('at POST: a full project opens no upload session; blobs it holds still go in', async () => {
    await project('full', 1000);
    await project('spare');
    const held = randomBytes(1000);
    expect((await monolithic('full/app', held)).status).toBe(201);
    const res = await client.request('POST', '/v2/full/app/blobs/uploads/');
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual(overQuota('full', [1000, '1 kB'], [1000, '1 kB']));

    // Pushed again, or mounted within the project: it counts once already, so it never fails.
    expect((await monolithic('full/app', held)).status).toBe(201);
    expect((await monolithic('full/other', held)).status).toBe(201);
    const mount = await client.request(
      'POST',
      `/v2/full/third/blobs/uploads/?mount=${sha256(held)}&from=full/app`,
    );
    expect(mount.status).toBe(201);
    expect(await quota('full')).toEqual({ limitBytes: 1000, usedBytes: 1000 });

    // Mounted from another project, it would count here: refused when linked.
    const elsewhere = randomBytes(500);
    expect((await monolithic('spare/x', elsewhere)).status).toBe(201);
    const refused = await client.request(
      'POST',
      `/v2/full/app/blobs/uploads/?mount=${sha256(elsewhere)}&from=spare/x`,
    );
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual(overQuota('full', [1000, '1 kB'], [1000, '1 kB'], [500, '500 B']));
    expect((await client.head(`/v2/full/app/blobs/${sha256(elsewhere)}`)).status).toBe(404);
    await expectConsistent();
  });

  it('at PATCH: a chunk that would pass the quota is refused before it is written', async () => {
    await project('patchy', 10_000);
    const location = await client.startUpload('patchy/app');
    const tooBig = await patch(location, randomBytes(12_000), 0);
    expect(tooBig.status).toBe(403);
    expect(await tooBig.json()).toEqual(
      overQuota('patchy', [0, '0 B'], [10_000, '10 kB'], [12_000, '12 kB']),
    );
    expect(await uploadOffset(location)).toBe('0-0');

    const first = randomBytes(6000);
    expect((await patch(location, first, 0)).status).toBe(202);
    // The blob so far plus this chunk: 11 kB.
    const second = await patch(location, randomBytes(5000), 6000);
    expect(second.status).toBe(403);
    expect(await second.json()).toEqual(
      overQuota('patchy', [0, '0 B'], [10_000, '10 kB'], [11_000, '11 kB']),
    );
    expect(await uploadOffset(location)).toBe('0-5999');

    // What fits still goes in.
    const last = randomBytes(4000);
    const done = await put(location, sha256(Buffer.concat([first, last])), last, 6000);
    expect(done.status, await done.text()).toBe(201);
    expect(await quota('patchy')).toEqual({ limitBytes: 10_000, usedBytes: 10_000 });
  });

  it('at PUT: a last chunk, or a finished upload, that would pass the quota is refused', async () => {
    await project('putty', 10_000);
    // A last chunk of declared length: refused before it is written.
    const withBody = await client.startUpload('putty/app');
    const start = randomBytes(6000);
    expect((await patch(withBody, start, 0)).status).toBe(202);
    const end = randomBytes(5000);
    const refused = await put(withBody, sha256(Buffer.concat([start, end])), end, 6000);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual(
      overQuota('putty', [0, '0 B'], [10_000, '10 kB'], [11_000, '11 kB']),
    );
    expect(await uploadOffset(withBody)).toBe('0-5999');

    // A finished upload (PUT without a body) when another push filled the project in the meantime.
    const pending = await client.startUpload('putty/app');
    const data = randomBytes(5000);
    expect((await patch(pending, data, 0)).status).toBe(202);
    expect((await monolithic('putty/other', randomBytes(6000))).status).toBe(201);
    const late = await put(pending, sha256(data));
    expect(late.status).toBe(403);
    expect(await late.json()).toEqual(overQuota('putty', [6000, '6 kB'], [10_000, '10 kB'], [5000, '5 kB']));
    // Refused for good: the session and its data are gone, and the blob is not there.
    expect(await uploadOffset(pending)).toBe(404);
    expect((await client.head(`/v2/putty/app/blobs/${sha256(data)}`)).status).toBe(404);

    // A monolithic POST whose body would pass the quota.
    const whole = await monolithic('putty/app', randomBytes(4001));
    expect(whole.status).toBe(403);
    expect(await whole.json()).toEqual(overQuota('putty', [6000, '6 kB'], [10_000, '10 kB'], [4001, '4 kB']));
    expect((await monolithic('putty/app', randomBytes(4000))).status).toBe(201);
    expect(await quota('putty')).toEqual({ limitBytes: 10_000, usedBytes: 10_000 });
    await expectConsistent();
  });

  it('lifting the quota lets the refused push through', async () => {
    const data = randomBytes(2000);
    expect((await monolithic('putty/app', data)).status).toBe(403);
    expect((await api('PUT', '/projects/putty/quota', { limitBytes: null })).status).toBe(200);
    expect((await monolithic('putty/app', data)).status).toBe(201);
    expect(await quota('putty')).toEqual({ limitBytes: null, usedBytes: 12_000 });
  });
});

describe('usage', () => {
  it('counts a blob shared by repositories of one project once, and in each project that links it', async () => {
    await project('shared');
    const x = randomBytes(1000);
    const y = randomBytes(300);
    for (const repo of ['shared/a', 'shared/b', 'shared/b/deeper'])
      expect((await monolithic(repo, x)).status).toBe(201);
    expect((await monolithic('shared/b', y)).status).toBe(201);
    expect(await quota('shared')).toEqual({ limitBytes: null, usedBytes: 1300 });
    const before = (await quota('spare')).usedBytes;
    expect((await monolithic('spare/c', x)).status).toBe(201);
    expect(await quota('spare')).toEqual({ limitBytes: null, usedBytes: before + 1000 });

    // Unlinked everywhere in the project but one place: still counted; then gone.
    expect((await client.delete(`/v2/shared/a/blobs/${sha256(x)}`)).status).toBe(202);
    expect((await client.delete(`/v2/shared/b/blobs/${sha256(x)}`)).status).toBe(202);
    expect(await quota('shared')).toEqual({ limitBytes: null, usedBytes: 1300 });
    expect((await client.delete(`/v2/shared/b/deeper/blobs/${sha256(x)}`)).status).toBe(202);
    expect(await quota('shared')).toEqual({ limitBytes: null, usedBytes: 300 });
    expect(await quota('spare')).toEqual({ limitBytes: null, usedBytes: before + 1000 });
    await expectConsistent();
  });

  it('is reported per project and in total by /api/v1/usage and /metrics', async () => {
    const res = await api('GET', '/usage');
    expect(res.status).toBe(200);
    const usage = (await res.json()) as {
      storedBytes: number;
      capacityBytes: number | null;
      warnPercent: number;
      projects: { project: string; usedBytes: number; limitBytes: number | null }[];
    };
    expect(usage.projects).toContainEqual({ project: 'full', usedBytes: 1000, limitBytes: 1000 });
    expect(usage.projects).toContainEqual({ project: 'shared', usedBytes: 300, limitBytes: null });
    expect(usage.warnPercent).toBe(85);
    // The filesystem's size, from statfs.
    expect(usage.capacityBytes).toBeGreaterThan(1_000_000);
    expect(usage.storedBytes).toBe(await server.berth.lifecycle.store.storedBytes());

    const metrics = await (await client.get('/metrics')).text();
    expect(metrics).toContain('berth_project_storage_bytes{project="full"} 1000\n');
    expect(metrics).toContain('berth_project_storage_bytes{project="shared"} 300\n');
    expect(metrics).toContain('berth_project_quota_bytes{project="full"} 1000\n');
    expect(metrics).not.toContain('berth_project_quota_bytes{project="shared"}');
    expect(metrics).toContain(`berth_storage_bytes ${usage.storedBytes}\n`);
  });

  it('audits quota changes', async () => {
    const events = await server.berth.audit.query({ action: 'quota.set', resourcePrefix: 'full', limit: 10 });
    expect(events.map((e) => [e.resource, e.actor, e.result, e.detail])).toEqual([
      ['full', 'admin', 'success', '{"limitBytes":1000}'],
    ]);
  });
});

describe('concurrent pushes racing for the last bytes of a quota', () => {
  it('admit exactly those that fit when their uploads finish at once', async () => {
    await project('race', 10_000);
    expect((await monolithic('race/base', randomBytes(7000))).status).toBe(201);
    const blobs = Array.from({ length: 12 }, () => randomBytes(1000));
    // Every upload is under the quota when it starts and when its chunk is written…
    const locations = await Promise.all(blobs.map((_, i) => client.startUpload(`race/r${i}`)));
    const patched = await Promise.all(blobs.map((data, i) => patch(locations[i] as string, data, 0)));
    expect(patched.map((res) => res.status)).toEqual(blobs.map(() => 202));
    // …and only three of them fit when they all finish together.
    const finished = await Promise.all(blobs.map((data, i) => put(locations[i] as string, sha256(data))));
    const statuses = finished.map((res) => res.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(3);
    expect(statuses.filter((status) => status === 403)).toHaveLength(9);
    for (const res of finished.filter((r) => r.status === 403)) {
      expect(await res.json()).toEqual(
        overQuota('race', [10_000, '10 kB'], [10_000, '10 kB'], [1000, '1 kB']),
      );
    }
    const present = await Promise.all(
      blobs.map(async (data, i) => (await client.head(`/v2/race/r${i}/blobs/${sha256(data)}`)).status),
    );
    expect(present.map((status, i) => [status, statuses[i]])).toEqual(
      statuses.map((status) => [status === 201 ? 200 : 404, status]),
    );
    expect(await quota('race')).toEqual({ limitBytes: 10_000, usedBytes: 10_000 });
    await expectConsistent();
  });

  it('admit exactly those that fit among concurrent monolithic pushes, of several sizes', async () => {
    await project('race2', 5000);
    // 1000 + 1500 + 2500 = 5000 fits exactly; any fourth blob would pass it. Each size several times over.
    const sizes = [1000, 1500, 2500, 1000, 1500, 2500, 1000, 1500, 2500, 4000, 4500];
    const results = await Promise.all(
      sizes.map(async (size, i) => ({
        size,
        status: (await monolithic(`race2/r${i}`, randomBytes(size))).status,
      })),
    );
    const admitted = results.filter((r) => r.status === 201);
    expect(results.filter((r) => r.status !== 201).every((r) => r.status === 403)).toBe(true);
    const total = admitted.reduce((sum, r) => sum + r.size, 0);
    expect(total).toBeLessThanOrEqual(5000);
    // Whatever got in, nothing refused would have fitted beside it.
    for (const refused of results.filter((r) => r.status === 403))
      expect(total + refused.size).toBeGreaterThan(5000);
    expect(await quota('race2')).toEqual({ limitBytes: 5000, usedBytes: total });
    await expectConsistent();
  });
});

describe('capacity', () => {
  it('reports the configured capacity and whether storage passed warnPercent of it', async () => {
    const small = await startBerth({ config: { 'storage.capacityBytes': 2000, 'storage.warnPercent': 50 } });
    try {
      const other = new OciClient(small.url);
      expect(await small.berth.lifecycle.checkCapacity()).toEqual({
        storedBytes: 0,
        capacityBytes: 2000,
        warnPercent: 50,
        above: false,
      });
      await other.pushBlob('library/app', randomBytes(999));
      expect((await small.berth.lifecycle.checkCapacity()).above).toBe(false);
      await other.pushBlob('app', randomBytes(1));
      expect(await small.berth.lifecycle.checkCapacity()).toEqual({
        storedBytes: 1000,
        capacityBytes: 2000,
        warnPercent: 50,
        above: true,
      });
      expect((await small.berth.lifecycle.usage()).projects).toEqual([
        { project: 'library', usedBytes: 1000, limitBytes: null },
      ]);
    } finally {
      await small.close();
    }
  });
});
