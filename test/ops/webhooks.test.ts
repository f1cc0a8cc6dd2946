// Webhooks against a real Berth and a real HTTP receiver (node:http on an ephemeral port): CloudEvents and
// Harbor payloads with a valid HMAC, retries with backoff, an endpoint disabled after repeated failures, a
// pending delivery that survives a restart, and two servers on one PostgreSQL delivering each event once.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  verifySignature,
  type WebhookDeliveryRecord,
  type WebhookEndpointView,
} from '../../src/events/webhooks/index.js';
import { OciClient } from '../helpers/oci-client.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../helpers/postgres.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const SECRET = 'a webhook secret of some length';
/**
 * Fast retries and polls, so that the tests take seconds; each assertion on timing is a lower bound only. The
 * receivers listen on loopback, which webhooks.denyPrivateAddresses refuses unless allowed by name.
 */
const FAST = {
  'webhooks.allowedHosts': '127.0.0.1',
  'webhooks.retrySeconds': 0.2,
  'webhooks.pollSeconds': 0.1,
  'webhooks.maxFailures': 3,
  'webhooks.maxAttempts': 5,
};

interface Received {
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver: records every request and answers with the next status of `statuses` (then 200). */
class Receiver {
  readonly requests: Received[] = [];
  statuses: number[] = [];
  private server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.requests.push({
          at: Date.now(),
          headers: request.headers,
          body: Buffer.concat(chunks).toString(),
        });
        response.statusCode = this.statuses.shift() ?? 200;
        response.end(response.statusCode === 200 ? 'ok' : 'receiver says no');
      });
    });
  }

  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Waits (up to 30 s) until `count` requests arrived. */
  async received(count: number): Promise<Received[]> {
    await until(
      () => this.requests.length >= count,
      `${count} webhook requests (got ${this.requests.length})`,
    );
    return this.requests;
  }
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function addEndpoint(
  berth: TestBerth,
  url: string,
  options: { eventTypes?: ('push' | 'pull' | 'delete')[]; format?: 'cloudevents' | 'harbor' | 'slack' } = {},
): Promise<WebhookEndpointView> {
  return berth.berth.webhooks.create(
    { project: null },
    {
      name: 'test',
      url,
      eventTypes: options.eventTypes ?? ['push'],
      format: options.format ?? 'cloudevents',
      secret: SECRET,
      enabled: true,
    },
    'admin',
  );
}

function deliveries(berth: TestBerth, endpoint: number): Promise<WebhookDeliveryRecord[]> {
  return berth.berth.webhooks.deliveries({ project: null }, endpoint, { limit: 1000 });
}

