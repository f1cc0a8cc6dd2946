/**
 * Large pulls from Swift S3 (issue 17), `npm run bench -- --only=s3-pull`. Berth alongside Distribution 2.8,
 * each on its own fresh bucket of the local Swift, embedded SQLite for Berth.
 *
 * Throughput: a `MiB` blob (256; 32 with --quick) pulled by `concurrency` (4) digest-verified GETs at once,
 * in alternating rounds over every server so that the machine's load hits all alike, in both modes:
 * streamed (the registry serves the bytes) and redirect (a 307 to a presigned Swift URL the client follows;
 * Berth's storage.s3.redirect, Distribution's storage.redirect). Each server's CPU time per GiB pulled is read
 * from /proc, a figure that a busy machine moves less than MB/s.
 *
 * Memory: `many` (200; 50 with --quick) concurrent streamed GETs of a `manyMiB` (32; 8) blob, each
 * digest-verified, with the server's VmRSS sampled every 100 ms: the peak, and VmHWM at the end.
 *
 * `--baseline=<dir>`: a build of another commit (`npx tsc -p tsconfig.build.json --outDir <dir>`) measured
 * streamed beside the current one (before and after a change, under the same load).
 */
import { readFile } from 'node:fs/promises';
import { getHashed, MB, MiB, median } from './client.js';
import { pushBlob } from './pull.js';
import { memoryOf, type Server, startBerth, startDistribution } from './servers.js';
import { ensureSwift, freshBucket } from './swift.js';
import { type Large, largeBlob } from './workloads.js';

const REPOSITORY = 'bench/large';

export interface S3PullServer {
  name: string;
  mode: 'streamed' | 'redirect';
  /** MB/s of each round. */
  mbps: number[];
  /** The server's CPU seconds per GiB pulled, each round. */
  cpuPerGiB: number[];
  /** Rounds that failed (the shared Swift overloaded), with the first error. */
  failedRounds: number;
  firstFailure?: string;
}

export interface S3PullMemory {
  name: string;
  pulls: number;
  blobMiB: number;
  mbps: number;
  baselineRssMiB: number;
  peakRssMiB: number;
  hwmMiB: number;
  /** Pulls that failed, and the first failure. */
  failed: number;
  firstFailure?: string;
}

export interface S3PullBench {
  blobMiB: number;
  concurrency: number;
  rounds: number;
  servers: S3PullServer[];
  memory: S3PullMemory[];
}

/** utime + stime of a process, in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A GET of the blob, following one redirect (to the object store), digest-verified. */
async function pullOne(server: Server, blob: Large): Promise<void> {
  const path = `/v2/${REPOSITORY}/blobs/${blob.digest}`;
  let reply = await getHashed(server.url, path);
  const location = reply.headers.location;
  if ((reply.status === 307 || reply.status === 302) && location)
    reply = await getHashed(server.url, location);
  if (reply.status !== 200 || reply.bytes !== blob.size || reply.digest !== blob.digest) {
    throw new Error(
      `GET ${path} on ${server.name}: HTTP ${reply.status}, ${reply.bytes} bytes, ${reply.digest}`,
    );
  }
}

/** `count` concurrent pulls; MB/s. */
async function pullMany(server: Server, blob: Large, count: number): Promise<number> {
  const start = performance.now();
  await Promise.all(Array.from({ length: count }, () => pullOne(server, blob)));
  return (count * blob.size) / MB / ((performance.now() - start) / 1000);
}

/** `count` concurrent pulls, each allowed to fail (an overloaded store): MB/s of those that succeeded. */
async function pullManySettled(
  server: Server,
  blob: Large,
  count: number,
): Promise<{ mbps: number; failures: string[] }> {
  const start = performance.now();
  const settled = await Promise.allSettled(Array.from({ length: count }, () => pullOne(server, blob)));
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
  const mbps = ((count - failures.length) * blob.size) / MB / ((performance.now() - start) / 1000);
  return { mbps, failures };
}

