/**
 * 1 vs 3 nodes (issue 17): Berth nodes sharing one PostgreSQL database and one Swift S3 bucket, behind nginx
 * configured as deploy/nginx.conf ships (only the upstream addresses and the listen port are rewritten).
 *
 * Workloads, in alternating rounds: manifest GET by tag (wrk, anonymous, public image) straight to one node,
 * through nginx to one node and through nginx to three; small pushes — `concurrency` clients each pushing
 * 4 KiB blobs monolithically (one POST with ?digest=, the bytes stored in S3 and linked in PostgreSQL) — through
 * nginx to one node and to three, into one project and spread over 8 projects (links into one project are
 * counted one at a time under a row lock: the one place Berth serializes pushes on purpose).
 *
 * Where the CPU went is sampled from /proc for every case: the Berth nodes, nginx, this database's
 * PostgreSQL backends, Swift's servers, the load generator (wrk, or this process for pushes), and the whole
 * machine (which other engineers share): cores busy = CPU seconds per wall second.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBenchDatabase, dropBenchDatabase } from './bench-database.js';
import { closedLoop, bufferDigest as digestOf, median } from './client.js';
import { type Server, startBerth } from './servers.js';
import { ensureSwift, freshBucket } from './swift.js';
import { runWrk } from './wrk.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const REPOSITORY = 'library/hot';
const NGINX_EXAMPLE = 'deploy/nginx.conf';

export const NODE_CASES = [
  'GET, direct to 1 node',
  'GET, nginx → 1 node',
  'GET, nginx → 3 nodes',
  'push, nginx → 1 node, 1 project',
  'push, nginx → 3 nodes, 1 project',
  'push, nginx → 3 nodes, 8 projects',
] as const;
export type NodeCase = (typeof NODE_CASES)[number];

/** Cores busy (CPU seconds per wall second) by component during a run. */
export type CpuShare = Record<'berth' | 'nginx' | 'postgres' | 'swift' | 'client' | 'machine', number>;

export interface NodesRun {
  perSecond: number;
  p50: number;
  p99: number;
  cpu: CpuShare;
}

export interface NodesBench {
  rounds: number;
  seconds: number;
  getConnections: number;
  pushConcurrency: number;
  runs: Partial<Record<NodeCase, NodesRun[]>>;
}

