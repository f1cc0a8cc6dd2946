/**
 * `npm run bench`: Berth side by side with CNCF Distribution (Debian's docker-registry 2.8), each a separate
 * process on loopback with a fresh data directory, measured one at a time with the same client code on the same
 * OCI API workloads. `--quick` shrinks every workload so CI can keep this working in under a minute.
 * The large pull runs apart, on both registries side by side in alternating rounds (pull.ts).
 * Prints a table and writes bench/results.json.
 *
 * Flags: --quick; --storage=filesystem|s3|all (default all); --only=pull (just the pull comparison);
 * --only=signatures (just manifest GETs with signature enforcement off and on);
 * --only=hot-path (just manifest GETs by tag and digest, anonymous and with a token, on SQLite and PostgreSQL;
 *   with S3 among the storages also Berth on PostgreSQL + Swift S3 against Distribution on Swift S3);
 * --only=proxy (just pulls through a proxy project: cold vs direct, warm vs Distribution's proxy mode);
 * --only=replication (just a push policy over many small images, to Distribution and to a second Berth);
 * --only=listings|nodes|change-feed|s3-push (issue 17's scale workloads, scale.ts);
 * --pull-rounds=N (default 5, 3 with --quick).
 */
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { MiB, median } from './client.js';
import { benchHotPath, type HotPathBench, hotPathTable } from './hot-path.js';
import { benchProxy, type ProxyBench, proxyTable } from './proxy-pull.js';
import { comparePulls, type PullComparison } from './pull.js';
import { benchReplication, type ReplicationBench, replicationTable } from './replication.js';
import { runScale, SCALE_WORKLOADS, type ScaleWorkload } from './scale.js';
import { ensureTools, type Server, startBerth, startDistribution } from './servers.js';
import { benchSignatures, type SignatureBench } from './signatures.js';
import { ensureSwift, freshBucket, type S3Target } from './swift.js';
import {
  type Figures,
  largeBlob,
  makeFixtures,
  runSuite,
  type Sizes,
  type SuiteResult,
  s3SizesFor,
  sizesFor,
} from './workloads.js';

const quick = process.argv.includes('--quick');
function flag(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
const only = flag('only');
const ONLY = ['pull', 'signatures', 'hot-path', 'proxy', 'replication', ...SCALE_WORKLOADS];
if (only !== undefined && !ONLY.includes(only))
  throw new Error(`--only=${only}: expected one of ${ONLY.join(', ')}`);
// The scale workloads of issue 17 (scale.ts): Berth alone, with tables of their own.
if ((SCALE_WORKLOADS as readonly string[]).includes(only ?? '')) {
  await runScale(only as ScaleWorkload, { quick, log: (line) => console.error(line), flag });
  process.exit(process.exitCode ?? 0);
}
const onlyPull = only === 'pull';
const onlySignatures = only === 'signatures';
const onlyHotPath = only === 'hot-path';
/** --only=proxy or --only=replication: none of the other workloads. */
const onlyDistributionWork = only === 'proxy' || only === 'replication';
const pullRoundsArg = flag('pull-rounds');
if (pullRoundsArg !== undefined && !/^[1-9]\d*$/.test(pullRoundsArg))
  throw new Error(`--pull-rounds=${pullRoundsArg}: expected a positive integer`);
const sizes: Sizes = {
  ...sizesFor(quick),
  ...(pullRoundsArg !== undefined && { pullRounds: Number(pullRoundsArg) }),
};
const log = (line: string) => console.error(line);

/** Servers still running, stopped on the way out whatever happens. */
const running = new Set<Server>();
let interrupted = false;
async function stopAll(): Promise<void> {
  await Promise.allSettled([...running].map((server) => server.stop()));
  running.clear();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    log(`bench: ${signal}, stopping the registries`);
    void stopAll().finally(() => process.exit(130));
  });
}

function loud(lines: string[]): void {
  const bar = '!'.repeat(100);
  log(`\n${bar}\n${lines.map((l) => `!!! ${l}`).join('\n')}\n${bar}\n`);
}