interface Entry {
  server: Server;
  result: S3PullServer;
}

export async function benchS3Pull(options: {
  quick: boolean;
  log: (line: string) => void;
  track: (stop: { stop(): Promise<void> }) => void;
  distribution?: string;
  baseline?: string;
  /** Only the throughput rounds, or only the many-pulls memory phase (both by default). */
  phase?: 'throughput' | 'memory';
}): Promise<S3PullBench> {
  const problem = ensureSwift();
  if (problem) throw new Error(problem);
  const { quick, log } = options;
  const blob = largeBlob((quick ? 32 : 256) * MiB);
  const concurrency = 4;
  const rounds = quick ? 1 : 3;
  const many = quick ? 50 : 200;
  const manyBlob = largeBlob((quick ? 8 : 32) * MiB);
  const current = process.env.BERTH_BENCH_CLI_JS || 'dist/cli/main.js';
  const baselineCli = options.baseline ? `${options.baseline.replace(/\/+$/, '')}/cli/main.js` : undefined;
  const stoppers: Server[] = [];
  const berth = async (cli: string, env: Record<string, string> = {}): Promise<Server> => {
    const previous = process.env.BERTH_BENCH_CLI_JS;
    process.env.BERTH_BENCH_CLI_JS = cli;
    try {
      const server = await startBerth(await freshBucket('s3pull'), {
        BERTH_LIMITS_CONNECTIONS_PER_ADDRESS: '0',
        ...env,
      });
      stoppers.push(server);
      options.track(server);
      return server;
    } finally {
      if (previous === undefined) delete process.env.BERTH_BENCH_CLI_JS;
      else process.env.BERTH_BENCH_CLI_JS = previous;
    }
  };
  const distribution = async (redirect: boolean): Promise<Server> => {
    const server = await startDistribution(
      options.distribution as string,
      await freshBucket('s3pull-d'),
      undefined,
      redirect,
    );
    stoppers.push(server);
    options.track(server);
    return server;
  };
  const result: S3PullBench = { blobMiB: blob.size / MiB, concurrency, rounds, servers: [], memory: [] };
  try {
    // Throughput, both modes.
    const entries: Entry[] = [];
    const add = (server: Server, name: string, mode: S3PullServer['mode']) => {
      const entry = { server, result: { name, mode, mbps: [], cpuPerGiB: [], failedRounds: 0 } };
      entries.push(entry);
      result.servers.push(entry.result);
    };
    if (baselineCli) add(await berth(baselineCli), 'Berth (baseline)', 'streamed');
    add(await berth(current), 'Berth', 'streamed');
    if (options.distribution) add(await distribution(false), 'Distribution', 'streamed');
    add(await berth(current, { BERTH_STORAGE_S3_REDIRECT: 'true' }), 'Berth', 'redirect');
    if (options.distribution) add(await distribution(true), 'Distribution', 'redirect');
    for (const { server } of options.phase === 'memory' ? [] : entries) {
      await pushBlob(server, blob);
      await pullMany(server, blob, 1).catch((error) => log(`  warm-up pull on ${server.name}: ${error}`));
    }
    for (let round = 0; round < (options.phase === 'memory' ? 0 : rounds); round++) {
      const order = round % 2 === 0 ? entries : [...entries].reverse();
      const line: string[] = [];
      for (const { server, result: figures } of order) {
        const cpu = await cpuSeconds(server.pid);
        let mbps: number;
        try {
          mbps = await pullMany(server, blob, concurrency);
        } catch (error) {
          figures.failedRounds++;
          figures.firstFailure ??= String(error);
          line.push(`${figures.name} ${figures.mode} FAILED (${String(error).slice(0, 200)})`);
          continue;
        }
        const gib = (concurrency * blob.size) / (1024 * MiB);
        figures.mbps.push(mbps);
        figures.cpuPerGiB.push(((await cpuSeconds(server.pid)) - cpu) / gib);
        line.push(
          `${figures.name} ${figures.mode} ${mbps.toFixed(0)} MB/s ${(figures.cpuPerGiB.at(-1) ?? 0).toFixed(2)} s/GiB`,
        );
      }
      log(`  s3-pull round ${round + 1}/${rounds}: ${line.join(', ')}`);
    }
    // Memory under many streamed pulls, one server at a time.
    const streamed = entries.filter((e) => e.result.mode === 'streamed');
    for (const { server, result: figures } of options.phase === 'throughput' ? [] : streamed) {
      // The shared Swift may ask to slow down (503) right after another server's storm: a few tries.
      for (let attempt = 1; ; attempt++) {
        try {
          await pushBlob(server, manyBlob);
          break;
        } catch (error) {
          if (attempt >= 5) throw error;
          log(`  push to ${figures.name} failed (${String(error).split('\n')[0]}), again in 10 s`);
          await new Promise((resolve) => setTimeout(resolve, 10_000));
        }
      }
      const before = await memoryOf(server.pid);
      let peak = before.rss;
      const sampler = setInterval(() => {
        memoryOf(server.pid).then(
          (memory) => {
            peak = Math.max(peak, memory.rss);
          },
          () => undefined,
        );
      }, 100);
      try {
        const { mbps, failures } = await pullManySettled(server, manyBlob, many);
        const after = await memoryOf(server.pid);
        const memory: S3PullMemory = {
          name: figures.name,
          pulls: many,
          blobMiB: manyBlob.size / MiB,
          mbps,
          baselineRssMiB: before.rss,
          peakRssMiB: Math.max(peak, after.rss),
          hwmMiB: after.hwm,
          failed: failures.length,
          ...(failures[0] && { firstFailure: failures[0] }),
        };
        result.memory.push(memory);
        log(
          `  ${figures.name}: ${many} × ${memory.blobMiB} MiB streamed, ${mbps.toFixed(0)} MB/s, ` +
            `peak RSS ${memory.peakRssMiB.toFixed(0)} MiB (before ${memory.baselineRssMiB.toFixed(0)}), VmHWM ${memory.hwmMiB.toFixed(0)} MiB` +
            (failures.length > 0 ? `; ${failures.length} failed, first: ${failures[0]}` : ''),
        );
      } finally {
        clearInterval(sampler);
      }
    }
  } finally {
    await Promise.allSettled(stoppers.map((server) => server.stop()));
  }
  return result;
}

