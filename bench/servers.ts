/**
 * The two registries under test, each a child process on loopback with a fresh temporary data directory:
 * Berth from dist/ (as users run it) and CNCF Distribution (Debian's `docker-registry`). Request logging is off
 * for both. Also installs the tools the benchmark needs.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeBucket, type S3Target } from './swift.js';

export interface Server {
  name: string;
  version: string;
  url: string;
  pid: number;
  dataDir: string;
  /** The last lines the server printed, for error reports. */
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes the data directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface Tools {
  /** Path of the Distribution binary, or undefined when it could not be had. */
  distribution?: string;
  wrk?: string;
  /** Why something is missing, for a loud message. */
  problems: string[];
}

function which(command: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

function aptGet(args: string[]): { ok: boolean; output: string } {
  const run = spawnSync('apt-get', args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}`;
  return { ok: run.status === 0, output: output.trim().split('\n').slice(-5).join('\n') };
}

/** Finds docker-registry and wrk, installing them with apt-get (running `apt-get update` only if needed). */
export function ensureTools(): Tools {
  const packages = [
    { command: 'docker-registry', pkg: 'docker-registry' },
    { command: 'wrk', pkg: 'wrk' },
  ];
  const missing = packages.filter((p) => which(p.command) === undefined).map((p) => p.pkg);
  const problems: string[] = [];
  if (missing.length > 0) {
    console.error(`bench: installing ${missing.join(' ')} with apt-get…`);
    let install = aptGet(['install', '-y', '--no-install-recommends', ...missing]);
    if (!install.ok) {
      const update = aptGet(['update']);
      install = update.ok
        ? aptGet(['install', '-y', '--no-install-recommends', ...missing])
        : { ok: false, output: `apt-get update failed:\n${update.output}` };
    }
    if (!install.ok) problems.push(`apt-get install -y ${missing.join(' ')} failed:\n${install.output}`);
  }
  const distribution = which('docker-registry');
  const wrk = which('wrk');
  if (!distribution) problems.push('docker-registry (CNCF Distribution) is not installed');
  if (!wrk) problems.push('wrk is not installed');
  return { ...(distribution && { distribution }), ...(wrk && { wrk }), problems };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function ping(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(new URL('/v2/', url), { method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Keeps the last few KiB a child prints. */
function capture(child: ChildProcess): () => string {
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => tail;
}

async function launch(
  name: string,
  version: string,
  dataDir: string,
  port: number,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; bucket?: string } = {},
): Promise<Server> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
  const output = capture(child);
  let exited: string | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      resolve();
    });
    child.once('error', (error) => {
      exited = `could not start: ${error.message}`;
      resolve();
    });
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (exited === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
    if (options.bucket) await removeBucket(options.bucket).catch(() => {});
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`${name} ${exited} before answering:\n${output()}`);
    }
    // 401: up, with auth on (the hot-path workload).
    if ([200, 401].includes(await ping(url))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not answer GET /v2/ with 200 or 401 within 30 s:\n${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { name, version, url, pid: child.pid as number, dataDir, output, stop };
}

/**
 * Berth from dist/, as `berth serve` runs it, logging warnings and errors only: on its default embedded
 * setup (filesystem and SQLite), or with blobs in an S3 bucket (metadata still in embedded SQLite).
 */
export async function startBerth(s3?: S3Target, extraEnv: Record<string, string> = {}): Promise<Server> {
  const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-bench-berth-'));
  const port = await freePort();
  // BERTH_BENCH_CLI_JS: another build of the CLI (a private outDir while others rebuild dist/).
  const main = process.env.BERTH_BENCH_CLI_JS || 'dist/cli/main.js';
  // BERTH_BENCH_NODE_ARGS: options for Berth's node, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
  const nodeArgs = (process.env.BERTH_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const args = [...nodeArgs, main, 'serve', '--host', '127.0.0.1', '--port', String(port)];
  args.push('--data-dir', dataDir, '--log-level', process.env.BERTH_BENCH_LOG_LEVEL || 'warn');
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('BERTH_')));
  // Like for like: Distribution runs without auth here too.
  env.BERTH_AUTH_ENABLED = 'false';
  Object.assign(env, extraEnv);
  if (s3) {
    Object.assign(env, {
      BERTH_STORAGE_DRIVER: 's3',
      BERTH_STORAGE_S3_ENDPOINT: s3.endpoint,
      BERTH_STORAGE_S3_REGION: s3.region,
      BERTH_STORAGE_S3_BUCKET: s3.bucket,
      BERTH_STORAGE_S3_FORCE_PATH_STYLE: 'true',
      BERTH_STORAGE_S3_ACCESS_KEY_ID: s3.accessKeyId,
      BERTH_STORAGE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
  }
  return launch('Berth', pkg.version, dataDir, port, process.execPath, args, {
    env,
    ...(s3 && { bucket: s3.bucket }),
  });
}

/**
 * Distribution's configuration: filesystem storage, deletes on, no auth, access log off, warnings only. The
 * in-memory blob descriptor cache is the one Debian's packaged config (and the upstream image's) turns on;
 * Berth's own manifest cache is on by default too.
 */
function distributionConfig(
  root: string,
  port: number,
  s3?: S3Target,
  proxyRemoteUrl?: string,
  redirect = false,
): string {
  const storage = s3
    ? [
        '  s3:',
        `    accesskey: ${s3.accessKeyId}`,
        `    secretkey: ${s3.secretAccessKey}`,
        `    region: ${s3.region}`,
        `    regionendpoint: ${s3.endpoint}`,
        `    bucket: ${s3.bucket}`,
        '    secure: false',
        '    v4auth: true',
        // Like for like: blob bytes go through the registry (Berth's storage.s3.redirect is off too), unless
        // both are measured redirecting (bench/s3-pull.ts).
        '  redirect:',
        `    disable: ${!redirect}`,
      ]
    : ['  filesystem:', `    rootdirectory: ${root}`];
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    ...storage,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: berth-bench-not-a-secret',
    // Its default ceiling for `n` on /v2/_catalog is 1000 (a larger n is a 400); the bench asks for 10000.
    'catalog:',
    '  maxentries: 10000',
    // Pull-through cache mode: a read-only mirror of that registry (the proxy workload's baseline).
    ...(proxyRemoteUrl ? ['proxy:', `  remoteurl: ${proxyRemoteUrl}`] : []),
    '',
  ].join('\n');
}

/**
 * Distribution on the filesystem, or on an S3 bucket through its `s3` driver with `regionendpoint`; with
 * `proxyRemoteUrl`, as a pull-through cache of that registry (`proxy.remoteurl`).
 */
export async function startDistribution(
  binary: string,
  s3?: S3Target,
  proxyRemoteUrl?: string,
  redirect = false,
): Promise<Server> {
  const printed = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const version = printed.startsWith(binary) ? printed.slice(binary.length).trim() : printed;
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-bench-distribution-'));
  const port = await freePort();
  const config = join(dataDir, 'config.yml');
  await writeFile(config, distributionConfig(join(dataDir, 'storage'), port, s3, proxyRemoteUrl, redirect));
  // Its S3 driver panics at start when AWS_CA_BUNDLE is set in the environment.
  const { AWS_CA_BUNDLE: _ignored, ...env } = process.env;
  return launch('Distribution', version, dataDir, port, binary, ['serve', config], {
    env,
    ...(s3 && { bucket: s3.bucket }),
  });
}

export interface Memory {
  /** VmRSS: resident now, MiB. */
  rss: number;
  /** VmHWM: the peak resident set so far, MiB. */
  hwm: number;
}

export async function memoryOf(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) =>
    Number(new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(status)?.[1] ?? Number.NaN);
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
}
