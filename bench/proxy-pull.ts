/**
 * Pull-through caching, measured side by side (issue 13, "Speed"): an image of several large layers in an
 * upstream Distribution, pulled
 *  - cold: through a Berth proxy project that holds nothing yet (a fresh Berth each round) vs directly from
 *    the upstream (goal ≥ 0.9×), with Distribution's proxy mode, cold too, in the same rounds; then again
 *    with the upstream behind a 1 Gbit/s line (link-throttle.ts), as a remote upstream is;
 *  - warm: through the Berth proxy project once it holds the image vs through Distribution's own proxy mode
 *    (`proxy.remoteurl`) once that holds it (goal ≥ 1×).
 * A pull is what a daemon does: the manifest by tag, then the config and layers, 3 at a time (Docker's
 * max-concurrent-downloads), each on its own connection, digest-verified by the client. Rounds alternate
 * which side goes first; each figure is the median of its rounds, with the min and max.
 */
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  bufferDigest,
  Client,
  getHashed,
  locationOf,
  MB,
  MiB,
  median,
  newPattern,
  now,
  pathOf,
  patternDigest,
  patternStream,
} from './client.js';
import { startThrottle } from './link-throttle.js';
import { type Server, startBerth, startDistribution } from './servers.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
/** Docker's default max-concurrent-downloads. */
const LAYERS_AT_ONCE = 3;
const PROJECT = 'hub';
const REPOSITORY = 'bench/app';
const TAG = 'v1';
/** 1 Gbit/s: the line to a remote upstream in the link rounds. */
const LINK_BYTES_PER_SECOND = 125 * MB;

interface Blob {
  digest: string;
  size: number;
  /** Layers: `size` bytes of this 1 MiB pattern repeated. */
  pattern?: Buffer;
  /** The config: these bytes. */
  bytes?: Buffer;
}

export interface Image {
  manifest: Buffer;
  digest: string;
  blobs: Blob[];
  /** Config and layers. */
  bytes: number;
}

/** An OCI image whose layers have these sizes (MiB), each its own random pattern. */
export function makeImage(layersMiB: number[]): Image {
  const layers: Blob[] = layersMiB.map((mib) => {
    const pattern = newPattern();
    const size = mib * MiB;
    return { digest: patternDigest(size, pattern), size, pattern };
  });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    }),
  );
  const configBlob: Blob = { digest: bufferDigest(config), size: config.length, bytes: config };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configBlob.digest, size: configBlob.size },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
    }),
  );
  const blobs = [configBlob, ...layers];
  return {
    manifest,
    digest: bufferDigest(manifest),
    blobs,
    bytes: blobs.reduce((sum, b) => sum + b.size, 0),
  };
}

/** Monolithic uploads of every blob, then the manifest under its tag. */
export async function pushImage(
  server: Server,
  repository: string,
  tag: string,
  image: Image,
): Promise<void> {
  const client = new Client(server.url);
  try {
    for (const blob of image.blobs) {
      const start = await client.expect('start upload', 202, 'POST', `/v2/${repository}/blobs/uploads/`);
      const location = locationOf(client, start, 'start upload');
      location.searchParams.set('digest', blob.digest);
      const body = blob.bytes ?? (() => patternStream(blob.size, blob.pattern as Buffer));
      await client.expect('finish upload (PUT with body)', 201, 'PUT', pathOf(location), {
        headers: { 'content-type': 'application/octet-stream', 'content-length': blob.size },
        body,
      });
    }
    await client.expect('manifest PUT', 201, 'PUT', `/v2/${repository}/manifests/${tag}`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: image.manifest,
    });
  } finally {
    client.close();
  }
}

/** Pulls the image as a daemon would, verifying every byte; returns MB/s over the whole pull. */
export async function pullImage(server: Server, repository: string, image: Image): Promise<number> {
  const client = new Client(server.url);
  const t0 = now();
  try {
    const manifest = await client.expect(
      `manifest GET from ${server.name}`,
      200,
      'GET',
      `/v2/${repository}/manifests/${TAG}`,
      { headers: { accept: OCI_MANIFEST } },
    );
    if (!manifest.body || bufferDigest(manifest.body) !== image.digest) {
      throw new Error(`${server.name}: the manifest of ${repository}:${TAG} is not the one pushed`);
    }
    const queue = [...image.blobs];
    await Promise.all(
      Array.from({ length: LAYERS_AT_ONCE }, async () => {
        for (let blob = queue.shift(); blob; blob = queue.shift()) {
          const path = `/v2/${repository}/blobs/${blob.digest}`;
          const reply = await getHashed(server.url, path);
          if (reply.status !== 200 || reply.bytes !== blob.size || reply.digest !== blob.digest) {
            const body = reply.body ? ` body ${JSON.stringify(reply.body.toString('utf8', 0, 500))}` : '';
            throw new Error(
              `GET ${server.url}${path} (${server.name}): HTTP ${reply.status}, ${reply.bytes} bytes with digest ${reply.digest}${body}`,
            );
          }
        }
      }),
    );
  } finally {
    client.close();
  }
  return (image.bytes + image.manifest.length) / MB / ((now() - t0) / 1000);
}