/** A port nothing listens on (taken, then given back). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('webhooks on one server', () => {
  let berth: TestBerth;
  let client: OciClient;
  beforeAll(async () => {
    berth = await startBerth({ config: FAST });
    client = new OciClient(berth.url);
  });
  afterAll(() => berth.close());

  it('sends a push as a CloudEvent with a valid HMAC signature, and logs the delivery', async () => {
    const receiver = new Receiver();
    const endpoint = await addEndpoint(berth, await receiver.listen());
    try {
      const image = await client.pushRandomImage('ce/app', 'v1');
      const [request] = await receiver.received(1);
      expect(request?.headers['content-type']).toBe('application/cloudevents+json');
      expect(request?.headers['x-berth-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(
        verifySignature(request?.body ?? '', SECRET, request?.headers['x-berth-signature'] as string),
      ).toBe(true);
      expect(
        verifySignature(
          request?.body ?? '',
          'another secret entirely',
          request?.headers['x-berth-signature'] as string,
        ),
      ).toBe(false);
      const event = JSON.parse(request?.body ?? '');
      expect(event).toEqual({
        specversion: '1.0',
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        source: '/projects/ce',
        type: 'io.berth.artifact.pushed',
        subject: 'ce/app:v1',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        datacontenttype: 'application/json',
        data: { project: 'ce', repository: 'ce/app', digest: image.digest, tag: 'v1', operator: 'anonymous' },
      });
      expect(request?.headers['x-berth-event-id']).toBe(event.id);
      await until(async () => (await deliveries(berth, endpoint.id))[0]?.status === 'delivered', 'the log');
      const [logged] = await deliveries(berth, endpoint.id);
      expect(logged).toMatchObject({
        status: 'delivered',
        attempts: 1,
        responseCode: 200,
        error: null,
        eventId: event.id,
      });
      expect(logged?.latencyMs).toBeGreaterThanOrEqual(0);
    } finally {
      await berth.berth.webhooks.remove({ project: null }, endpoint.id);
      await receiver.close();
    }
  });

  it('sends the end of a replication execution and of a garbage collection run to system-wide endpoints', async () => {
    const receiver = new Receiver();
    const endpoint = await berth.berth.webhooks.create(
      { project: null },
      {
        name: 'jobs',
        url: await receiver.listen(),
        eventTypes: ['replication', 'gc'],
        format: 'cloudevents',
        secret: SECRET,
        enabled: true,
      },
      'admin',
    );
    try {
      // A push policy to a registry nobody answers at: the execution runs, and fails.
      await client.pushRandomImage('jobs/app', 'v1');
      await berth.berth.replication.createRegistry(
        { name: 'nowhere', url: `http://127.0.0.1:${await freePort()}` },
        'admin',
      );
      const policy = await berth.berth.replication.createPolicy(
        {
          name: 'to-nowhere',
          registry: 'nowhere',
          direction: 'push',
          repositories: 'jobs/**',
          trigger: 'manual',
        },
        'admin',
      );
      const execution = await berth.berth.replication.run(policy.id, 'admin');
      const [replicated] = await receiver.received(1);
      const event = JSON.parse(replicated?.body ?? '');
      expect(event).toMatchObject({
        source: '/registry',
        type: 'io.berth.replication.completed',
        subject: `replication/policies/${policy.id}`,
        data: { policyId: policy.id, executionId: execution.id, status: 'failed', trigger: 'manual' },
      });
      expect(
        verifySignature(replicated?.body ?? '', SECRET, replicated?.headers['x-berth-signature'] as string),
      ).toBe(true);

      const gc = await berth.berth.gc.start({ dryRun: true, requestedBy: 'admin' });
      const [, collected] = await receiver.received(2);
      expect(JSON.parse(collected?.body ?? '')).toMatchObject({
        type: 'io.berth.gc.completed',
        data: { runId: gc.id, status: 'succeeded', dryRun: true, operator: 'admin' },
      });
    } finally {
      await berth.berth.webhooks.remove({ project: null }, endpoint.id);
      await receiver.close();
    }
  });

  it("sends pushes and pulls in Harbor's webhook format", async () => {
    const receiver = new Receiver();
    const endpoint = await addEndpoint(berth, await receiver.listen(), {
      format: 'harbor',
      eventTypes: ['push', 'pull'],
    });
    try {
      const image = await client.pushRandomImage('hb/tools/app', 'v2');
      const pulled = await fetch(`${berth.url}/v2/hb/tools/app/manifests/v2`, {
        headers: { accept: image.mediaType },
      });
      expect(pulled.status).toBe(200);
      const requests = await receiver.received(2);
      const bodies = requests.map((r) => JSON.parse(r.body));
      const resource = { digest: image.digest, tag: 'v2', resource_url: `${berth.host}/hb/tools/app:v2` };
      const repository = { name: 'tools/app', namespace: 'hb', repo_full_name: 'hb/tools/app' };
      expect(bodies).toEqual([
        {
          type: 'PUSH_ARTIFACT',
          occur_at: expect.any(Number),
          operator: 'anonymous',
          event_data: { resources: [resource], repository },
        },
        {
          type: 'PULL_ARTIFACT',
          occur_at: expect.any(Number),
          operator: 'anonymous',
          event_data: { resources: [resource], repository },
        },
      ]);
      expect(requests[0]?.headers['content-type']).toBe('application/json');
    } finally {
      await berth.berth.webhooks.remove({ project: null }, endpoint.id);
      await receiver.close();
    }
  });

  it('retries a receiver that answers 500 twice, with backoff, and delivers on the third attempt', async () => {
    const receiver = new Receiver();
    receiver.statuses = [500, 500];
    const endpoint = await addEndpoint(berth, await receiver.listen());
    try {
      await client.pushRandomImage('retry/app', 'v1');
      const requests = await receiver.received(3);
      await until(async () => (await deliveries(berth, endpoint.id))[0]?.status === 'delivered', 'delivered');
      const [logged] = await deliveries(berth, endpoint.id);
      expect(logged).toMatchObject({ status: 'delivered', attempts: 3, responseCode: 200 });
      // The same event and bytes each time.
      expect(new Set(requests.map((r) => r.headers['x-berth-event-id'])).size).toBe(1);
      expect(new Set(requests.map((r) => r.body)).size).toBe(1);
      // Backoff: at least 0.2 s, then at least 0.4 s (lower bounds; a loaded machine only makes them longer).
      expect((requests[1]?.at ?? 0) - (requests[0]?.at ?? 0)).toBeGreaterThanOrEqual(200);
      expect((requests[2]?.at ?? 0) - (requests[1]?.at ?? 0)).toBeGreaterThanOrEqual(400);
      const view = await berth.berth.webhooks.get({ project: null }, endpoint.id);
      expect(view).toMatchObject({ status: 'enabled', consecutiveFailures: 0 });
    } finally {
      await berth.berth.webhooks.remove({ project: null }, endpoint.id);
      await receiver.close();
    }
  });

  it('disables an endpoint that keeps failing, saying why, and delivers what waited once enabled again', async () => {
    const port = await freePort();
    const endpoint = await addEndpoint(berth, `http://127.0.0.1:${port}/hook`);
    try {
      await client.pushRandomImage('down/app', 'v1');
      await until(
        async () => (await berth.berth.webhooks.get({ project: null }, endpoint.id)).status === 'failing',
        'the endpoint to be disabled',
      );
      const view = await berth.berth.webhooks.get({ project: null }, endpoint.id);
      expect(view).toMatchObject({ enabled: false, status: 'failing', consecutiveFailures: 3 });
      expect(view.disabledReason).toMatch(/after 3 consecutive failed deliveries \(last: ECONNREFUSED/);
      const [waiting] = await deliveries(berth, endpoint.id);
      expect(waiting).toMatchObject({ status: 'pending', attempts: 3, responseCode: null });
      expect(waiting?.error).toMatch(/^ECONNREFUSED/);

      // The receiver comes up; enabled again, the waiting delivery goes out.
      const receiver = new Receiver();
      await receiver.listen(port);
      try {
        await berth.berth.webhooks.update({ project: null }, endpoint.id, { enabled: true });
        const [request] = await receiver.received(1);
        expect(JSON.parse(request?.body ?? '').subject).toBe('down/app:v1');
        await until(
          async () => (await deliveries(berth, endpoint.id))[0]?.status === 'delivered',
          'delivered',
        );
        expect((await deliveries(berth, endpoint.id))[0]?.attempts).toBe(4);
      } finally {
        await receiver.close();
      }
    } finally {
      await berth.berth.webhooks.remove({ project: null }, endpoint.id);
    }
  });

  it('redelivers on request: the same body and event id, as a new delivery', async () => {
    const receiver = new Receiver();
    const endpoint = await addEndpoint(berth, await receiver.listen());
    try {
      await client.pushRandomImage('again/app', 'v1');
      const [first] = await receiver.received(1);
      await until(async () => (await deliveries(berth, endpoint.id))[0]?.status === 'delivered', 'delivered');
      const [original] = await deliveries(berth, endpoint.id);
      const again = await berth.berth.webhooks.redeliver({ project: null }, endpoint.id, original?.id ?? 0);
      expect(again.id).not.toBe(original?.id);
      const requests = await receiver.received(2);
      expect(requests[1]?.body).toBe(first?.body);
      expect(requests[1]?.headers['x-berth-event-id']).toBe(first?.headers['x-berth-event-id']);
    } finally {
      await berth.berth.webhooks.remove({ project: null }, endpoint.id);
      await receiver.close();
    }
  });
});

describe('webhooks across a restart', () => {
  it('delivers a delivery still pending when the server stopped, once it is back', async () => {
    const port = await freePort();
    // Never disabled here: the receiver is simply down while the first server runs.
    const config = { ...FAST, 'webhooks.maxFailures': 1000, 'webhooks.maxAttempts': 1000 };
    const first = await startBerth({ config });
    const dataDir = first.dataDir;
    const endpoint = await addEndpoint(first, `http://127.0.0.1:${port}/hook`);
    await new OciClient(first.url).pushRandomImage('restart/app', 'v1');
    await until(
      async () => ((await deliveries(first, endpoint.id))[0]?.attempts ?? 0) >= 1,
      'a failed attempt',
    );
    await first.berth.close();

    const receiver = new Receiver();
    await receiver.listen(port);
    const second = await startBerth({ dataDir, config });
    try {
      const [request] = await receiver.received(1);
      expect(JSON.parse(request?.body ?? '').subject).toBe('restart/app:v1');
      await until(
        async () => (await deliveries(second, endpoint.id))[0]?.status === 'delivered',
        'delivered',
      );
      const log = await deliveries(second, endpoint.id);
      expect(log).toHaveLength(1);
      expect(log[0]?.attempts).toBeGreaterThanOrEqual(2);
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await second.close();
      await receiver.close();
      const { rm } = await import('node:fs/promises');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!postgresAvailable)('webhooks with two servers on one PostgreSQL', () => {
  it('delivers each event exactly once', async () => {
    const database = await createTestDatabase();
    const config = { ...FAST, 'metadata.url': database };
    const a = await startBerth({ config });
    const b = await startBerth({ config });
    const receiver = new Receiver();
    try {
      const endpoint = await addEndpoint(a, await receiver.listen());
      const pushes = 40;
      await Promise.all(
        Array.from({ length: pushes }, (_, i) =>
          new OciClient((i % 2 === 0 ? a : b).url).pushRandomImage(`pair/app${i}`, 'v1', { layers: 1 }),
        ),
      );
      await until(
        async () =>
          (await deliveries(a, endpoint.id)).filter((d) => d.status === 'delivered').length === pushes,
        `${pushes} deliveries`,
      );
      // Both deliverers keep polling for a while longer: nothing is sent twice.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const ids = receiver.requests.map((r) => r.headers['x-berth-event-id']);
      expect(ids).toHaveLength(pushes);
      expect(new Set(ids).size).toBe(pushes);
      expect(new Set(receiver.requests.map((r) => JSON.parse(r.body).subject))).toEqual(
        new Set(Array.from({ length: pushes }, (_, i) => `pair/app${i}:v1`)),
      );
    } finally {
      await a.close();
      await b.close();
      await receiver.close();
      await dropTestDatabase(database);
    }
  });
});