const range = (values: number[], digits: number) =>
  values.length === 0
    ? 'no round'
    : `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

export function s3PullTable(bench: S3PullBench): string {
  const streamedDistribution = bench.servers.find((s) => s.name === 'Distribution' && s.mode === 'streamed');
  const lines = [
    ['server', 'mode', 'MB/s median (min–max)', 'CPU s/GiB', 'vs Distribution streamed', 'failed rounds'],
    ...bench.servers.map((s) => [
      s.name,
      s.mode,
      range(s.mbps, 0),
      range(s.cpuPerGiB, 2),
      streamedDistribution && s.mbps.length > 0 && streamedDistribution.mbps.length > 0
        ? `${(median(s.mbps) / median(streamedDistribution.mbps)).toFixed(2)}×`
        : '—',
      String(s.failedRounds),
    ]),
  ];
  const memory = [
    ['server (streamed)', 'pulls', 'MB/s', 'RSS before', 'peak RSS', 'VmHWM', 'failed'],
    ...bench.memory.map((m) => [
      m.name,
      `${m.pulls} × ${m.blobMiB} MiB`,
      m.mbps.toFixed(0),
      `${m.baselineRssMiB.toFixed(0)} MiB`,
      `${m.peakRssMiB.toFixed(0)} MiB`,
      `${m.hwmMiB.toFixed(0)} MiB`,
      String(m.failed),
    ]),
  ];
  const format = (rows: string[][]) => {
    const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
    return rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i] as number))
          .join('  ')
          .trimEnd(),
      )
      .join('\n');
  };
  return `${format(lines)}\n\n${format(memory)}`;
}
