/**
 * `npx tsx bench/scanning.ts [--quick]`: the scanner against issue 12's speed targets.
 *   (a) a ~100 MiB multi-layer image (gzip layers of mostly incompressible file bytes, a dpkg status and a
 *       package-lock.json) stored in a filesystem blob store: the time to read its stored layer blobs once;
 *   (b) inventoryImage over the same blobs: its time (target ≤ 2× (a)) and peak RSS growth, sampled every
 *       50 ms (target ≤ 64 MiB);
 *   (c) matching 1,000 packages against 100,000 OSV records (bench/scan-match.ts; target < 1 s).
 * Each of (a) and (b) runs RUNS times cold (the blobs dropped from the page cache first, so read from the
 * disk: "from storage") and warm (from the page cache); medians count, wall and CPU time (zlib inflates on
 * libuv's pool, so CPU counts all threads). --quick: a ~20 MiB image and 10,000 records. Writes bench/results-scanning.json.
 * Run with `node --expose-gc --import tsx bench/scanning.ts` to start each RSS sample from a collected heap.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { parseDigest } from '../src/registry/index.js';
import { blobKey } from '../src/registry/storage-keys.js';
import { inventoryImage } from '../src/scanning/inventory/index.js';
import { FilesystemBlobStore } from '../src/storage/index.js';
import { benchMatch, type MatchBench } from './scan-match.js';

const run = promisify(execFile);
const QUICK = process.argv.includes('--quick');
/** --profile: a CPU profile of the inventory runs alone, written to the temp dir (its path is printed). */
const PROFILE = process.argv.includes('--profile');
const MiB = 1024 * 1024;
const LAYERS = 5;
const LAYER_BYTES = (QUICK ? 4 : 20) * MiB;
const RUNS = 3;
const RECORDS = QUICK ? 10_000 : 100_000;
const PACKAGES = 1000;
const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const RESULTS = fileURLToPath(new URL('./results-scanning.json', import.meta.url));

interface StoredLayer {
  digest: string;
  mediaType: string;
  size: number;
}

function dpkgStatus(count: number): string {
  const paragraphs: string[] = [];
  for (let i = 0; i < count; i++) {
    paragraphs.push(
      [
        `Package: bench-lib${i}`,
        'Status: install ok installed',
        'Priority: optional',
        'Section: libs',
        'Installed-Size: 120',
        'Maintainer: Bench <bench@example.org>',
        'Architecture: amd64',
        `Source: bench-src${Math.floor(i / 3)}`,
        `Version: 1.${i % 17}.${i % 5}-${1 + (i % 3)}+deb12u1`,
        `Description: synthetic library ${i}`,
        ' A package the benchmark installs.',
      ].join('\n'),
    );
  }
  return `${paragraphs.join('\n\n')}\n`;
}

function packageLock(count: number): string {
  const packages: Record<string, object> = { '': { name: 'bench-app', version: '1.0.0' } };
  for (let i = 0; i < count; i++) {
    packages[`node_modules/bench-dep${i}`] = {
      version: `${1 + (i % 4)}.${i % 10}.${i % 7}`,
      resolved: `https://registry.npmjs.org/bench-dep${i}/-/bench-dep${i}.tgz`,
      integrity: `sha512-${randomBytes(48).toString('base64')}`,
    };
  }
  return JSON.stringify({ name: 'bench-app', version: '1.0.0', lockfileVersion: 3, packages }, null, 2);
}

