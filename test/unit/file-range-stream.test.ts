// The filesystem store's read stream (FileRangeStream): piped into an HTTP response it reuses two read
// buffers, waiting for the socket to take each one before refilling it; read any other way it is an ordinary
// stream. Both must give exactly the file's bytes (or the range's), and the descriptor must be closed however
// the response ends, a client that goes away mid-response included.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemBlobStore } from '../../src/storage/index.js';

const SIZE = 5 * 1024 * 1024 + 12_345; // several 1 MiB chunks and a partial one
let dir: string;
let store: FilesystemBlobStore;
let data: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-range-stream-'));
  store = new FilesystemBlobStore(dir);
  data = randomBytes(SIZE);
  await store.write('blobs/sha256/ab/abcd', [data], 0);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part as Buffer));
  return Buffer.concat(parts);
}

/** A server that pipes a fresh store stream of `range` into each response; returns it and what it opened. */
async function serve(range?: { start: number; end: number }) {
  const opened: Readable[] = [];
  const server: Server = createServer(async (_request, response) => {
    const stream = await store.read('blobs/sha256/ab/abcd', range);
    opened.push(stream);
    response.writeHead(200, { 'content-length': range ? range.end - range.start + 1 : SIZE });
    stream.pipe(response);
    response.on('close', () => stream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { server, url, opened };
}

function fetchBytes(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get(url, (res) => collect(res).then(resolve, reject)).on('error', reject);
  });
}

async function closed(stream: Readable): Promise<void> {
  if (stream.closed) return;
  await new Promise((resolve) => stream.once('close', resolve));
}

describe('FileRangeStream', () => {
  it('read as an ordinary stream: the whole file, and a range', async () => {
    expect(sha(await collect(await store.read('blobs/sha256/ab/abcd')))).toBe(sha(data));
    const range = { start: 1_000_000, end: 3_100_000 };
    const bytes = await collect(await store.read('blobs/sha256/ab/abcd', range));
    expect(bytes.equals(data.subarray(range.start, range.end + 1))).toBe(true);
  });

  it('piped into something other than a response (a transform): the same bytes', async () => {
    const through = new PassThrough();
    const out = collect(through);
    await pipeline(await store.read('blobs/sha256/ab/abcd'), through);
    expect(sha(await out)).toBe(sha(data));
  });

  it('piped into HTTP responses, several at once: exactly the bytes, and every descriptor closed', async () => {
    const { server, url, opened } = await serve();
    try {
      const bodies = await Promise.all(Array.from({ length: 4 }, () => fetchBytes(url)));
      for (const body of bodies) expect(sha(body)).toBe(sha(data));
      for (const stream of opened) await closed(stream);
    } finally {
      server.close();
    }
  });

  it('piped into an HTTP response for a range', async () => {
    const range = { start: 7, end: 2 * 1024 * 1024 + 3 };
    const { server, url } = await serve(range);
    try {
      expect((await fetchBytes(url)).equals(data.subarray(range.start, range.end + 1))).toBe(true);
    } finally {
      server.close();
    }
  });

  it('a client that goes away mid-response: the stream is destroyed and closes its descriptor', async () => {
    const { server, url, opened } = await serve();
    try {
      await new Promise<void>((resolve, reject) => {
        const request = get(url, (res) => {
          res.once('data', () => {
            request.destroy();
            resolve();
          });
        });
        request.on('error', () => {});
        request.on('close', resolve);
        setTimeout(() => reject(new Error('no data')), 5000);
      });
      const stream = opened[0] as Readable;
      await closed(stream);
      expect(stream.destroyed).toBe(true);
    } finally {
      server.close();
    }
  });
});
