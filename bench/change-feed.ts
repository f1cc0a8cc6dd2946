import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ADMIN_URL, createBenchDatabase, dropBenchDatabase } from './bench-database.js';
import { bufferDigest as digestOf, median, percentile } from './client.js';
import { type Server, startBerth } from './servers.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const REPOSITORY = 'library/feed';
const CHANNEL = 'berth_invalidate';

export interface Lag {
  p50: number;
  p99: number;
  max: number;
}

export interface ChangeFeedRound {
  targetRate: number;
  /** Moves per second achieved (all tags), and the PUTs' latency. */
  movesPerSecond: number;
  putP50: number;
  putP99: number;
  /** Moves of watched tags, and those whose new digest a poller saw before the tag moved again. */
  watchedMoves: number;
  matched: number;
  /** ms from the NOTIFY reaching this process, and from node A's answer to the PUT, to node B showing it. */
  fromNotify: Lag;
  fromAck: Lag;
  /** Median ms between two polls of one watched tag: the resolution of the figures above. */
  pollIntervalMs: number;
  /** Cores busy (CPU seconds per wall second) of node A (writes), node B (reads) and this process. */
  cpu: { writer: number; reader: number; bench: number };
  loadAverage: number[];
}

export interface ChangeFeedBench {
  seconds: number;
  tags: number;
  watched: number;
  writers: number;
  rounds: ChangeFeedRound[];
}

/** utime + stime of a process, in seconds. */
async function cpuSeconds(pid: number | 'self'): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Http {
  (method: string, path: string, body?: Buffer): Promise<{ status: number; digest?: string }>;
  close(): void;
}

function http(base: string, sockets: number): Http {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const target = new URL(base);
  const call = (method: string, path: string, body?: Buffer) =>
    new Promise<{ status: number; digest?: string }>((resolve, reject) => {
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          method,
          path,
          agent,
          headers: {
            accept: OCI_MANIFEST,
            ...(body && { 'content-type': OCI_MANIFEST, 'content-length': body.length }),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const digest = res.headers['docker-content-digest'];
            resolve({ status: res.statusCode ?? 0, ...(typeof digest === 'string' && { digest }) });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return Object.assign(call, { close: () => agent.destroy() });
}

async function image(base: string, seed: string): Promise<Buffer> {
  const call = http(base, 4);
  try {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
    const upload = await call('POST', `/v2/${REPOSITORY}/blobs/uploads/?digest=${digestOf(config)}`, config);
    if (upload.status !== 201) throw new Error(`blob push: HTTP ${upload.status}`);
    return Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: digestOf(config),
          size: config.length,
        },
        layers: [],
      }),
    );
  } finally {
    call.close();
  }
}

const lagOf = (values: number[]): Lag => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0
    ? { p50: Number.NaN, p99: Number.NaN, max: Number.NaN }
    : { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] as number };
};

interface Move {
  tag: number;
  digest: string;
  sentAt: number;
  ackAt: number;
}

