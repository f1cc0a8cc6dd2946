// Where a streamed S3 read spends its time: one object of `MiB` read from the local Swift (scripts/swift-s3.sh)
// `rounds` times through each path, `concurrency` reads at once, each body only counted (no hashing), with the
// wall time and this process's CPU time (user + system) per GiB.
//   npx tsx bench/s3-read-probe.ts [MiB=256] [rounds=3] [concurrency=1]
// Paths: `store` is S3BlobStore.read (what a blob GET streams); `sdk` the SDK's GetObject body as it comes;
// `http` a plain node:http GET of a presigned URL (the floor for anything built on node:http).
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { S3BlobStore } from '../src/storage/s3.js';
import { createBucket, deleteBucket, ensureSwift, s3Client } from '../test/helpers/swift.js';

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 256) * MiB;
const rounds = Number(process.argv[3] ?? 3);
const concurrency = Number(process.argv[4] ?? 1);
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice(7);

const endpoint = await ensureSwift();
if (!endpoint) throw new Error('Swift is not available');
const client = s3Client(endpoint);
const bucket = await createBucket(client);
const store = new S3BlobStore({ ...endpoint, bucket });

async function count(stream: AsyncIterable<unknown>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Uint8Array).length;
  return bytes;
}

function httpGet(url: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    request(url, (response) => resolve(response))
      .on('error', reject)
      .end();
  });
}

/** A GET on a bare socket reading into one reused 1 MiB buffer: the floor of any reader in this process. */
function rawGet(url: string): Promise<number> {
  const target = new URL(url);
  const buffer = Buffer.allocUnsafe(MiB);
  return new Promise((resolve, reject) => {
    let head = '';
    let body = -1;
    let length = 0;
    const socket = connect({
      host: target.hostname,
      port: Number(target.port),
      onread: {
        buffer,
        callback: (n: number, chunk: Uint8Array) => {
          if (body < 0) {
            head += Buffer.from(chunk.subarray(0, n)).toString('latin1');
            const end = head.indexOf('\r\n\r\n');
            if (end < 0) return true;
            length = Number(/content-length: *(\d+)/i.exec(head)?.[1]);
            body = head.length - end - 4;
          } else body += n;
          if (body >= length) {
            socket.destroy();
            resolve(body);
          }
          return true;
        },
      },
    });
    socket.on('error', reject);
    socket.write(
      `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nConnection: close\r\n\r\n`,
    );
  });
}

/** A GET on a bare socket with 'data' events (a fresh buffer per read, as Node allocates them). */
function dataGet(url: string, slab = 0): Promise<number> {
  const target = new URL(url);
  let current = Buffer.allocUnsafeSlow(Math.max(slab, 1));
  let at = 0;
  return new Promise((resolve, reject) => {
    let head = '';
    let body = -1;
    let length = 0;
    const take = (chunk: Uint8Array) => {
      if (body < 0) {
        head += Buffer.from(chunk).toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        length = Number(/content-length: *(\d+)/i.exec(head)?.[1]);
        body = head.length - end - 4;
      } else body += chunk.length;
      if (body >= length) {
        socket.destroy();
        resolve(body);
      }
    };
    const socket = connect(
      slab === 0
        ? { host: target.hostname, port: Number(target.port) }
        : {
            host: target.hostname,
            port: Number(target.port),
            onread: {
              buffer: () => {
                if (current.length - at < 64 * 1024) {
                  current = Buffer.allocUnsafeSlow(slab);
                  at = 0;
                }
                return current.subarray(at);
              },
              callback: (n: number, buf: Uint8Array) => {
                at += n;
                take(buf.subarray(0, n));
                return true;
              },
            },
          },
    );
    if (slab === 0) socket.on('data', take);
    socket.on('error', reject);
    socket.write(
      `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nConnection: close\r\n\r\n`,
    );
  });
}

const paths: Record<string, () => Promise<AsyncIterable<unknown>>> = {
  store: () => store.read('blobs/probe'),
  sdk: async () => {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'blobs/probe' }));
    return out.Body as Readable;
  },
  http: async () =>
    httpGet(
      await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: 'blobs/probe' }), {
        expiresIn: 600,
      }),
    ),
  raw: async () => {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: 'blobs/probe' }), {
      expiresIn: 600,
    });
    return (async function* () {
      yield { length: await rawGet(url) } as Uint8Array;
    })();
  },
  data: async () => {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: 'blobs/probe' }), {
      expiresIn: 600,
    });
    const bytes = await dataGet(url);
    return (async function* () {
      yield { length: bytes } as Uint8Array;
    })();
  },
  slabs: async () => {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: 'blobs/probe' }), {
      expiresIn: 600,
    });
    const bytes = await dataGet(url, Number(process.env.SLAB ?? 256) * 1024);
    return (async function* () {
      yield { length: bytes } as Uint8Array;
    })();
  },
};

try {
  await store.write('uploads/probe', [randomBytes(size)], 0);
  await store.commit('uploads/probe', 'blobs/probe');
  for (let round = 1; round <= rounds; round++) {
    for (const [name, open] of Object.entries(paths)) {
      if (only && !only.split(',').includes(name)) continue;
      const cpu = process.cpuUsage();
      const start = performance.now();
      const counts = await Promise.all(Array.from({ length: concurrency }, async () => count(await open())));
      const seconds = (performance.now() - start) / 1000;
      const used = process.cpuUsage(cpu);
      if (counts.some((bytes) => bytes !== size))
        throw new Error(`${name} read ${counts} bytes, not ${size}`);
      const gib = (concurrency * size) / 1024 / MiB;
      console.log(
        `round ${round} ${name.padEnd(6)} ${((concurrency * size) / 1e6 / seconds).toFixed(0).padStart(5)} MB/s, ` +
          `CPU ${((used.user + used.system) / 1e6 / gib).toFixed(2)} s/GiB ` +
          `(user ${(used.user / 1e6 / gib).toFixed(2)}, system ${(used.system / 1e6 / gib).toFixed(2)})`,
      );
    }
  }
} finally {
  await store.delete('blobs/probe').catch(() => undefined);
  store.destroy();
  await deleteBucket(client, bucket);
  client.destroy();
}
