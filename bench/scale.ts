/**
 * The scale workloads of issue 17, run by `npm run bench -- --only=<name>`: `listings` (catalog, tag and API
 * listings at 1k/10k/100k), `nodes` (1 vs 3 nodes behind nginx on PostgreSQL + Swift S3) and `change-feed`
 * (cache invalidation lag under 1,000 tag moves per second). Berth alone: Distribution has no counterpart.
 * Each prints its table with the load average and writes bench/results-scale-<name>.json.
 * `--db=sqlite|postgres` limits listings to one database; `--explain` adds the listing queries' plans.
 */
import { writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { benchListings, listingsTable } from './listings.js';

export const SCALE_WORKLOADS = ['listings'] as const;
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
  }
  await writeFile(
    `bench/results-scale-${which}.json`,
    `${JSON.stringify({ date: new Date().toISOString(), loadAverage: { start: started, end: load() }, result }, null, 2)}\n`,
  );
}