/**
 * Berth with auth on (the API needs an administrator; /v2 lets anyone pull a public project without a token, so
 * the pulls carry no credentials, as Distribution's do not).
 */
export function startBerthWithApi(): Promise<Server> {
  return startBerth(undefined, { BERTH_AUTH_ENABLED: 'true', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD });
}

export const ADMIN_PASSWORD = 'bench proxy admin password';
export const ADMIN_BASIC = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;

/** A public Berth project bound to `upstream`. */
export async function createProxyProject(berth: Server, name: string, upstream: string): Promise<void> {
  const res = await fetch(new URL('/api/v1/projects', berth.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: ADMIN_BASIC },
    body: JSON.stringify({ name, public: true, proxy: { url: upstream } }),
  });
  if (res.status !== 201) {
    throw new Error(`creating proxy project ${name} on Berth: HTTP ${res.status} ${await res.text()}`);
  }
}

/** Lets the caches finish writing what a pull fetched (fills commit after the last byte reaches the client). */
async function settle(): Promise<void> {
  await sleep(300);
  spawnSync('sync');
}

export interface Figures {
  mbps: number;
  min: number;
  max: number;
  samples: number[];
}

function figures(samples: number[]): Figures {
  return { mbps: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples };
}

export interface ProxyBench {
  imageMiB: number;
  layersMiB: number[];
  rounds: number;
  cold: { berth: Figures; direct: Figures; ratios: number[]; ratio: number };
  /** Distribution's proxy mode, cold, in the same rounds (its pull against the same direct pull). */
  coldDistribution?: { figures: Figures; ratios: number[]; ratio: number };
  /** Cold again with the upstream behind a 1 Gbit/s line (link-throttle.ts), direct pulls through it too. */
  link?: { berth: Figures; direct: Figures; ratios: number[]; ratio: number };
  warm?: { berth: Figures; distribution: Figures; ratios: number[]; ratio: number };
}

export interface ProxyBenchOptions {
  distribution: string;
  quick: boolean;
  rounds?: number;
  log: (line: string) => void;
  /** Registers a server to stop if the bench is interrupted. */
  track: (server: Server) => void;
  interrupted: () => boolean;
}

