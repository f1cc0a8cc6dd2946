// Issue 16, limits against abuse, each against a real Berth over real sockets: slowloris on headers and on
// bodies (node:net, a byte at a time), the per-address connection cap, the per-account cap on concurrent
// uploads, request rates on /api/v1 and /token, hardening headers, and the OCI error format for requests that
// never became requests (found by the fuzzer). No timing assertion: each waits as long as the machine needs for
// what must happen, and checks that a normal client is served meanwhile.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from '../helpers/server.js';

const PASSWORD = 'correct horse battery staple';
const basic = (username: string, password = PASSWORD) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

/** A raw connection and everything it received until the server closed it. */
function rawConnection(port: number): { socket: Socket; received: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  const received = once(socket, 'close').then(() => Buffer.concat(chunks).toString('utf8'));
  return { socket, received };
}

/** Writes `text` a byte at a time, `everyMs` apart, until the socket is closed (or the text runs out). */
async function trickle(socket: Socket, text: string, everyMs: number): Promise<number> {
  let sent = 0;
  for (const char of text) {
    if (socket.destroyed) break;
    socket.write(char);
    sent += 1;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return sent;
}

async function expectServed(berth: TestBerth): Promise<void> {
  const res = await fetch(`${berth.url}/v2/`);
  await res.arrayBuffer();
  expect(res.status).toBe(200);
}

async function ociError(res: Response, status: number, code: string) {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(JSON.parse(text).errors[0].code, text).toBe(code);
}

describe('slow clients', () => {
  let berth: TestBerth;
  beforeAll(async () => {
    berth = await startBerth({ config: { 'http.headersTimeoutSeconds': 2, 'http.idleTimeoutSeconds': 3 } });
  });
  afterAll(() => berth?.close());

  it('drops a client that sends its headers a byte at a time (slowloris), serving others meanwhile', async () => {
    const { socket, received } = rawConnection(berth.port);
    const head = `GET /v2/ HTTP/1.1\r\nHost: x\r\n${'X-Slow: a\r\n'.repeat(200)}\r\n`;
    // 500 ms a byte: the whole head would take minutes; the server must not wait for it.
    const sending = trickle(socket, head, 500);
    await expectServed(berth);
    const answer = await received;
    const sent = await sending;
    expect(sent).toBeLessThan(head.length);
    // Answered 408 in the OCI format and closed (or, under heavy load, closed outright).
    if (answer !== '') {
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toMatch(/connection: close/i);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).errors[0].code).toBe('UNSUPPORTED');
    }
  });

  it('drops a client whose body stalls (slow body), serving others meanwhile', async () => {
    const { socket, received } = rawConnection(berth.port);
    socket.write(
      'POST /v2/slow/blobs/uploads/?digest=sha256:' +
        `${'0'.repeat(64)} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nsome bytes, then nothing`,
    );
    await expectServed(berth);
    await received; // the idle timeout closes it: without one, this never resolves and the test times out
    expect(socket.destroyed).toBe(true);
    await expectServed(berth);
  });

  it('keeps a slow body that keeps moving (a long upload is not cut by a total request time)', async () => {
    const body = Buffer.alloc(12, 0x61);
    const digest = `sha256:${(await import('node:crypto')).createHash('sha256').update(body).digest('hex')}`;
    const { socket, received } = rawConnection(berth.port);
    socket.write(
      `POST /v2/steady/blobs/uploads/?digest=${digest} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    // One byte a second: longer in total than the 2 s header and 3 s idle timeouts, never idle for long.
    await trickle(socket, body.toString('latin1'), 1000);
    expect(await received).toMatch(/^HTTP\/1\.1 201 /);
  });

  it('refuses a 5 MiB manifest before reading it all, with or without Content-Length', async () => {
    const type = 'application/vnd.oci.image.manifest.v1+json';
    // Declared: refused from the header alone (the body is never sent here).
    const declared = rawConnection(berth.port);
    declared.socket.write(
      `PUT /v2/big/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${5 * 1024 * 1024}\r\nConnection: close\r\n\r\n`,
    );
    expect(await declared.received).toMatch(/^HTTP\/1\.1 413 [\s\S]*"SIZE_INVALID"/);
    // Chunked: refused once 4 MiB + 1 byte arrived, while the client still holds the rest back.
    const chunked = rawConnection(berth.port);
    chunked.socket.write(
      `PUT /v2/big/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
    );
    const part = 4 * 1024 * 1024 + 1;
    chunked.socket.write(`${part.toString(16)}\r\n`);
    chunked.socket.write(Buffer.alloc(part, 0x20));
    chunked.socket.write('\r\n');
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      chunked.socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (text.includes('\r\n\r\n')) resolve(text);
      });
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    chunked.socket.destroy();
  });

  it('answers an unparseable request head in the OCI format and closes the connection', async () => {
    const { socket, received } = rawConnection(berth.port);
    socket.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\nNOT-HTTP garbage\r\n\r\n');
    const answer = await received;
    // The garbage after the first request gets the 400 (the first one's 200 may or may not have gone out first).
    const second = answer.slice(answer.indexOf('HTTP/1.1 400 '));
    expect(second).toMatch(/^HTTP\/1\.1 400 /);
    expect(second).toMatch(/connection: close/i);
    expect(JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4)).errors[0].code).toBe('UNSUPPORTED');
  });

  it('answers an over-long path parameter and a bad URL in the OCI format (Fastify has its own otherwise)', async () => {
    await ociError(await fetch(`${berth.url}/api/v1/users/${'x'.repeat(300)}`), 414, 'UNSUPPORTED');
    await ociError(await fetch(`${berth.url}/api/v1/users/%E0%A4%A`), 400, 'UNSUPPORTED');
  });
});

