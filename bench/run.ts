/**
 * `npm run bench`: starts Berth as a separate process (built JS, as users run it) on a temp data directory and
 * measures the workloads a registry lives on. `--quick` shrinks every workload so CI can keep this working.
 * Blob data is generated on the fly from a small pattern; nothing large is held in memory.
 * The side-by-side comparison with CNCF Distribution is issue #6; this prints Berth's own figures.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

const quick = process.argv.includes('--quick');
const MiB = 1024 * 1024;
const agent = new Agent({ keepAlive: true, maxSockets: 128 });

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: number;
  digest?: string;
}

function call(
  base: string,
  method: string,
  path: string,
  body?: Readable | Buffer,
  headers = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, agent, headers }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (method === 'GET') hash.update(chunk);
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          bytes,
          digest: `sha256:${hash.digest('hex')}`,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

/** A deterministic stream of `size` bytes from a 1 MiB pattern, and its digest computed the same way. */
function patternStream(size: number, seed: Buffer): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return this.push(null);
      const n = Math.min(seed.length, size - sent);
      sent += n;
      this.push(seed.subarray(0, n));
    },
  });
}

function patternDigest(size: number, seed: Buffer): string {
  const hash = createHash('sha256');
  for (let sent = 0; sent < size; sent += seed.length)
    hash.update(seed.subarray(0, Math.min(seed.length, size - sent)));
  return `sha256:${hash.digest('hex')}`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function startServer(): Promise<{ url: string; child: ChildProcess; dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-bench-'));
  const child = spawn(
    process.execPath,
    [
      'dist/cli/main.js',
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BERTH_LOG_LEVEL: 'info' } },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        if (line.includes('"berth listening"')) {
          resolve(JSON.parse(line).port);
          // Stop parsing (and buffering) request logs; just drain them.
          child.stdout?.removeAllListeners('data');
          child.stdout?.resume();
          return;
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`berth exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child, dataDir };
}

async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function pushWhole(url: string, repo: string, size: number, seed: Buffer): Promise<string> {
  const digest =
    size <= seed.length
      ? `sha256:${createHash('sha256').update(seed.subarray(0, size)).digest('hex')}`
      : patternDigest(size, seed);
  const res = await call(
    url,
    'POST',
    `/v2/${repo}/blobs/uploads/?digest=${digest}`,
    patternStream(size, seed),
    {
      'content-length': size,
      'content-type': 'application/octet-stream',
    },
  );
  if (res.status !== 201) throw new Error(`push ${size} bytes: ${res.status}`);
  return digest;
}

async function pushChunked(
  url: string,
  repo: string,
  size: number,
  chunk: number,
  seed: Buffer,
): Promise<string> {
  const digest = patternDigest(size, seed);
  const start = await call(url, 'POST', `/v2/${repo}/blobs/uploads/`, Buffer.alloc(0));
  let location = start.headers.location as string;
  for (let offset = 0; offset < size; offset += chunk) {
    const n = Math.min(chunk, size - offset);
    // Chunks are multiples of the 1 MiB pattern, so each one starts the pattern afresh.
    const res = await call(url, 'PATCH', location, patternStream(n, seed), {
      'content-length': n,
      'content-range': `${offset}-${offset + n - 1}`,
    });
    if (res.status !== 202) throw new Error(`PATCH: ${res.status}`);
    location = res.headers.location as string;
  }
  const res = await call(url, 'PUT', `${location}?digest=${digest}`, Buffer.alloc(0));
  if (res.status !== 201) throw new Error(`PUT: ${res.status}`);
  return digest;
}

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await work();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, value };
}

async function concurrently(
  total: number,
  workers: number,
  task: (i: number) => Promise<void>,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        await task(i);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const { url, child, dataDir } = await startServer();
  const results: Record<string, unknown> = { date: new Date().toISOString(), quick };
  const rows: string[][] = [];
  try {
    const seed = randomBytes(MiB);
    // Small blobs: distinct 64 KiB blobs, 16 concurrent clients.
    const smallCount = quick ? 200 : 2000;
    const small = await timed(() =>
      concurrently(smallCount, 16, async (i) => {
        const blob = Buffer.concat([
          seed.subarray(0, 64 * 1024 - 8),
          Buffer.from(i.toString().padStart(8, '0')),
        ]);
        const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
        const res = await call(url, 'POST', `/v2/bench/small/blobs/uploads/?digest=${digest}`, blob);
        if (res.status !== 201) throw new Error(`small push ${res.status}`);
      }),
    );
    rows.push([
      'push 64 KiB blobs, 16 clients',
      `${(smallCount / small.seconds).toFixed(0)} blobs/s`,
      `p50 ${percentile(small.value, 50).toFixed(1)} ms, p99 ${percentile(small.value, 99).toFixed(1)} ms`,
    ]);

    const largeSize = (quick ? 32 : 256) * MiB;
    const mono = await timed(() => pushWhole(url, 'bench/large', largeSize, seed));
    rows.push([
      `push ${largeSize / MiB} MiB monolithic`,
      `${(largeSize / MiB / mono.seconds).toFixed(0)} MiB/s`,
      '',
    ]);
    const chunkSeed = randomBytes(MiB);
    const chunked = await timed(() => pushChunked(url, 'bench/large', largeSize, 16 * MiB, chunkSeed));
    rows.push([
      `push ${largeSize / MiB} MiB in 16 MiB PATCHes`,
      `${(largeSize / MiB / chunked.seconds).toFixed(0)} MiB/s`,
      '',
    ]);

    const pulls = await timed(() =>
      Promise.all(
        Array.from({ length: 4 }, async () => {
          const res = await call(url, 'GET', `/v2/bench/large/blobs/${mono.value}`);
          if (res.digest !== mono.value) throw new Error('pulled bytes do not match the digest');
        }),
      ),
    );
    rows.push([
      'pull large blob, 4 concurrent',
      `${((4 * largeSize) / MiB / pulls.seconds).toFixed(0)} MiB/s`,
      'digests verified',
    ]);

    // A manifest to GET by tag.
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    await call(url, 'POST', `/v2/bench/app/blobs/uploads/?digest=${configDigest}`, config);
    await call(
      url,
      'POST',
      `/v2/bench/app/blobs/uploads/?mount=${mono.value}&from=bench/large`,
      Buffer.alloc(0),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: configDigest,
          size: config.length,
        },
        layers: [
          { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: mono.value, size: largeSize },
        ],
      }),
    );
    const put = await call(url, 'PUT', '/v2/bench/app/manifests/latest', manifest, {
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
    });
    if (put.status !== 201) throw new Error(`manifest PUT ${put.status}`);
    const getCount = quick ? 2000 : 20000;
    const gets = await timed(() =>
      concurrently(getCount, 64, async () => {
        const res = await call(url, 'GET', '/v2/bench/app/manifests/latest', undefined, {
          accept: 'application/vnd.oci.image.manifest.v1+json',
        });
        if (res.status !== 200) throw new Error(`manifest GET ${res.status}`);
      }),
    );
    rows.push([
      'manifest GET by tag, 64 connections',
      `${(getCount / gets.seconds).toFixed(0)} req/s`,
      `p50 ${percentile(gets.value, 50).toFixed(1)} ms, p99 ${percentile(gets.value, 99).toFixed(1)} ms`,
    ]);
    rows.push(['server peak RSS', `${(await peakRssMiB(child.pid as number)).toFixed(0)} MiB`, '']);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await rm(dataDir, { recursive: true, force: true });
    agent.destroy();
  }
  const width = Math.max(...rows.map((r) => (r[0] as string).length));
  for (const [name, value, extra] of rows)
    console.log(`${(name as string).padEnd(width)}  ${(value as string).padStart(14)}  ${extra}`);
  results.rows = rows;
  await writeFile('bench/results.json', `${JSON.stringify(results, null, 2)}\n`);
}

await main();
