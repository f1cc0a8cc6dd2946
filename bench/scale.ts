/**
 * The scale workloads of issue 17, run by `npm run bench -- --only=<name>`: `listings` (catalog, tag and API
 * listings at 1k/10k/100k), `nodes` (1 vs 3 nodes behind nginx on PostgreSQL + Swift S3) and `change-feed`
 * (cache invalidation lag under 1,000 tag moves per second). Berth alone: Distribution has no counterpart.
 * Each prints its table with the load average and writes bench/results-scale-<name>.json.
 * `--db=sqlite|postgres` limits listings to one database; `--explain` adds the listing queries' plans;
 * `--rate=N` sets the change feed's target tag moves per second (1000). `s3-push`: small pushes to one node on
 * Swift S3, pushes/s and S3 requests per push (s3-push.ts; `--baseline=<build dir>` compares another build,
 * `--db=sqlite|postgres`). `s3-pull`: large pulls from Swift S3, streamed and redirected, against Distribution,
 * with CPU per GiB, and the RSS under 200 concurrent streamed pulls (s3-pull.ts; `--baseline=<build dir>` too).
 */
import { writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { benchChangeFeed, changeFeedTable } from './change-feed.js';
import { benchListings, listingsTable } from './listings.js';
import { benchNodes, nodesTable } from './nodes.js';
import { benchS3Pull, s3PullTable } from './s3-pull.js';
import { benchS3Push, s3PushTable } from './s3-push.js';
import { ensureTools } from './servers.js';

export const SCALE_WORKLOADS = ['listings', 'nodes', 'change-feed', 's3-push', 's3-pull'] as const;
export type ScaleWorkload = (typeof SCALE_WORKLOADS)[number];

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

export async function runScale(
  which: ScaleWorkload,
  options: { quick: boolean; log: (line: string) => void; flag: (name: string) => string | undefined },
): Promise<void> {
  const started = load();
  const header = (title: string) =>
    `\n## ${title}\n${availableParallelism()} cores, Node ${process.version}, load average at start ${started}, at end ${load()}\n`;
  let result: unknown;
  // Servers and proxies still running, stopped on the way out if interrupted.
  const running = new Set<{ stop(): Promise<void> }>();
  process.once('SIGINT', () => {
    void Promise.allSettled([...running].map((r) => r.stop())).finally(() => process.exit(130));
  });
  if (which === 'listings') {
    const db = options.flag('db');
    if (db !== undefined && db !== 'sqlite' && db !== 'postgres')
      throw new Error(`--db=${db}: expected sqlite or postgres`);
    const bench = await benchListings({
      quick: options.quick,
      log: options.log,
      ...(db && { databases: [db] }),
      explain: process.argv.includes('--explain'),
    });
    console.log(
      `${header(`large listings (Berth, filesystem storage): medians of ${bench.repeat} requests (min–max)`)}\n${listingsTable(bench)}`,
    );
    for (const [metadata, plans] of Object.entries(bench.plans))
      console.log(`\n### query plans, ${metadata}, at ${bench.sizes.at(-1)}\n\n${plans}`);
    result = bench;
  } else if (which === 'nodes') {
    const { wrk, problems } = ensureTools();
    if (!wrk) throw new Error(`wrk is needed: ${problems.join('; ')}`);
    const bench = await benchNodes({
      quick: options.quick,
      log: options.log,
      wrk,
      track: (r) => running.add(r),
    });
    console.log(
      `${header(
        `1 vs 3 nodes (PostgreSQL + Swift S3, nginx as deploy/nginx.conf): ${bench.rounds} alternating rounds of ` +
          `${bench.seconds} s; GETs: wrk -t1 -c${bench.getConnections} on a manifest by tag; pushes: ` +
          `${bench.pushConcurrency} clients, 4 KiB blobs, monolithic POST`,
      )}\n${nodesTable(bench)}`,
    );
    result = bench;
  } else if (which === 's3-push') {
    const db = options.flag('db');
    if (db !== undefined && db !== 'sqlite' && db !== 'postgres')
      throw new Error(`--db=${db}: expected sqlite or postgres`);
    const baseline = options.flag('baseline');
    const bench = await benchS3Push({
      quick: options.quick,
      log: options.log,
      track: (r) => running.add(r),
      ...(baseline && { baseline }),
      ...(db && { metadata: db }),
    });
    console.log(
      `${header(
        `small pushes to Swift S3 (one node, ${bench.metadata}): ${bench.concurrency} clients, ${bench.blobBytes} B blobs, ` +
          `${bench.rounds} alternating rounds of ${bench.seconds} s`,
      )}\n${s3PushTable(bench)}`,
    );
    result = bench;
  } else if (which === 's3-pull') {
    const baseline = options.flag('baseline');
    const phase = options.flag('phase');
    if (phase !== undefined && phase !== 'throughput' && phase !== 'memory')
      throw new Error(`--phase=${phase}: expected throughput or memory`);
    const { distribution } = ensureTools();
    const bench = await benchS3Pull({
      quick: options.quick,
      log: options.log,
      track: (r) => running.add(r),
      ...(distribution && { distribution }),
      ...(baseline && { baseline }),
      ...(phase && { phase }),
    });
    console.log(
      `${header(
        `large pulls from Swift S3 (embedded SQLite): ${bench.blobMiB} MiB, ${bench.concurrency} concurrent digest-verified ` +
          `GETs, ${bench.rounds} alternating rounds; redirect: the client follows the 307 to Swift`,
      )}\n${s3PullTable(bench)}`,
    );
    result = bench;
  } else if (which === 'change-feed') {
    const rate = options.flag('rate');
    if (rate !== undefined && !/^[1-9]\d*$/.test(rate))
      throw new Error(`--rate=${rate}: expected moves per second`);
    const bench = await benchChangeFeed({
      quick: options.quick,
      log: options.log,
      track: (r) => running.add(r),
      ...(rate && { rate: Number(rate) }),
    });
    console.log(
      `${header(
        `change feed: tag moves on node A (PostgreSQL, ${bench.writers} writers over ${bench.tags} tags, ${bench.seconds} s ` +
          `per round), ${bench.watched} of them polled on node B`,
      )}\n${changeFeedTable(bench)}`,
    );
    result = bench;
  }
  await writeFile(
    `bench/results-scale-${which}.json`,
    `${JSON.stringify({ date: new Date().toISOString(), loadAverage: { start: started, end: load() }, result }, null, 2)}\n`,
  );
}