/** One gzip layer tar: random files of 1–4 MiB up to `bytes`, and on the top layer the package databases. */
function layerStream(index: number, bytes: number): Readable {
  const archive = pack();
  (async () => {
    const write = (name: string, content: Buffer | string) =>
      new Promise<void>((resolve, reject) =>
        archive.entry({ name }, content, (error) => (error ? reject(error) : resolve())),
      );
    if (index === 0) {
      await write('etc/os-release', 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n');
    }
    // Random bytes gzip cannot shrink; a fresh block per file so no two files compress against each other.
    for (let written = 0, n = 0; written < bytes; n++) {
      const size = Math.min(bytes - written, (1 + (n % 4)) * MiB);
      await write(`opt/layer${index}/data/blob${n}.bin`, randomBytes(size));
      await write(`opt/layer${index}/doc/README${n}.txt`, `layer ${index} file ${n}\n`.repeat(50));
      written += size;
    }
    if (index === LAYERS - 1) {
      await write('var/lib/dpkg/status', dpkgStatus(300));
      await write('app/package-lock.json', packageLock(600));
    }
    archive.finalize();
  })().catch((error: Error) => archive.destroy(error));
  const out = new PassThrough();
  pipeline(archive as unknown as Readable, createGzip({ level: 1 }), out).catch((error: Error) =>
    out.destroy(error),
  );
  return out;
}

/** Streams a generated layer into the store under its digest, as a push commits a blob. */
async function storeLayer(store: FilesystemBlobStore, index: number): Promise<StoredLayer> {
  const hash = createHash('sha256');
  const temp = `uploads/bench-layer-${index}`;
  const size = await store.write(
    temp,
    (async function* hashed() {
      for await (const chunk of layerStream(index, LAYER_BYTES)) {
        hash.update(chunk as Buffer);
        yield chunk as Buffer;
      }
    })(),
    0,
  );
  const digest = `sha256:${hash.digest('hex')}`;
  await store.commit(temp, blobKey(parseDigest(digest)));
  return { digest, mediaType: GZIP, size };
}

/**
 * Drops the stored blobs from the page cache (posix_fadvise DONTNEED through GNU dd's iflag=nocache: these
 * files only, nothing else on the machine), so that the next read comes from the disk.
 */
async function evict(root: string, layers: StoredLayer[]): Promise<void> {
  for (const layer of layers) {
    const path = join(root, blobKey(parseDigest(layer.digest)));
    await run('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']);
  }
}

/** Wall and CPU (all threads: zlib and fs run on libuv's pool) milliseconds of `work`. */
async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; cpuMs: number; value: T }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await work();
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000, value };
}

function open(store: FilesystemBlobStore, digest: string): Promise<Readable> {
  return store.read(blobKey(parseDigest(digest)));
}

/** (a): every stored layer blob read once, to its end, bytes discarded. */
async function readOnce(store: FilesystemBlobStore, layers: StoredLayer[]): Promise<void> {
  for (const layer of layers) {
    for await (const _chunk of await open(store, layer.digest)) {
      // only the reading is measured
    }
  }
}