export async function benchProxy(options: ProxyBenchOptions): Promise<ProxyBench> {
  const { log, quick } = options;
  const layersMiB = quick ? [6, 4, 3, 2, 1] : [96, 64, 48, 32, 16];
  const rounds = options.rounds ?? (quick ? 1 : 5);
  const image = makeImage(layersMiB);
  const stoppers: Server[] = [];
  const start = async (server: Promise<Server>) => {
    const started = await server;
    stoppers.push(started);
    options.track(started);
    return started;
  };
  const stop = async (server: Server) => {
    await server.stop();
    stoppers.splice(stoppers.indexOf(server), 1);
  };
  /** Rounds of cold pulls through a fresh Berth (and Distribution) proxying `upstreamUrl` vs from `direct`. */
  const coldRounds = async (direct: Server, upstreamUrl: string, label: string) => {
    const proxied = `${PROJECT}/${REPOSITORY}`;
    const samples = { berth: [] as number[], direct: [] as number[], distribution: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      if (options.interrupted()) throw new Error('interrupted');
      const berth = await start(startBerthWithApi());
      await createProxyProject(berth, PROJECT, upstreamUrl);
      const mirror = await start(startDistribution(options.distribution, undefined, upstreamUrl));
      const sides = [
        { name: 'Berth proxy', run: () => pullImage(berth, proxied, image), into: samples.berth },
        { name: 'direct', run: () => pullImage(direct, REPOSITORY, image), into: samples.direct },
        {
          name: 'Distribution proxy',
          run: () => pullImage(mirror, REPOSITORY, image),
          into: samples.distribution,
        },
      ];
      const line: string[] = [];
      const turned = [...sides.slice(round % sides.length), ...sides.slice(0, round % sides.length)];
      for (const side of turned) {
        const mbps = await side.run();
        side.into.push(mbps);
        line.push(`${side.name} ${mbps.toFixed(0)} MB/s`);
        await settle();
      }
      log(`  proxy ${label} round ${round + 1}/${rounds}: ${line.join(', ')}`);
      await stop(berth);
      await stop(mirror);
    }
    const ratios = samples.berth.map((b, i) => b / (samples.direct[i] as number));
    const theirs = samples.distribution.map((d, i) => d / (samples.direct[i] as number));
    return {
      summary: {
        berth: figures(samples.berth),
        direct: figures(samples.direct),
        ratios,
        ratio: median(ratios),
      },
      distribution: { figures: figures(samples.distribution), ratios: theirs, ratio: median(theirs) },
    };
  };
  try {
    const upstream = await start(startDistribution(options.distribution));
    log(
      `bench: proxy upstream ${upstream.name} at ${upstream.url}; pushing ${(image.bytes / MiB).toFixed(0)} MiB image`,
    );
    await pushImage(upstream, REPOSITORY, TAG, image);
    // Warm the upstream's page cache once, so every round reads it from memory.
    await pullImage(upstream, REPOSITORY, image);

    // Cold: a fresh Berth and a fresh Distribution in proxy mode per round, so nothing is cached; the order of
    // the sides turns each round. Then the same through a relay passing the upstream's answers at 1 Gbit/s
    // (a real upstream is a remote line, not loopback), Berth against a direct pull through that line.
    const cold = await coldRounds(upstream, upstream.url, 'cold');
    const throttle = await startThrottle(Number(new URL(upstream.url).port), LINK_BYTES_PER_SECOND);
    let link: Awaited<ReturnType<typeof coldRounds>>;
    try {
      link = await coldRounds({ ...upstream, url: throttle.url }, throttle.url, 'cold, 1 Gbit/s link');
    } finally {
      await throttle.close();
    }
    const result: ProxyBench = {
      imageMiB: image.bytes / MiB,
      layersMiB,
      rounds,
      cold: cold.summary,
      coldDistribution: cold.distribution,
      link: link.summary,
    };

    // Warm: both caches filled by one pull each (and a second, unmeasured, to be sure), then rounds.
    const proxied = `${PROJECT}/${REPOSITORY}`;
    const berth = await start(startBerthWithApi());
    await createProxyProject(berth, PROJECT, upstream.url);
    const mirror = await start(startDistribution(options.distribution, undefined, upstream.url));
    const sides = [
      { name: 'Berth proxy (warm)', run: () => pullImage(berth, proxied, image), samples: [] as number[] },
      {
        name: 'Distribution proxy (warm)',
        run: () => pullImage(mirror, REPOSITORY, image),
        samples: [] as number[],
      },
    ];
    for (const side of sides) {
      await side.run();
      await settle();
      await side.run();
    }
    await settle();
    for (let round = 0; round < rounds; round++) {
      if (options.interrupted()) throw new Error('interrupted');
      const line: string[] = [];
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
        const mbps = await side.run();
        side.samples.push(mbps);
        line.push(`${side.name} ${mbps.toFixed(0)} MB/s`);
      }
      log(`  proxy warm round ${round + 1}/${rounds}: ${line.join(', ')}`);
    }
    const [ours, theirs] = sides.map((s) => s.samples) as [number[], number[]];
    const warmRatios = ours.map((b, i) => b / (theirs[i] as number));
    result.warm = {
      berth: figures(ours),
      distribution: figures(theirs),
      ratios: warmRatios,
      ratio: median(warmRatios),
    };
    return result;
  } finally {
    await Promise.allSettled(stoppers.map((s) => s.stop()));
  }
}

const range = (f: Figures) => `${f.mbps.toFixed(0)} MB/s (${f.min.toFixed(0)}–${f.max.toFixed(0)})`;

export function proxyTable(bench: ProxyBench): string {
  const rows = [
    ['pull', 'Berth proxy project', 'baseline', 'Berth/baseline (median of rounds)'],
    [
      `cold, ${bench.imageMiB.toFixed(0)} MiB in ${bench.layersMiB.length} layers`,
      range(bench.cold.berth),
      `direct from upstream: ${range(bench.cold.direct)}`,
      `${bench.cold.ratio.toFixed(2)}× (${bench.cold.ratios.map((r) => r.toFixed(2)).join(' ')})`,
    ],
  ];
  if (bench.coldDistribution) {
    const theirs = bench.coldDistribution;
    rows.push([
      '  (Distribution proxy, cold)',
      range(theirs.figures),
      'the same direct pulls',
      `${theirs.ratio.toFixed(2)}× (${theirs.ratios.map((r) => r.toFixed(2)).join(' ')})`,
    ]);
  }
  if (bench.link) {
    rows.push([
      'cold, upstream on a 1 Gbit/s line',
      range(bench.link.berth),
      `direct through that line: ${range(bench.link.direct)}`,
      `${bench.link.ratio.toFixed(2)}× (${bench.link.ratios.map((r) => r.toFixed(2)).join(' ')})`,
    ]);
  }
  if (bench.warm) {
    rows.push([
      'warm',
      range(bench.warm.berth),
      `Distribution proxy: ${range(bench.warm.distribution)}`,
      `${bench.warm.ratio.toFixed(2)}× (${bench.warm.ratios.map((r) => r.toFixed(2)).join(' ')})`,
    ]);
  }
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