async function round(
  a: Server,
  b: Server,
  database: string,
  manifests: Buffer[],
  /** Which of the two images each tag points to now (kept across rounds). */
  current: Map<number, number>,
  options: { rate: number; seconds: number; tags: number; watched: number; writers: number },
): Promise<ChangeFeedRound> {
  const digests = manifests.map(digestOf);
  const writer = http(a.url, options.writers);
  const reader = http(b.url, options.watched);
  const listener = new pg.Client({ connectionString: new URL(`/${database}`, ADMIN_URL).toString() });
  await listener.connect();
  // Tag index → the times this process received a NOTIFY for it.
  const notified = new Map<number, number[]>();
  listener.on('notification', (message) => {
    const at = performance.now();
    try {
      const event = (JSON.parse(message.payload ?? '') as { event?: { kind?: string; tag?: string } }).event;
      const match = event?.kind === 'tag-changed' ? /^t(\d+)$/.exec(event.tag ?? '') : null;
      if (match) notified.set(Number(match[1]), [...(notified.get(Number(match[1])) ?? []), at]);
    } catch {
      // not ours
    }
  });
  await listener.query(`LISTEN ${CHANNEL}`);
  const moves: Move[] = [];
  // What each watched tag's poller saw change, and when.
  const transitions = new Map<number, { digest: string; at: number }[]>();
  const intervals: number[] = [];
  let stop = false;
  try {
    // Every watched tag in node B's cache first.
    for (let t = 0; t < options.watched; t++) await reader('HEAD', `/v2/${REPOSITORY}/manifests/t${t}`);
    const pollers = Array.from({ length: options.watched }, async (_, t) => {
      let last: string | undefined;
      let previous = performance.now();
      const seen: { digest: string; at: number }[] = [];
      transitions.set(t, seen);
      while (!stop) {
        const res = await reader('HEAD', `/v2/${REPOSITORY}/manifests/t${t}`);
        const at = performance.now();
        intervals.push(at - previous);
        previous = at;
        if (res.digest && res.digest !== last) {
          seen.push({ digest: res.digest, at });
          last = res.digest;
        }
      }
    });
    const putTimes: number[] = [];
    const cpuBefore = await Promise.all([cpuSeconds(a.pid), cpuSeconds(b.pid), cpuSeconds('self')]);
    const t0 = performance.now();
    const total = Math.round(options.rate * options.seconds);
    let next = 0;
    const writers = Array.from({ length: options.writers }, async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const slot = t0 + (i * 1000) / options.rate;
        const wait = slot - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const tag = i % options.tags;
        const to = 1 - (current.get(tag) as number);
        current.set(tag, to);
        const sentAt = performance.now();
        const res = await writer('PUT', `/v2/${REPOSITORY}/manifests/t${tag}`, manifests[to]);
        const ackAt = performance.now();
        if (res.status !== 201) throw new Error(`tag move: HTTP ${res.status}`);
        putTimes.push(ackAt - sentAt);
        moves.push({ tag, digest: digests[to] as string, sentAt, ackAt });
      }
    });
    await Promise.all(writers);
    const elapsed = (performance.now() - t0) / 1000;
    const cpuAfter = await Promise.all([cpuSeconds(a.pid), cpuSeconds(b.pid), cpuSeconds('self')]);
    const busy = (i: number) => ((cpuAfter[i] as number) - (cpuBefore[i] as number)) / elapsed;
    // Let the last moves arrive before the pollers stop.
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await Promise.all(pollers);
    const fromNotify: number[] = [];
    const fromAck: number[] = [];
    let watchedMoves = 0;
    for (let t = 0; t < options.watched; t++) {
      const ofTag = moves.filter((m) => m.tag === t).sort((x, y) => x.sentAt - y.sentAt);
      const notes = notified.get(t) ?? [];
      const seen = transitions.get(t) ?? [];
      ofTag.forEach((move, k) => {
        watchedMoves++;
        const until = ofTag[k + 1]?.sentAt ?? Number.POSITIVE_INFINITY;
        const shown = seen.find((s) => s.digest === move.digest && s.at >= move.sentAt && s.at < until);
        if (!shown) return;
        fromAck.push(shown.at - move.ackAt);
        // The k-th NOTIFY of this tag is this move's (one per move, sent after its commit, in commit order).
        const note = notes[k];
        if (note !== undefined) fromNotify.push(shown.at - note);
      });
    }
    putTimes.sort((x, y) => x - y);
    const { loadavg } = await import('node:os');
    return {
      targetRate: options.rate,
      movesPerSecond: moves.length / elapsed,
      putP50: percentile(putTimes, 50),
      putP99: percentile(putTimes, 99),
      watchedMoves,
      matched: fromAck.length,
      fromNotify: lagOf(fromNotify),
      fromAck: lagOf(fromAck),
      pollIntervalMs: median(intervals),
      cpu: { writer: busy(0), reader: busy(1), bench: busy(2) },
      loadAverage: loadavg().map((l) => Number(l.toFixed(1))),
    };
  } finally {
    stop = true;
    writer.close();
    reader.close();
    await listener.end().catch(() => {});
  }
}

