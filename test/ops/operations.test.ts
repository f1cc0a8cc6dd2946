import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, startHttpsBerth, type TestBerth } from '../helpers/server.js';

function digest(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

describe('stale upload sessions', () => {
  let berth: TestBerth;
  beforeAll(async () => {
    berth = await startBerth({ config: { 'uploads.ttlSeconds': 60 } });
  });
  afterAll(() => berth.close());

  it('expire after the TTL: the session answers BLOB_UPLOAD_UNKNOWN and its temp file is gone', async () => {
    const start = await fetch(`${berth.url}/v2/ops/stale/blobs/uploads/`, { method: 'POST' });
    const location = start.headers.get('location') as string;
    await fetch(berth.url + location, { method: 'PATCH', body: 'abc', headers: { 'content-range': '0-2' } });
    const fresh = await fetch(`${berth.url}/v2/ops/stale/blobs/uploads/`, { method: 'POST' });
    // The session that received bytes has a temporary file; the empty one has none yet.
    expect(await readdir(join(berth.dataDir, 'uploads'))).toEqual([location.split('/').pop()]);

    // Nothing is stale yet.
    expect(await berth.berth.registry.uploads.purgeStale()).toBe(0);
    // Two minutes later, both are.
    expect(await berth.berth.registry.uploads.purgeStale(Date.now() + 120_000)).toBe(2);

    const status = await fetch(berth.url + location);
    expect(status.status).toBe(404);
    expect(((await status.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe(
      'BLOB_UPLOAD_UNKNOWN',
    );
    expect((await fetch(berth.url + (fresh.headers.get('location') as string))).status).toBe(404);
    expect(await readdir(join(berth.dataDir, 'uploads'))).toEqual([]);
  });
});

describe('deletes disabled', () => {
  let berth: TestBerth;
  beforeAll(async () => {
    berth = await startBerth({ config: { 'deletes.enabled': false } });
  });
  afterAll(() => berth.close());

  it('answers 405 UNSUPPORTED for blob and manifest deletes and keeps the content', async () => {
    const blob = Buffer.from('keep me');
    const d = digest(blob);
    expect(
      (await fetch(`${berth.url}/v2/ops/keep/blobs/uploads/?digest=${d}`, { method: 'POST', body: blob }))
        .status,
    ).toBe(201);
    for (const path of [
      `/v2/ops/keep/blobs/${d}`,
      `/v2/ops/keep/manifests/${d}`,
      '/v2/ops/keep/manifests/latest',
    ]) {
      const res = await fetch(berth.url + path, { method: 'DELETE' });
      expect(res.status).toBe(405);
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('UNSUPPORTED');
    }
    expect((await fetch(`${berth.url}/v2/ops/keep/blobs/${d}`, { method: 'HEAD' })).status).toBe(200);
  });
});

describe('observability', () => {
  let berth: TestBerth;
  beforeAll(async () => {
    berth = await startBerth();
  });
  afterAll(() => berth.close());

  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const given = await fetch(`${berth.url}/v2/`, { headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-123');
    const unsafe = await fetch(`${berth.url}/v2/`, { headers: { 'x-request-id': 'a b\tc' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('counts requests by route and status, bytes in and out', async () => {
    const blob = Buffer.alloc(10_000, 7);
    const d = digest(blob);
    await fetch(`${berth.url}/v2/ops/metrics/blobs/uploads/?digest=${d}`, { method: 'POST', body: blob });
    await (await fetch(`${berth.url}/v2/ops/metrics/blobs/${d}`)).arrayBuffer();
    await fetch(`${berth.url}/v2/ops/metrics/blobs/sha256:${'0'.repeat(64)}`);
    const text = await (await fetch(`${berth.url}/metrics`)).text();
    expect(text).toMatch(/berth_http_requests_total\{route="upload-start",method="POST",status="201"\} 1/);
    expect(text).toMatch(/berth_http_requests_total\{route="blob",method="GET",status="200"\} 1/);
    expect(text).toMatch(/berth_http_requests_total\{route="blob",method="GET",status="404"\} 1/);
    expect(text).toMatch(
      /berth_http_request_duration_seconds_bucket\{le="[0-9.]+",route="blob",method="GET"\}/,
    );
    expect(Number(/berth_http_request_bytes_total (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(10_000);
    expect(Number(/berth_http_response_bytes_total (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(10_000);
    expect(text).toMatch(/berth_uploads_in_flight 0/);
  });

  it('reports liveness and readiness', async () => {
    expect(await (await fetch(`${berth.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${berth.url}/readyz`)).json()).toEqual({ status: 'ready' });
  });
});

describe('TLS', () => {
  let dir: string;
  let berth: TestBerth;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-tls-'));
    berth = await startHttpsBerth(dir);
  });
  afterAll(async () => {
    await berth.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the API over HTTPS with the configured certificate', async () => {
    const { status, header, subject } = await new Promise<{
      status: number;
      header: unknown;
      subject: string;
    }>((resolve, reject) => {
      const req = request(`https://127.0.0.1:${berth.port}/v2/`, { rejectUnauthorized: false }, (res) => {
        const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
        res.resume();
        resolve({
          status: res.statusCode ?? 0,
          header: res.headers['docker-distribution-api-version'],
          subject: String(cert.subject?.CN),
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(header).toBe('registry/2.0');
    expect(subject).toBe('127.0.0.1');
  });

  it('does not answer plain HTTP on the TLS port', async () => {
    await expect(fetch(`http://127.0.0.1:${berth.port}/v2/`)).rejects.toThrow();
  });
});