/** (b): the inventory of the image, with its peak RSS growth over the RSS just before it. */
async function inventoryOnce(
  store: FilesystemBlobStore,
  layers: StoredLayer[],
): Promise<{ ms: number; cpuMs: number; rssGrowth: number; packages: number; complete: boolean }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  try {
    const {
      ms,
      cpuMs,
      value: inventory,
    } = await timed(() =>
      inventoryImage({
        subject: `sha256:${'b'.repeat(64)}`,
        config: Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {} })),
        layers,
        openLayer: (digest) => open(store, digest),
      }),
    );
    peak = Math.max(peak, process.memoryUsage().rss);
    return {
      ms,
      cpuMs,
      rssGrowth: peak - before,
      packages: inventory.packages.length,
      complete: inventory.complete,
    };
  } finally {
    clearInterval(sampler);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const mib = (bytes: number) => bytes / MiB;

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'berth-bench-scanning-'));
  const loadAtStart = loadavg().map((n) => Number(n.toFixed(2)));
  try {
    const store = new FilesystemBlobStore(root);
    const layers: StoredLayer[] = [];
    for (let i = 0; i < LAYERS; i++) layers.push(await storeLayer(store, i));
    const stored = layers.reduce((sum, layer) => sum + layer.size, 0);
    console.log(`image: ${LAYERS} gzip layers, ${mib(stored).toFixed(1)} MiB stored`);

    // Each run: the layers read cold (evicted from the page cache: "from storage"), then inventoried cold;
    // then both again warm (from the page cache, where the read is at its cheapest).
    type Sample = { ms: number; cpuMs: number };
    const reads: { cold: Sample[]; warm: Sample[] } = { cold: [], warm: [] };
    const inventories: { cold: Sample[]; warm: Sample[] } = { cold: [], warm: [] };
    let rssGrowth = 0;
    let packages = 0;
    const session = PROFILE ? new Session() : undefined;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
    }
    for (let round = 0; round < RUNS; round++) {
      for (const cache of ['cold', 'warm'] as const) {
        if (cache === 'cold') await evict(root, layers);
        else await readOnce(store, layers);
        reads[cache].push(await timed(() => readOnce(store, layers)));
        if (cache === 'cold') await evict(root, layers);
        else await readOnce(store, layers);
        await session?.post('Profiler.start');
        const inventory = await inventoryOnce(store, layers);
        if (session) {
          const { profile } = await session.post('Profiler.stop');
          const path = join(tmpdir(), `berth-inventory-${cache}-${round}.cpuprofile`);
          await writeFile(path, JSON.stringify(profile));
          console.log(`inventory CPU profile: ${path}`);
        }
        if (!inventory.complete || inventory.packages !== 900) {
          throw new Error(
            `the inventory is wrong: ${inventory.packages} packages, complete ${inventory.complete}`,
          );
        }
        inventories[cache].push(inventory);
        rssGrowth = Math.max(rssGrowth, inventory.rssGrowth);
        packages = inventory.packages;
      }
    }
    session?.disconnect();
    const summary = (samples: Sample[]) => ({
      medianMs: Math.round(median(samples.map((s) => s.ms))),
      medianCpuMs: Math.round(median(samples.map((s) => s.cpuMs))),
      runsMs: samples.map((s) => Math.round(s.ms)),
    });
    const read = { cold: summary(reads.cold), warm: summary(reads.warm) };
    const inventory = { cold: summary(inventories.cold), warm: summary(inventories.warm) };
    const ratio = {
      cold: inventory.cold.medianMs / read.cold.medianMs,
      warm: inventory.warm.medianMs / read.warm.medianMs,
      warmCpu: inventory.warm.medianCpuMs / read.warm.medianCpuMs,
    };

    console.log(`matching ${PACKAGES} packages against ${RECORDS.toLocaleString('en')} records…`);
    const match: MatchBench = await benchMatch(RECORDS, PACKAGES);
    const matchMs = Math.max(match.matchColdMs, match.matchWarmMs);

    const verdict = (met: boolean, target: string) => `${met ? 'met' : 'MISSED'} (${target})`;
    const rows: [string, string, string, string][] = [
      ['', 'from disk (cold)', 'page cache (warm)', ''],
      [
        '(a) read the stored layers once',
        `${read.cold.medianMs} ms`,
        `${read.warm.medianMs} ms (${read.warm.medianCpuMs} ms CPU)`,
        '',
      ],
      [
        '(b) inventoryImage',
        `${inventory.cold.medianMs} ms = ${ratio.cold.toFixed(2)}× (a)`,
        `${inventory.warm.medianMs} ms = ${ratio.warm.toFixed(2)}× (a); CPU ${ratio.warmCpu.toFixed(2)}×`,
        verdict(ratio.cold <= 2, '≤ 2× cold'),
      ],
      [
        '(b) peak RSS growth',
        `${mib(rssGrowth).toFixed(1)} MiB`,
        '',
        verdict(rssGrowth <= 64 * MiB, '≤ 64 MiB'),
      ],
      [
        `(c) match ${match.packages} pkgs / ${match.records.toLocaleString('en')} records`,
        `${match.matchColdMs.toFixed(0)} ms first`,
        `${match.matchWarmMs.toFixed(0)} ms again (${match.findings} findings)`,
        verdict(matchMs < 1000, '< 1 s'),
      ],
    ];
    const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]?.length ?? 0)));
    for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i] as number)).join('  '));

    const results = {
      date: new Date().toISOString(),
      quick: QUICK,
      machine: {
        nproc: cpus().length,
        cpu: cpus()[0]?.model,
        node: process.version,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: loadavg().map((n) => Number(n.toFixed(2))),
      },
      image: { layers: LAYERS, storedMiB: Number(mib(stored).toFixed(1)), packages },
      read,
      inventory: {
        ...inventory,
        ratioToRead: {
          cold: Number(ratio.cold.toFixed(2)),
          warm: Number(ratio.warm.toFixed(2)),
          warmCpu: Number(ratio.warmCpu.toFixed(2)),
        },
        peakRssGrowthMiB: Number(mib(rssGrowth).toFixed(1)),
        gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
      },
      match: {
        records: match.records,
        importMs: Math.round(match.importMs),
        packages: match.packages,
        findings: match.findings,
        firstMs: Math.round(match.matchColdMs),
        againMs: Math.round(match.matchWarmMs),
      },
      targets: {
        inventoryWithin2xColdRead: ratio.cold <= 2,
        rssWithin64MiB: rssGrowth <= 64 * MiB,
        matchUnder1s: matchMs < 1000,
      },
    };
    await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`wrote ${RESULTS}`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