async function call(url: string, method: string, body?: Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method, headers, ...(body && { body }) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: HTTP ${res.status}: ${text}`);
  return text;
}

async function pushImage(base: string): Promise<void> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }),
  );
  const layer = randomBytes(4096);
  for (const blob of [config, layer]) {
    await call(`${base}/v2/${REPOSITORY}/blobs/uploads/?digest=${digestOf(blob)}`, 'POST', blob, {
      'content-type': 'application/octet-stream',
    });
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: digestOf(config),
      size: config.length,
    },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: digestOf(layer),
        size: layer.length,
      },
    ],
  });
  await call(`${base}/v2/${REPOSITORY}/manifests/latest`, 'PUT', Buffer.from(manifest), {
    'content-type': OCI_MANIFEST,
  });
}

// --- nginx ------------------------------------------------------------------------------------------------------

interface Nginx {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** nginx with the shipped site config, its upstream listing `nodes`; one worker per core, as `auto` gives. */
async function startNginx(nodes: Server[]): Promise<Nginx> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-nginx-'));
  const port = await freePort();
  const site = (await readFile(NGINX_EXAMPLE, 'utf8'))
    .replace(/^\s*server 127\.0\.0\.1:\d+ [^;]*;\n/gm, '')
    .replace(
      /upstream berth \{\n/,
      (head) =>
        `${head}${nodes.map((n) => `    server ${new URL(n.url).host} max_fails=2 fail_timeout=5s;\n`).join('')}`,
    )
    .replace(/listen 8443;/, `listen 127.0.0.1:${port};`);
  if (!site.includes(new URL(nodes[0]?.url ?? 'http://x').host))
    throw new Error('nginx: upstream not rewritten');
  await writeFile(join(dir, 'berth.conf'), site);
  await writeFile(
    join(dir, 'nginx.conf'),
    [
      'daemon off;',
      'user root;',
      'worker_processes auto;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log warn;`,
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
      `  include ${dir}/berth.conf;`,
      '}',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const up = await fetch(`${url}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
    if (up === 200) break;
    if (i > 200 || child.exitCode !== null) throw new Error(`nginx did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    pid: child.pid as number,
    async stop() {
      child.kill('SIGQUIT');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// --- CPU accounting ----------------------------------------------------------------------------------------------

const TICK = 100; // USER_HZ

async function processTable(): Promise<{ pid: number; ppid: number; ticks: number; args: string }[]> {
  const out: { pid: number; ppid: number; ticks: number; args: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      out.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
        args,
      });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** cutime + cstime of this process: the CPU of its children that ended and were waited for. */
async function childrenTicks(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[13]) + Number(fields[14]);
}

async function machineTicks(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] as string;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
}

interface CpuProbe {
  stop(): Promise<CpuShare>;
}

/** Starts counting: who is who is decided from the process table at the end (backends come and go). */
async function cpuProbe(who: {
  berth: number[];
  nginx: number;
  database: string;
  client: 'wrk' | 'self';
}): Promise<CpuProbe> {
  const before = new Map((await processTable()).map((p) => [p.pid, p.ticks]));
  const machineBefore = await machineTicks();
  const selfBefore = process.cpuUsage();
  const childrenBefore = await childrenTicks();
  const t0 = performance.now();
  return {
    async stop() {
      const seconds = (performance.now() - t0) / 1000;
      const table = await processTable();
      const delta = (p: { pid: number; ticks: number }) => (p.ticks - (before.get(p.pid) ?? 0)) / TICK;
      const sum = (keep: (p: { pid: number; ppid: number; args: string }) => boolean) =>
        table.filter(keep).reduce((total, p) => total + delta(p), 0) / seconds;
      const self = process.cpuUsage(selfBefore);
      return {
        berth: sum((p) => who.berth.includes(p.pid)),
        nginx: sum((p) => p.pid === who.nginx || p.ppid === who.nginx),
        // Backends name their database in their title: "postgres: 15/main: postgres <db> 127.0.0.1(…) …".
        postgres: sum((p) => p.args.startsWith('postgres:') && p.args.includes(` ${who.database} `)),
        swift: sum((p) => /\/swift-(proxy|object|container|account)-server /.test(p.args)),
        // wrk has exited by now: its CPU is in this process's reaped children's times.
        client:
          who.client === 'wrk'
            ? ((await childrenTicks()) - childrenBefore) / TICK / seconds
            : (self.user + self.system) / 1e6 / seconds,
        machine: ((await machineTicks()) - machineBefore) / TICK / seconds,
      };
    },
  };
}

// --- pushes ----------------------------------------------------------------------------------------------------

/** `concurrency` clients pushing fresh 4 KiB blobs for `seconds`: pushes per second and latency. */
async function pushStorm(
  base: string,
  options: { concurrency: number; seconds: number; projects: number },
): Promise<{ perSecond: number; p50: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const target = new URL(base);
  const pushOne = (repository: string, blob: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: `/v2/${repository}/blobs/uploads/?digest=${digestOf(blob)}`,
          agent,
          headers: { 'content-type': 'application/octet-stream', 'content-length': blob.length },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 201 ? resolve() : reject(new Error(`push: HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(blob);
    });
  try {
    return await closedLoop(options, (client) =>
      pushOne(
        `${options.projects > 1 ? `p${client % options.projects}` : 'library'}/push-${client % 8}`,
        randomBytes(4096),
      ),
    );
  } finally {
    agent.destroy();
  }
}

// --- the bench ---------------------------------------------------------------------------------------------------

export async function benchNodes(options: {
  quick: boolean;
  log: (line: string) => void;
  wrk: string;
  track: (stop: { stop(): Promise<void> }) => void;
}): Promise<NodesBench> {
  const problem = ensureSwift();
  if (problem) throw new Error(problem);
  const rounds = options.quick ? 1 : 3;
  const seconds = options.quick ? 3 : 8;
  const getConnections = 64;
  const pushConcurrency = 32;
  const result: NodesBench = { rounds, seconds, getConnections, pushConcurrency, runs: {} };
  const { name: database, url } = await createBenchDatabase();
  const bucket = await freshBucket('nodes');
  const env = {
    BERTH_METADATA_URL: url.toString(),
    // Every request reaches a node from nginx's one address.
    BERTH_LIMITS_CONNECTIONS_PER_ADDRESS: '0',
    BERTH_LIMITS_UPLOADS_PER_USER: '0',
  };
  const stoppers: { stop(): Promise<void> }[] = [];
  try {
    const nodes: Server[] = [];
    for (let i = 0; i < 3; i++) {
      // Each node removes the bucket when it stops (the first to stop does; the others' attempts fail quietly).
      const node = await startBerth(bucket, env);
      nodes.push(node);
      stoppers.push(node);
      options.track(node);
    }
    await pushImage(nodes[0]?.url as string);
    const one = await startNginx(nodes.slice(0, 1));
    stoppers.push(one);
    options.track(one);
    const three = await startNginx(nodes);
    stoppers.push(three);
    options.track(three);
    options.log(
      `  nodes: ${nodes.map((n) => `${n.url} (pid ${n.pid})`).join(', ')}; nginx → 1 at ${one.url}, → 3 at ${three.url}`,
    );
    const runCase = async (which: NodeCase): Promise<NodesRun> => {
      const isGet = which.startsWith('GET');
      const front = which === 'GET, direct to 1 node' ? undefined : which.includes('3 nodes') ? three : one;
      const base = front?.url ?? (nodes[0]?.url as string);
      const berth = (which.includes('3 nodes') ? nodes : nodes.slice(0, 1)).map((n) => n.pid);
      const probe = await cpuProbe({
        berth,
        nginx: front?.pid ?? -1,
        database,
        client: isGet ? 'wrk' : 'self',
      });
      let figures: { perSecond: number; p50: number; p99: number };
      if (isGet) {
        const run = await runWrk(options.wrk, `${base}/v2/${REPOSITORY}/manifests/latest`, {
          connections: getConnections,
          seconds,
          headers: { accept: OCI_MANIFEST },
        });
        if (run.non2xx > 0) throw new Error(`${run.command}: ${run.non2xx} answers were not 2xx`);
        figures = { perSecond: run.requestsPerSecond, p50: run.p50, p99: run.p99 };
      } else {
        figures = await pushStorm(base, {
          concurrency: pushConcurrency,
          seconds,
          projects: which.includes('8 projects') ? 8 : 1,
        });
      }
      const cpu = await probe.stop();
      return { ...figures, cpu };
    };
    // Warm up every node and both proxies (JIT, caches, pools) before anything counts.
    for (const which of ['GET, nginx → 3 nodes', 'push, nginx → 3 nodes, 1 project'] as const) {
      await runCase(which);
    }
    for (let round = 0; round < rounds; round++) {
      for (const which of round % 2 === 0 ? NODE_CASES : [...NODE_CASES].reverse()) {
        const run = await runCase(which);
        result.runs[which] = [...(result.runs[which] ?? []), run];
        options.log(
          `  nodes, ${which}: ${run.perSecond.toFixed(0)}/s, p99 ${run.p99.toFixed(1)} ms; cores busy: ` +
            Object.entries(run.cpu)
              .map(([k, v]) => `${k} ${v.toFixed(2)}`)
              .join(', '),
        );
      }
    }
  } finally {
    for (const s of stoppers.reverse()) await s.stop().catch(() => {});
    await dropBenchDatabase(database).catch(() => {});
  }
  return result;
}

export function nodesTable(bench: NodesBench): string {
  const lines = [
    [
      'case',
      'req/s or pushes/s: median (min–max)',
      'p99 ms',
      'per Berth CPU-s',
      'cores busy: berth  nginx  postgres  swift  client  machine',
    ],
  ];
  const medianOf = (runs: NodesRun[], pick: (r: NodesRun) => number) => median(runs.map(pick));
  for (const which of NODE_CASES) {
    const runs = bench.runs[which];
    if (!runs?.length) continue;
    const rates = runs.map((r) => r.perSecond);
    const cpu = (key: keyof CpuShare) =>
      medianOf(runs, (r) => r.cpu[key])
        .toFixed(2)
        .padStart(5);
    lines.push([
      which,
      `${median(rates).toFixed(0)} (${Math.min(...rates).toFixed(0)}–${Math.max(...rates).toFixed(0)})`,
      medianOf(runs, (r) => r.p99).toFixed(1),
      medianOf(runs, (r) => r.perSecond / r.cpu.berth).toFixed(0),
      `${cpu('berth')}  ${cpu('nginx')}  ${cpu('postgres')}     ${cpu('swift')}  ${cpu('client')}  ${cpu('machine')}`,
    ]);
  }
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
