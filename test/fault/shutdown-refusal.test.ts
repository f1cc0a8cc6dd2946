// Issue 16: a request that reaches a server already shutting down gets 503 UNAVAILABLE in the registry's error
// format with Retry-After, on /v2 and /api/v1 alike (Fastify's return503OnClosing answered with a body of its own,
// {"statusCode":503,…}). Deterministic: the request is pipelined on a connection whose blob download began before
// close() (so the drain keeps that connection open), and is sent only once the listener is closed, which Fastify
// does after it marks itself closing.
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from '../helpers/server.js';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The responses of an HTTP/1.1 byte stream whose bodies are framed by Content-Length. */
function parseResponses(bytes: Buffer): RawResponse[] {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const [statusLine = '', ...lines] = bytes.toString('latin1', at, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    responses.push({
      status: Number(statusLine.split(' ')[1]),
      headers,
      body: bytes.subarray(end + 4, end + 4 + length),
    });
    at = end + 4 + length;
  }
  return responses;
}

/** A connection that asked for a blob and stopped reading once the answer's head arrived. */
async function downloadInFlight(port: number, path: string) {
  const socket: Socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('error', () => {});
  const closed = new Promise<Buffer>((resolve) => socket.on('close', () => resolve(Buffer.concat(chunks))));
  let head = true;
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (head && Buffer.concat(chunks).includes('\r\n\r\n')) {
        head = false;
        socket.pause();
        resolve();
      }
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
  return {
    /** Sends `request` on the connection, reads on, and gives every response once the server closed it. */
    async send(request: string): Promise<RawResponse[]> {
      socket.write(request);
      socket.resume();
      return parseResponses(await closed);
    },
  };
}

/** Resolves once nothing listens on `port` any more. */
async function listenerClosed(port: number): Promise<void> {
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const probe = connect(port, '127.0.0.1');
      probe.on('connect', () => {
        probe.destroy();
        resolve(false);
      });
      probe.on('error', () => resolve(true));
    });
    if (refused) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('requests racing a graceful shutdown', () => {
  let berth: TestBerth;
  // Larger than what the loopback socket buffers hold, so the download is still being sent at close().
  const blob = randomBytes(48 << 20);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  beforeAll(async () => {
    berth = await startBerth();
    const res = await fetch(`${berth.url}/v2/team/app/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: blob,
    });
    expect(res.status).toBe(201);
  });
  afterAll(() => berth?.close());

  it('get 503 UNAVAILABLE in the error format with Retry-After, on /v2 and /api/v1; the downloads finish', async () => {
    const v2 = await downloadInFlight(berth.port, `/v2/team/app/blobs/${digest}`);
    const api = await downloadInFlight(berth.port, `/v2/team/app/blobs/${digest}`);
    const closing = berth.berth.close();
    await listenerClosed(berth.port);
    const [v2Answers, apiAnswers] = await Promise.all([
      v2.send('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n'),
      api.send('GET /api/v1/projects HTTP/1.1\r\nHost: x\r\n\r\n'),
    ]);
    await closing;
    for (const answers of [v2Answers, apiAnswers]) {
      expect(answers.map((a) => a.status)).toEqual([200, 503]);
      const [download, refusal] = answers as [RawResponse, RawResponse];
      expect(createHash('sha256').update(download.body).digest('hex')).toBe(digest.slice(7));
      const text = refusal.body.toString('utf8');
      expect(refusal.headers['content-type'], text).toMatch(/^application\/json/);
      expect(JSON.parse(text)).toEqual({
        errors: [{ code: 'UNAVAILABLE', message: expect.stringMatching(/shutting down/) }],
      });
      expect(Number(refusal.headers['retry-after'])).toBeGreaterThan(0);
      expect(refusal.headers.connection).toBe('close');
    }
  });
});
