/**
 * The large-pull comparison. Its figure moves the most from run to run on a shared 2-core machine, so unlike
 * the other workloads it is not measured once per registry inside its suite: both registries run side by
 * side with the same large blob, and short rounds alternate between them (Berth then Distribution, then the
 * other way round), so that noise hits both alike. Each registry's figure is the median of its rounds.
 */
import { Client, getHashed, locationOf, MB, median, now, pathOf, patternStream } from './client.js';
import type { Server } from './servers.js';
import type { Large } from './workloads.js';

export interface PullFigures {
  /** Median over the rounds, MB/s. */
  mbps: number;
  min: number;
  max: number;
  /** Each round's MB/s, in order. */
  samples: number[];
}

export interface PullComparison {
  rounds: number;
  concurrency: number;
  berth: PullFigures;
  distribution?: PullFigures;
  /** Berth/Distribution of each round (the two pulls of a round ran back to back). */
  ratios?: number[];
}

const REPOSITORY = 'bench/large';

export async function pushBlob(server: Server, blob: Large): Promise<void> {
  const client = new Client(server.url);
  try {
    const start = await client.expect('start upload', 202, 'POST', `/v2/${REPOSITORY}/blobs/uploads/`);
    const location = locationOf(client, start, 'start upload');
    location.searchParams.set('digest', blob.digest);
    await client.expect('finish upload (PUT with body)', 201, 'PUT', pathOf(location), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': blob.size },
      body: () => patternStream(blob.size, blob.pattern),
    });
  } finally {
    client.close();
  }
}

/**
 * `concurrency` simultaneous GETs of the blob, each digest-verified; returns MB/s. The client reads each body
 * into one reused buffer and hashes it in place (see getHashed): the machine's cores are shared with the server.
 */
async function pullOnce(server: Server, blob: Large, concurrency: number): Promise<number> {
  const path = `/v2/${REPOSITORY}/blobs/${blob.digest}`;
  const t0 = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const reply = await getHashed(server.url, path);
      if (reply.status !== 200 || reply.bytes !== blob.size || reply.digest !== blob.digest) {
        const body = reply.body ? ` body ${JSON.stringify(reply.body.toString('utf8', 0, 500))}` : '';
        throw new Error(
          `GET ${server.url}${path}: HTTP ${reply.status}, ${reply.bytes} bytes with digest ${reply.digest}${body}`,
        );
      }
    }),
  );
  return (concurrency * blob.size) / MB / ((now() - t0) / 1000);
}

function figures(samples: number[]): PullFigures {
  return { mbps: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples };
}

/**
 * Pushes the blob to each registry, pulls it once from each unmeasured (warm-up), then runs `rounds` rounds,
 * each one pull from each registry, alternating which goes first.
 */
export async function comparePulls(options: {
  berth: Server;
  distribution?: Server;
  blob: Large;
  rounds: number;
  concurrency: number;
  log: (line: string) => void;
  interrupted?: () => boolean;
}): Promise<PullComparison> {
  const { berth, distribution, blob, rounds, concurrency, log } = options;
  const servers = distribution ? [berth, distribution] : [berth];
  for (const server of servers) await pushBlob(server, blob);
  for (const server of servers) await pullOnce(server, blob, concurrency);
  const samples = new Map<Server, number[]>(servers.map((s) => [s, []]));
  for (let round = 0; round < rounds; round++) {
    if (options.interrupted?.()) throw new Error('interrupted');
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    const line: string[] = [];
    for (const server of order) {
      const mbps = await pullOnce(server, blob, concurrency);
      samples.get(server)?.push(mbps);
      line.push(`${server.name} ${mbps.toFixed(0)} MB/s`);
    }
    log(`  pull round ${round + 1}/${rounds}: ${line.join(', ')}`);
  }
  const berthSamples = samples.get(berth) ?? [];
  const result: PullComparison = { rounds, concurrency, berth: figures(berthSamples) };
  if (distribution) {
    const distributionSamples = samples.get(distribution) ?? [];
    result.distribution = figures(distributionSamples);
    result.ratios = berthSamples.map((b, i) => b / (distributionSamples[i] as number));
  }
  return result;
}