/** `openssl speed -evp sha256 -bytes 16384 -seconds 1`: one core's SHA-256 rate in MB/s, for reference. */
function opensslSha256(): number | undefined {
  const run = spawnSync('openssl', ['speed', '-evp', 'sha256', '-bytes', '16384', '-seconds', '1'], {
    encoding: 'utf8',
  });
  const match = /^sha256\s+([\d.]+)k\s*$/m.exec(run.stdout ?? '');
  return match ? (Number(match[1]) * 1000) / 1e6 : undefined;
}

async function cpuModel(): Promise<string> {
  const info = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? 'unknown';
}

type Measured = SuiteResult & { version: string };

async function measure(
  start: () => Promise<Server>,
  catalogQuery: string,
  sizes: Sizes,
  wrk?: string,
): Promise<Measured> {
  const server = await start();
  running.add(server);
  log(`bench: ${server.name} (${server.version}) at ${server.url}, pid ${server.pid}`);
  try {
    if (!fixtures) throw new Error('no fixtures');
    const result = await runSuite({
      server,
      sizes,
      fixtures,
      catalogQuery,
      log,
      interrupted: () => interrupted,
      ...(wrk && { wrk }),
    });
    if (Object.keys(result.errors).length > 0) log(`${server.name}'s last output:\n${server.output()}`);
    return { ...result, version: server.version };
  } finally {
    await server.stop();
    running.delete(server);
    // Let the page cache write back this run's data so the next registry starts on a quiet disk.
    spawnSync('sync');
  }
}

interface Row {
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  value: (f: Figures) => number | undefined;
  /** Extra text after the value, e.g. how many requests a listing took. */
  note?: (f: Figures) => string;
  digits: number;
}

const num = (key: string) => (f: Figures) => (typeof f[key] === 'number' ? (f[key] as number) : undefined);
const requests = (key: string) => (f: Figures) =>
  typeof f[key] === 'number' ? ` (${f[key]} req${f[key] === 1 ? '' : 's'})` : '';

const tools = ensureTools();
if (tools.problems.length > 0) {
  loud([
    ...tools.problems.flatMap((p) => p.split('\n')),
    tools.distribution
      ? 'wrk is missing: the manifest GET storm uses the node client instead.'
      : 'CNCF Distribution is unavailable: BENCHMARKING BERTH ALONE, there is nothing to compare with.',
  ]);
}
function rowsFor(sizes: Sizes): Row[] {
  const large = `${sizes.largeBytes / MiB} MiB`;
  const pull: Row = {
    label: `pull ${large}, ${sizes.pulls} concurrent GETs (median of ${sizes.pullRounds}, min–max)`,
    unit: 'MB/s',
    better: 'higher',
    value: num('pullMBps'),
    note: (f) =>
      typeof f.pullMinMBps === 'number' && typeof f.pullMaxMBps === 'number'
        ? ` (${f.pullMinMBps.toFixed(0)}–${f.pullMaxMBps.toFixed(0)})`
        : '',
    digits: 0,
  };
  const suite: Row[] = [
    {
      label: `push ${sizes.smallCount} × 64 KiB blobs, ${sizes.smallClients} clients`,
      unit: 'blobs/s',
      better: 'higher',
      value: num('smallBlobsPerSecond'),
      digits: 0,
    },
    { label: '  latency p50 (POST + PUT)', unit: 'ms', better: 'lower', value: num('smallP50Ms'), digits: 1 },
    { label: '  latency p99 (POST + PUT)', unit: 'ms', better: 'lower', value: num('smallP99Ms'), digits: 1 },
    {
      label: `push ${large}, monolithic (POST + PUT)`,
      unit: 'MB/s',
      better: 'higher',
      value: num('monolithicMBps'),
      digits: 0,
    },
    {
      label: `push ${large}, ${sizes.chunkBytes / MiB} MiB PATCHes + PUT`,
      unit: 'MB/s',
      better: 'higher',
      value: num('chunkedMBps'),
      digits: 0,
    },
    {
      label: tools.wrk
        ? `manifest GET by tag, wrk -t1 -c${sizes.getConnections} -d${sizes.getSeconds}s`
        : `manifest GET by tag, node client, ${sizes.getConnections} conns, ${sizes.getSeconds} s`,
      unit: 'req/s',
      better: 'higher',
      value: num('manifestRps'),
      digits: 0,
    },
    { label: '  latency p50', unit: 'ms', better: 'lower', value: num('manifestP50Ms'), digits: 2 },
    { label: '  latency p99', unit: 'ms', better: 'lower', value: num('manifestP99Ms'), digits: 2 },
    {
      label: `manifest PUT under ${sizes.tags} tags, ${sizes.putConcurrency} clients`,
      unit: 'PUT/s',
      better: 'higher',
      value: num('tagPutsPerSecond'),
      digits: 0,
    },
    {
      label: `tag list, ${sizes.tags} tags, whole (median of ${sizes.listRuns})`,
      unit: 'ms',
      better: 'lower',
      value: num('tagListMs'),
      note: requests('tagListRequests'),
      digits: 1,
    },
    {
      label: `tag list, walk by n=${sizes.pageSize} (median of ${sizes.listRuns})`,
      unit: 'ms',
      better: 'lower',
      value: num('tagWalkMs'),
      note: requests('tagWalkRequests'),
      digits: 1,
    },
    {
      label: `fill ${sizes.repositories} repos (2 mounts + manifest PUT)`,
      unit: 'repos/s',
      better: 'higher',
      value: num('repositoriesPerSecond'),
      digits: 0,
    },
    {
      label: `catalog, ${sizes.repositories}+ repos (median of ${sizes.listRuns})`,
      unit: 'ms',
      better: 'lower',
      value: num('catalogMs'),
      note: requests('catalogRequests'),
      digits: 1,
    },
    {
      label: 'peak RSS after the above (VmHWM)',
      unit: 'MiB',
      better: 'lower',
      value: num('hwmAfterWorkloadsMiB'),
      digits: 0,
    },
    {
      label: `${sizes.finalUploads} × ${sizes.finalBytes / MiB} MiB concurrent uploads`,
      unit: 'MB/s',
      better: 'higher',
      value: num('finalMBps'),
      digits: 0,
    },
    {
      label: '  peak RSS during (VmRSS every 100 ms)',
      unit: 'MiB',
      better: 'lower',
      value: num('finalPeakRssMiB'),
      digits: 0,
    },
    { label: '  VmHWM at the end', unit: 'MiB', better: 'lower', value: num('finalHwmMiB'), digits: 0 },
  ];
  return onlyPull ? [pull] : [...suite, pull];
}