export async function benchChangeFeed(options: {
  quick: boolean;
  log: (line: string) => void;
  track: (stop: { stop(): Promise<void> }) => void;
  rate?: number;
}): Promise<ChangeFeedBench> {
  const seconds = options.quick ? 3 : 10;
  const settings = { tags: 200, watched: 8, writers: 32 };
  const rates = [options.rate ?? 1000];
  const rounds = options.quick ? 1 : 3;
  const { name: database, url } = await createBenchDatabase();
  const storage = await mkdtemp(join(tmpdir(), 'berth-bench-feed-'));
  const env = {
    BERTH_METADATA_URL: url,
    BERTH_STORAGE_ROOT: storage,
    BERTH_LIMITS_CONNECTIONS_PER_ADDRESS: '0',
  };
  const nodes: Server[] = [];
  const result: ChangeFeedBench = { seconds, ...settings, rounds: [] };
  try {
    for (let i = 0; i < 2; i++) {
      const node = await startBerth(undefined, env);
      nodes.push(node);
      options.track(node);
    }
    const [a, b] = nodes as [Server, Server];
    const manifests = [await image(a.url, 'one'), await image(a.url, 'two')];
    const put = http(a.url, 16);
    for (let t = 0; t < settings.tags; t++) {
      const res = await put('PUT', `/v2/${REPOSITORY}/manifests/t${t}`, manifests[0]);
      if (res.status !== 201) throw new Error(`tag t${t}: HTTP ${res.status}`);
    }
    put.close();
    const current = new Map(Array.from({ length: settings.tags }, (_, t) => [t, 0]));
    options.log(
      `  change feed: writer ${a.url} (pid ${a.pid}), reader ${b.url} (pid ${b.pid}), ${settings.tags} tags`,
    );
    for (let r = 0; r < rounds; r++) {
      for (const rate of rates) {
        const figures = await round(a, b, database, manifests, current, { rate, seconds, ...settings });
        result.rounds.push(figures);
        options.log(
          `  change feed, target ${rate}/s: ${figures.movesPerSecond.toFixed(0)} moves/s, lag from NOTIFY p50 ` +
            `${figures.fromNotify.p50.toFixed(1)} p99 ${figures.fromNotify.p99.toFixed(1)} ms, from PUT answer p50 ` +
            `${figures.fromAck.p50.toFixed(1)} p99 ${figures.fromAck.p99.toFixed(1)} ms (${figures.matched}/${figures.watchedMoves} seen)`,
        );
      }
    }
  } finally {
    for (const node of nodes.reverse()) await node.stop().catch(() => {});
    await rm(storage, { recursive: true, force: true });
    await dropBenchDatabase(database).catch(() => {});
  }
  return result;
}

export function changeFeedTable(bench: ChangeFeedBench): string {
  const lines = [
    [
      'round',
      'moves/s (target)',
      'PUT p50/p99 ms',
      'lag from NOTIFY p50/p99/max ms',
      'lag from PUT answer p50/p99/max ms',
      'seen',
      'poll ms',
      'cores: A  B  bench',
      'load',
    ],
  ];
  const lag = (l: Lag) => `${l.p50.toFixed(1)} / ${l.p99.toFixed(1)} / ${l.max.toFixed(1)}`;
  bench.rounds.forEach((r, i) => {
    lines.push([
      String(i + 1),
      `${r.movesPerSecond.toFixed(0)} (${r.targetRate})`,
      `${r.putP50.toFixed(1)} / ${r.putP99.toFixed(1)}`,
      lag(r.fromNotify),
      lag(r.fromAck),
      `${r.matched}/${r.watchedMoves}`,
      r.pollIntervalMs.toFixed(1),
      `${r.cpu.writer.toFixed(2)}  ${r.cpu.reader.toFixed(2)}  ${r.cpu.bench.toFixed(2)}`,
      r.loadAverage.join(' '),
    ]);
  });
  const widths = lines[0]?.map((_, i) => Math.max(...lines.map((l) => (l[i] as string).length))) ?? [];
  return lines
    .map((l) =>
      l
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
