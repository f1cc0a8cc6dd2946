// Issue 16, the fuzz run's "414 with no answer within 30 s": a request refused before its body was read to the
// end (a manifest past the cap, a chunk longer than its Content-Range, a form too large) left Node reading
// nothing more from its keep-alive connection, so whatever the client sent next on it hung until the idle
// timeout. Each case sends the refused request and a next one on one real socket, in one write as a pipelining
// client would, and expects both answers (src/server/abandoned-body.ts).
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from '../helpers/server.js';

const NEXT = 'GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n';

function chunked(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
}

/**
 * Sends `parts` on one connection and resolves with the status lines received once there are `answers` of
 * them, or once the server closes the connection (then fewer). No deadline of its own: a hang is a test timeout.
 */
function exchange(port: number, parts: (string | Buffer)[], answers: number): Promise<string[]> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const statuses = () => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1] as string);
    const done = () => {
      socket.destroy();
      resolve(statuses());
    };
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (statuses().length >= answers) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    for (const part of parts) socket.write(part);
  });
}

describe('a request refused mid-body leaves its keep-alive connection usable', () => {
  let berth: TestBerth;
  let upload: string;
  beforeAll(async () => {
    // A long idle timeout: without the fix, the second answer would come never, not after a few seconds.
    berth = await startBerth({ config: { 'http.idleTimeoutSeconds': 600 } });
    const res = await fetch(`${berth.url}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    upload = res.headers.get('location') ?? '';
    expect(res.status).toBe(202);
  });
  afterAll(() => berth?.close());

  it('after a manifest past the 4 MiB cap (chunked: refused while streaming)', async () => {
    const head =
      'PUT /v2/team/app/manifests/t HTTP/1.1\r\nHost: x\r\n' +
      'Content-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const statuses = await exchange(berth.port, [head, chunked(Buffer.alloc(5 << 20, 'a')), NEXT], 2);
    expect(statuses).toEqual(['413', '200']);
  });

  it('after an upload chunk longer than its Content-Range', async () => {
    const head = `PATCH ${upload} HTTP/1.1\r\nHost: x\r\nContent-Range: 0-9\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const statuses = await exchange(berth.port, [head, chunked(Buffer.alloc(1 << 20, 'a')), NEXT], 2);
    expect(statuses).toEqual(['400', '200']);
  });

  it('after a token form over 64 KiB', async () => {
    const body = Buffer.alloc(1 << 20, 'a');
    const head =
      'POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
      `Content-Length: ${body.length}\r\n\r\n`;
    const statuses = await exchange(berth.port, [head, body, NEXT], 2);
    expect(statuses).toEqual(['413', '200']);
  });

  it("the fuzz run's sequence: a refused body, then an API path over the parameter cap (414), then more", async () => {
    const head =
      'PUT /v2/team/app/manifests/t HTTP/1.1\r\nHost: x\r\n' +
      'Content-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const long = `GET /api/v1/users/${'x'.repeat(300)}/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`;
    const statuses = await exchange(berth.port, [head, chunked(Buffer.alloc(5 << 20, 'a')), long, NEXT], 3);
    expect(statuses).toEqual(['413', '414', '200']);
  });
});
