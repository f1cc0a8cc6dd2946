// Webhook SSRF protection: a project administrator must not make Berth POST to loopback, the cloud metadata
// address, RFC 1918 / ULA networks and the like. Checked at creation (400, naming why) and again at delivery on
// the address the connection actually uses (a name that resolves to loopback only when delivering is refused,
// logged in the delivery log, and the receiver gets nothing); webhooks.allowedHosts lets chosen hosts through.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DestinationPolicy, type WebhookDeliveryRecord } from '../../src/events/webhooks/index.js';
import { OciClient } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const FAST = { 'webhooks.retrySeconds': 0.2, 'webhooks.pollSeconds': 0.1 };
// /api/v1 needs the administrator even with registry auth off; the servers below create it with this password.
const ADMIN_PASSWORD = 'webhook destinations admin';
process.env.BERTH_ADMIN_PASSWORD = ADMIN_PASSWORD;
const HEADERS = {
  'content-type': 'application/json',
  authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`,
};

function policy(rules: Partial<ConstructorParameters<typeof DestinationPolicy>[0]> = {}) {
  return new DestinationPolicy({ denyPrivateAddresses: true, allowedHosts: [], deniedHosts: [], ...rules });
}

describe('DestinationPolicy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['10.1.2.3', 'private (RFC 1918)'],
    ['172.20.0.1', 'private (RFC 1918)'],
    ['192.168.1.1', 'private (RFC 1918)'],
    ['::ffff:192.168.1.1', 'private (RFC 1918)'],
    ['fd12:3456::1', 'unique local (ULA)'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['100.64.0.1', 'shared'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved or broadcast'],
  ])('refuses %s (%s)', (address, kind) => {
    expect(policy().refusal(address, address)).toContain(`a ${kind}`);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111'])(
    'allows public %s',
    (address) => {
      expect(policy().refusal(address, address)).toBeUndefined();
    },
  );

  it('lets allowedHosts through by name, wildcard, address and range; deniedHosts wins', () => {
    const rules = policy({
      allowedHosts: ['hooks.internal', '*.corp.example', '10.9.0.0/16', '::1'],
      deniedHosts: ['bad.corp.example', '8.8.4.0/24'],
    });
    expect(rules.refusal('hooks.internal', '10.0.0.5')).toBeUndefined();
    expect(rules.refusal('ci.corp.example', '192.168.0.7')).toBeUndefined();
    expect(rules.refusal('x.example', '10.9.1.1')).toBeUndefined();
    expect(rules.refusal('::1', '::1')).toBeUndefined();
    expect(rules.refusal('x.example', '10.8.1.1')).toMatch(/private/);
    expect(rules.refusal('bad.corp.example', '203.0.113.9')).toMatch(/denied by webhooks.deniedHosts/);
    expect(rules.refusal('dns.example', '8.8.4.4')).toMatch(/denied by webhooks.deniedHosts/);
    expect(policy({ denyPrivateAddresses: false }).refusal('127.0.0.1', '127.0.0.1')).toBeUndefined();
    expect(() => policy({ allowedHosts: ['10.0.0.0/40'] })).toThrow(/prefix length/);
  });

  it('checks a URL by the addresses its name resolves to', async () => {
    await expect(policy().check('http://localhost:8080/hook')).rejects.toThrow(
      /localhost \(.+\) is a loopback/,
    );
    await expect(policy().check('http://[::1]/hook')).rejects.toThrow(/::1 is a loopback/);
    await expect(
      policy({ allowedHosts: ['localhost'] }).check('http://localhost/hook'),
    ).resolves.toBeUndefined();
  });
});

/** A receiver that counts what it is sent. */
async function receiver(): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      requests.push(request.url ?? '');
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, requests };
}

async function settled(berth: TestBerth, endpoint: number): Promise<WebhookDeliveryRecord> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [delivery] = await berth.berth.webhooks.deliveries({ project: null }, endpoint, { limit: 10 });
    if (delivery && delivery.status !== 'pending' && delivery.status !== 'sending') return delivery;
    if (Date.now() > deadline) throw new Error(`delivery still ${delivery?.status ?? 'absent'}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('webhook destinations on a real Berth (default: private addresses denied)', () => {
  let berth: TestBerth;
  let hook: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    berth = await startBerth({ config: FAST });
    hook = await receiver();
  });
  afterAll(async () => {
    await berth?.close();
    await new Promise((resolve) => hook?.server.close(resolve));
  });

  it.each([
    ['loopback', () => `http://127.0.0.1:${hook.port}/hook`, /127\.0\.0\.1 is a loopback address/],
    ['loopback by name', () => `http://localhost:${hook.port}/hook`, /localhost \(.+\) is a loopback/],
    ['IPv6 loopback', () => 'http://[::1]:9/hook', /::1 is a loopback address/],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data/', /link-local/],
    ['RFC 1918', () => 'https://10.20.30.40/hook', /private \(RFC 1918\)/],
    ['ULA', () => 'http://[fd00::5]/hook', /unique local/],
    ['unspecified', () => 'http://0.0.0.0:9/hook', /unspecified/],
  ])('refuses a %s endpoint with a 400 naming why', async (_kind, url, reason) => {
    const res = await fetch(`${berth.url}/api/v1/projects/library/webhooks`, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({ name: 'internal', url: url(), eventTypes: ['push'] }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { code: string; message: string }[] };
    expect(body.errors[0]?.code).toBe('INVALID_REQUEST');
    expect(body.errors[0]?.message).toMatch(/^webhook destination refused: /);
    expect(body.errors[0]?.message).toMatch(reason);
  });

  it('refuses a delivery whose host resolves to loopback when connecting: logged, nothing sent, not retried', async () => {
    // As after DNS rebinding (or a configuration change): the endpoint exists, its name now means loopback.
    const record = await berth.berth.webhooks.store.createEndpoint(
      null,
      {
        name: 'rebound',
        url: `http://localhost:${hook.port}/rebound`,
        eventTypes: ['push'],
        format: 'cloudevents',
        secret: null,
        enabled: true,
      },
      'admin',
    );
    await new OciClient(berth.url).pushRandomImage('ssrf/app', 'v1', { layers: 1 });
    const delivery = await settled(berth, record.id);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1, responseCode: null });
    expect(delivery.error).toMatch(/^webhook destination refused: localhost \(.+\) is a loopback address/);
    expect(hook.requests).not.toContain('/rebound');
  });
});