function cell(row: Row, result: SuiteResult | undefined): string {
  if (!result) return '—';
  const value = row.value(result.figures);
  if (value === undefined) return 'FAILED';
  return `${value.toFixed(row.digits)} ${row.unit}${row.note?.(result.figures) ?? ''}`;
}

function ratio(row: Row, berth: SuiteResult | undefined, distribution: SuiteResult | undefined): string {
  const b = berth && row.value(berth.figures);
  const d = distribution && row.value(distribution.figures);
  if (b === undefined || d === undefined || d === 0) return '—';
  return `${(b / d).toFixed(2)}× (${row.better} is better)`;
}

function table(rows: Row[], berth: SuiteResult | undefined, distribution: SuiteResult | undefined): string {
  const lines = [
    ['workload', 'Berth', 'Distribution', 'Berth/Distribution'],
    ...rows.map((row) => [
      row.label,
      cell(row, berth),
      cell(row, distribution),
      ratio(row, berth, distribution),
    ]),
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...lines.map((l) => (l[i] as string).length)));
  const format = (l: string[]) =>
    l
      .map((c, i) => (i === 0 || i === 3 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [format(lines[0] as string[]), rule, ...lines.slice(1).map(format)].join('\n');
}

const sha256MBps = opensslSha256();
const machine = {
  nproc: availableParallelism(),
  kernel: spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim(),
  node: process.version,
  cpu: await cpuModel(),
  loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
  opensslSha256MBps: sha256MBps,
};
log(`bench: ${quick ? 'quick' : 'full'} run on ${machine.nproc} cores, load ${machine.loadAverageAtStart}`);
log('bench: generating blob patterns and digests…');
const fixtures =
  onlyPull || onlySignatures || onlyHotPath || onlyDistributionWork ? undefined : makeFixtures(sizes);
const pullBlob = fixtures?.mono ?? largeBlob(sizes.largeBytes);

/** Storage backends to compare on: `--storage=filesystem|s3|all` (default all). */
const storageArg = flag('storage') ?? 'all';
if (!['filesystem', 's3', 'all'].includes(storageArg))
  throw new Error(`--storage=${storageArg}: expected filesystem, s3 or all`);
const storages = (storageArg === 'all' ? ['filesystem', 's3'] : [storageArg]) as ('filesystem' | 's3')[];

interface Round {
  storage: 'filesystem' | 's3';
  sizes: Sizes;
  berth?: Measured;
  distribution?: Measured;
  pull?: PullComparison;
  skipped?: string;
  fatal?: string;
}

/**
 * The large pull: fresh Berth and Distribution side by side, alternating rounds (pull.ts). Each registry's
 * median goes into its figures as pullMBps, with the min and max of its rounds.
 */
async function measurePulls(
  round: Round,
  bucket: (name: string) => Promise<S3Target | undefined>,
  binary: string | undefined,
): Promise<void> {
  round.berth ??= { figures: {}, details: {}, errors: {}, version: '' };
  if (binary) round.distribution ??= { figures: {}, details: {}, errors: {}, version: '' };
  const name = 'pull large blob (alternating rounds)';
  const t0 = Date.now();
  try {
    const berth = await startBerth(await bucket('berth-pull'));
    running.add(berth);
    round.berth.version ||= berth.version;
    const distribution = binary
      ? await startDistribution(binary, await bucket('distribution-pull'))
      : undefined;
    if (distribution) {
      running.add(distribution);
      if (round.distribution) round.distribution.version ||= distribution.version;
    }
    log(
      `bench: pull rounds on ${[berth, distribution].flatMap((s) => (s ? [`${s.name} at ${s.url} (pid ${s.pid})`] : [])).join(' and ')}`,
    );
    const result = await comparePulls({
      berth,
      ...(distribution && { distribution }),
      blob: pullBlob,
      rounds: round.sizes.pullRounds,
      concurrency: round.sizes.pulls,
      log,
      interrupted: () => interrupted,
    });
    round.pull = result;
    const record = (measured: Measured | undefined, figures: PullComparison['berth'] | undefined) => {
      if (!measured || !figures) return;
      measured.figures.pullMBps = figures.mbps;
      measured.figures.pullMinMBps = figures.min;
      measured.figures.pullMaxMBps = figures.max;
      measured.details.pull = figures;
    };
    record(round.berth, result.berth);
    record(round.distribution, result.distribution);
    log(`  pull rounds done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    round.berth.errors[name] = message;
    if (round.distribution) round.distribution.errors[name] = message;
    if (!interrupted) log(`\n!!! ${name} FAILED\n${message}\n`);
  } finally {
    await stopAll();
    spawnSync('sync');
  }
}

async function runRound(storage: 'filesystem' | 's3'): Promise<Round> {
  const round: Round = { storage, sizes: storage === 's3' ? s3SizesFor(quick) : sizes };
  try {
    if (storage === 's3') {
      const problem = ensureSwift();
      if (problem) {
        round.skipped = `no S3 endpoint: ${problem}`;
        loud(['S3 ROUND SKIPPED:', ...round.skipped.split('\n')]);
        return round;
      }
    }
    const bucket = (name: string) => (storage === 's3' ? freshBucket(name) : Promise.resolve(undefined));
    const binary = tools.distribution;
    if (!onlyPull) {
      const forBerth = await bucket('berth');
      round.berth = await measure(() => startBerth(forBerth), '', round.sizes, tools.wrk);
      if (binary && !interrupted) {
        const forDistribution = await bucket('distribution');
        round.distribution = await measure(
          () => startDistribution(binary, forDistribution),
          '?n=10000',
          round.sizes,
          tools.wrk,
        );
      }
    }
    if (!interrupted) await measurePulls(round, bucket, binary);
  } catch (error) {
    round.fatal = error instanceof Error ? (error.stack ?? error.message) : String(error);
    loud([`the ${storage} round stopped:`, ...round.fatal.split('\n')]);
  } finally {
    await stopAll();
  }
  return round;
}

/**
 * Runs one of the workloads beside the rounds: its figures, or its failure shouted and kept (with its stack) as
 * `{ error }`, so that one failing workload does not stop the others. `after` runs either way.
 */
async function sideWorkload<T>(
  name: string,
  run: () => Promise<T>,
  after?: () => Promise<void>,
): Promise<T | { error: string }> {
  try {
    return await run();
  } catch (error) {
    const failed = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    loud([`the ${name} workload failed:`, ...failed.error.split('\n')]);
    return failed;
  } finally {
    await after?.();
  }
}

const rounds: Round[] = [];
for (const storage of onlySignatures || onlyHotPath || onlyDistributionWork ? [] : storages) {
  if (interrupted) break;
  log(`bench: ${storage} round`);
  rounds.push(await runRound(storage));
}

// The cost of signature enforcement on manifest GETs (Berth alone: Distribution has no such policy).
let signatures: SignatureBench | { error: string } | undefined;
if (
  tools.wrk &&
  !onlyPull &&
  !onlyHotPath &&
  !onlyDistributionWork &&
  !interrupted &&
  storages.includes('filesystem')
) {
  const wrk = tools.wrk;
  signatures = await sideWorkload('signature enforcement', () => benchSignatures({ wrk, quick, log }));
}

// The manifest GET hot path with auth on, on SQLite and on PostgreSQL (Berth alone).
let hotPath: HotPathBench | { error: string } | undefined;
if (
  tools.wrk &&
  !onlyPull &&
  !onlySignatures &&
  !onlyDistributionWork &&
  !interrupted &&
  storages.includes('filesystem')
) {
  const wrk = tools.wrk;
  // With S3 among the storages: Berth on PostgreSQL + Swift S3 against Distribution on Swift S3 too.
  const swiftProblem = storages.includes('s3') ? ensureSwift() : 'not asked for';
  if (storages.includes('s3') && swiftProblem) loud(['hot path: no S3 rows:', ...swiftProblem.split('\n')]);
  hotPath = await sideWorkload('hot-path', () =>
    benchHotPath({ wrk, quick, log, s3: swiftProblem === undefined, distribution: tools.distribution }),
  );
}

// Pull-through caching and replication (issue 13): Berth's proxy projects against a direct pull and
// Distribution's proxy mode; a push policy's throughput. On the filesystem, with SQLite metadata.
const track = (server: Server) => running.add(server);
const wanted = (what: string) => (only === undefined || only === what) && storages.includes('filesystem');
let proxy: ProxyBench | { error: string } | undefined;
if (tools.distribution && wanted('proxy') && !interrupted) {
  const distribution = tools.distribution;
  proxy = await sideWorkload(
    'proxy',
    () => benchProxy({ distribution, quick, log, track, interrupted: () => interrupted }),
    stopAll,
  );
}
let replication: ReplicationBench | { error: string } | undefined;
if (wanted('replication') && !interrupted) {
  replication = await sideWorkload(
    'replication',
    () =>
      benchReplication({
        distribution: tools.distribution,
        quick,
        log,
        track,
        interrupted: () => interrupted,
      }),
    stopAll,
  );
}

console.log(
  `\nBerth vs CNCF Distribution — ${quick ? 'quick' : 'full'} run, ${machine.nproc} cores (${machine.cpu}), ` +
    `Linux ${machine.kernel}, Node ${machine.node}`,
);
console.log(
  sha256MBps === undefined
    ? 'openssl speed -evp sha256: no figure'
    : `openssl speed -evp sha256 -bytes 16384 (one core): ${sha256MBps.toFixed(0)} MB/s`,
);
const first = rounds.find((r) => r.berth || r.distribution);
console.log(
  `Berth ${first?.berth?.version ?? '?'}; Distribution: ${first?.distribution?.version ?? 'not run'}`,
);
console.log(`MB = 10^6 bytes; ratios are Berth's figure divided by Distribution's.`);
const STORAGE_TITLES = {
  filesystem: 'filesystem storage (Berth: embedded SQLite metadata)',
  s3: 'S3 storage on OpenStack Swift s3api (Berth: blobs in S3, embedded SQLite metadata)',
};
const failures: string[] = [];
for (const round of rounds) {
  console.log(`\n## ${STORAGE_TITLES[round.storage]}\n`);
  if (round.skipped) {
    console.log(`skipped: ${round.skipped}`);
    continue;
  }
  console.log(table(rowsFor(round.sizes), round.berth, round.distribution));
  if (round.pull?.ratios) {
    const ratios = round.pull.ratios;
    console.log(
      `pull: ${round.pull.rounds} rounds alternating which registry goes first; Berth/Distribution per round: ` +
        `${ratios.map((r) => r.toFixed(2)).join(' ')} (median ${median(ratios).toFixed(2)})`,
    );
  }
  failures.push(
    ...Object.entries(round.berth?.errors ?? {}).map(([w, e]) => `${round.storage} / Berth / ${w}: ${e}`),
    ...Object.entries(round.distribution?.errors ?? {}).map(
      ([w, e]) => `${round.storage} / Distribution / ${w}: ${e}`,
    ),
  );
}
if (signatures && 'ratio' in signatures) {
  const rps = (values: number[]) => values.map((v) => v.toFixed(0)).join(' ');
  console.log(
    `\n## signature enforcement (Berth, filesystem): manifest GET by tag, wrk -t1 -c${signatures.connections} ` +
      `-d${signatures.seconds}s, ${signatures.rounds} alternating rounds\n\n` +
      `signatures.required=off:     ${signatures.offMedian.toFixed(0)} req/s median (${rps(signatures.offRps)})\n` +
      `signatures.required=enforce: ${signatures.enforceMedian.toFixed(0)} req/s median (${rps(signatures.enforceRps)}), signed image\n` +
      `enforce/off: ${signatures.ratio.toFixed(3)}`,
  );
} else if (signatures) {
  failures.push(`signature enforcement: ${signatures.error}`);
}
if (hotPath && 'rps' in hotPath) {
  console.log(
    `\n## manifest GET hot path (Berth, auth on): SQLite vs PostgreSQL metadata on the filesystem, and on S3 if run, wrk -t1 ` +
      `-c${hotPath.connections} -d${hotPath.seconds}s, median (min–max) of ${hotPath.rounds} alternating rounds\n\n` +
      hotPathTable(hotPath),
  );
} else if (hotPath) {
  failures.push(`hot path: ${hotPath.error}`);
}
if (proxy && 'cold' in proxy) {
  console.log(
    `\n## pull-through cache (filesystem, SQLite): one image pulled as a daemon does (manifest, then blobs ` +
      `3 at a time, digest-verified), ${proxy.rounds} alternating rounds, load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}\n\n` +
      proxyTable(proxy),
  );
} else if (proxy) {
  failures.push(`proxy: ${proxy.error}`);
}
if (replication && 'targets' in replication) {
  console.log(
    `\n## replication (filesystem, SQLite): a manual push policy over ${replication.images} small images in ` +
      `${replication.repositories} repositories (seeded in ${replication.seedSeconds.toFixed(1)} s)\n\n` +
      replicationTable(replication),
  );
} else if (replication) {
  failures.push(`replication: ${replication.error}`);
}
if (failures.length > 0) console.log(`\nFailures:\n${failures.join('\n\n')}`);
if (!tools.distribution) console.log('\nDistribution was not benchmarked: see the message above.');

await writeFile(
  'bench/results.json',
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      quick,
      only: only ?? null,
      machine,
      sizes,
      tools: { distribution: tools.distribution ?? null, wrk: tools.wrk ?? null, problems: tools.problems },
      rounds: rounds.map((round) => ({
        storage: round.storage,
        skipped: round.skipped ?? null,
        fatal: round.fatal ?? null,
        berth: round.berth ?? null,
        distribution: round.distribution ?? null,
        pull: round.pull
          ? {
              method: `median of ${round.pull.rounds} alternating rounds of ${round.pull.concurrency} concurrent digest-verified GETs`,
              ...round.pull,
            }
          : null,
        sizes: round.sizes,
        table: rowsFor(round.sizes).map((row) => ({
          workload: row.label,
          unit: row.unit,
          better: row.better,
          berth: round.berth ? (row.value(round.berth.figures) ?? null) : null,
          distribution: round.distribution ? (row.value(round.distribution.figures) ?? null) : null,
        })),
      })),
      signatures: signatures ?? null,
      hotPath: hotPath ?? null,
      proxy: proxy ?? null,
      replication: replication ?? null,
    },
    null,
    2,
  )}\n`,
);
if (rounds.some((r) => r.fatal) || failures.length > 0) process.exitCode = 1;