describe('connection, upload and request-rate caps', () => {
  let berth: TestBerth;
  let robotSecret: string;
  beforeAll(async () => {
    berth = await startBerth({
      config: {
        'auth.enabled': true,
        'limits.connectionsPerAddress': 4,
        'limits.uploadsPerUser': 1,
        'limits.apiRequestsPerUser': 5,
        'limits.tokenRequestsPerUser': 3,
      },
    });
    await berth.berth.accounts.createProject({ name: 'pub', public: true });
    await berth.berth.accounts.createUser({ username: 'root', password: PASSWORD, systemAdmin: true });
    robotSecret = (
      await berth.berth.accounts.createRobot({
        name: 'ci',
        permissions: [{ project: 'pub', actions: ['pull', 'push'] }],
        createdBy: 'root',
      })
    ).secret;
  });
  afterAll(() => berth?.close());

  it('refuses requests on connections past the per-address cap with 429 and Retry-After, then serves again', async () => {
    const held = Array.from({ length: 4 }, () => rawConnection(berth.port));
    await Promise.all(held.map(({ socket }) => once(socket, 'connect')));
    // Wait until the server has counted all four (accepting is asynchronous).
    const limit = () => fetch(`${berth.url}/healthz`, { headers: { connection: 'close' } });
    let res = await limit();
    for (let i = 0; res.status !== 429 && i < 50; i++) res = await limit();
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(res.headers.get('connection')).toBe('close');
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('TOOMANYREQUESTS');
    for (const { socket } of held) socket.destroy();
    await Promise.all(held.map(({ received }) => received));
    let again = await limit();
    for (let i = 0; again.status !== 200 && i < 50; i++) again = await limit();
    expect(again.status).toBe(200);
  });

  it('lets an account write one blob at a time when uploadsPerUser is 1 (429 for the second)', async () => {
    const start = await fetch(`${berth.url}/v2/pub/app/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: basic('robot$ci', robotSecret) },
    });
    expect(start.status).toBe(202);
    const location = new URL(start.headers.get('location') as string, berth.url).pathname;
    // A chunk that never ends holds the slot.
    const { socket, received } = rawConnection(berth.port);
    socket.write(
      `PATCH ${location} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('robot$ci', robotSecret)}\r\n` +
        'Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\nfirst bytes',
    );
    const second = () =>
      fetch(`${berth.url}/v2/pub/app/blobs/uploads/?digest=sha256:${'1'.repeat(64)}`, {
        method: 'POST',
        headers: {
          authorization: basic('robot$ci', robotSecret),
          'content-type': 'application/octet-stream',
        },
        body: 'x',
      });
    let res = await second();
    for (let i = 0; res.status !== 429 && i < 50; i++) res = await second();
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    await ociError(res, 429, 'TOOMANYREQUESTS');
    // Another account is not held up by it.
    const other = await fetch(`${berth.url}/v2/pub/app/blobs/uploads/?digest=sha256:${'1'.repeat(64)}`, {
      method: 'POST',
      headers: { authorization: basic('root'), 'content-type': 'application/octet-stream' },
      body: 'x',
    });
    await ociError(other, 400, 'DIGEST_INVALID');
    socket.destroy();
    await received;
    // The slot is free again once the stalled request is gone.
    let after = await second();
    for (let i = 0; after.status === 429 && i < 50; i++) after = await second();
    await ociError(after, 400, 'DIGEST_INVALID');
  });

  it('limits /api/v1 requests per account (429 + Retry-After), not other accounts', async () => {
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`${berth.url}/api/v1/users/current`, {
        headers: { authorization: basic('root') },
      });
      statuses.push(res.status);
      if (res.status === 429) refused = res;
      else await res.arrayBuffer();
    }
    expect(statuses.filter((s) => s === 429).length).toBe(3);
    expect(Number((refused as Response).headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await ociError(refused as Response, 429, 'TOOMANYREQUESTS');
    const robot = await fetch(`${berth.url}/api/v1/users/current`, {
      headers: { authorization: basic('robot$ci', robotSecret) },
    });
    expect(robot.status).not.toBe(429);
  });

  it('limits tokens per account on /token', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${berth.url}/token?service=berth&scope=repository:pub/app:pull`, {
        headers: { authorization: basic('robot$ci', robotSecret) },
      });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });
});

describe('hardening headers', () => {
  let berth: TestBerth;
  beforeAll(async () => {
    berth = await startBerth({ config: { 'auth.enabled': true } });
  });
  afterAll(() => berth?.close());

  it.each(['/v2/', '/api/v1/openapi.json', '/token?service=berth', '/healthz', '/nowhere'])(
    '%s',
    async (path) => {
      const res = await fetch(`${berth.url}${path}`);
      await res.arrayBuffer();
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      // Without TLS, no HSTS (it would be ignored, and wrong behind a plain-HTTP hop).
      expect(res.headers.get('strict-transport-security')).toBeNull();
      const credentials = path.startsWith('/api/') || path.startsWith('/token');
      expect(res.headers.get('cache-control')).toBe(credentials ? 'no-store' : null);
    },
  );
});