describe('webhook destinations allowed by webhooks.allowedHosts', () => {
  it('creates the endpoint and delivers to it', async () => {
    const hook = await receiver();
    const berth = await startBerth({ config: { ...FAST, 'webhooks.allowedHosts': 'localhost, 10.0.0.0/8' } });
    try {
      const res = await fetch(`${berth.url}/api/v1/webhooks`, {
        method: 'POST',
        headers: HEADERS,
        body: JSON.stringify({
          name: 'ok',
          url: `http://localhost:${hook.port}/allowed`,
          eventTypes: ['push'],
        }),
      });
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: number };
      // Still refused: an address neither allowed nor public.
      const refused = await fetch(`${berth.url}/api/v1/webhooks`, {
        method: 'POST',
        headers: HEADERS,
        body: JSON.stringify({ name: 'no', url: 'http://192.168.0.1/hook', eventTypes: ['push'] }),
      });
      expect(refused.status).toBe(400);
      await new OciClient(berth.url).pushRandomImage('allowed/app', 'v1', { layers: 1 });
      const delivery = await settled(berth, id);
      expect(delivery).toMatchObject({ status: 'delivered', responseCode: 200, error: null });
      expect(hook.requests).toEqual(['/allowed']);
    } finally {
      await berth.close();
      await new Promise((resolve) => hook.server.close(resolve));
    }
  });
});
