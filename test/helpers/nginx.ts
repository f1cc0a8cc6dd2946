// nginx in front of Berth nodes for the multi-node tests: the shipped site config (deploy/nginx.conf) with only the
// upstream servers and the listen address rewritten, inside a minimal main config that runs from a temp dir.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../fixtures/image.js';

const EXAMPLE = new URL('../../deploy/nginx.conf', import.meta.url);

/** deploy/nginx.conf with `upstreams` (loopback ports) as its servers, listening on 127.0.0.1:`port`. */
export async function renderNginx(dir: string, upstreams: number[], port: number): Promise<string> {
  const shipped = await readFile(EXAMPLE, 'utf8');
  // Each shipped server line's parameters (max_fails, fail_timeout…) are kept for ours.
  const parameters = /^\s*server 127\.0\.0\.1:\d+ ([^;]*);$/m.exec(shipped)?.[1] ?? '';
  const site = shipped
    .replace(/^\s*server 127\.0\.0\.1:\d+ [^;]*;\n/gm, '')
    .replace(
      /upstream berth \{\n/,
      (head) => `${head}${upstreams.map((p) => `    server 127.0.0.1:${p} ${parameters};\n`).join('')}`,
    )
    .replace(/listen 8443;/, `listen 127.0.0.1:${port};`);
  if (!upstreams.every((p) => site.includes(`server 127.0.0.1:${p} `)) || !site.includes(`:${port};`)) {
    throw new Error(
      'deploy/nginx.conf no longer has the shape this test rewrites (upstream berth, listen 8443)',
    );
  }
  return writeNginxMain(dir, 'berth.conf', site, { workerConnections: 256, accessLog: 'off' });
}

/**
 * Writes `site` to `dir`/`siteFile` and, around it, a minimal main config (nginx.conf, returned) that runs
 * from `dir` as root in the foreground: its pid, error log and temp paths all in `dir`.
 */
export async function writeNginxMain(
  dir: string,
  siteFile: string,
  site: string,
  options: { workerConnections: number; accessLog: string },
): Promise<string> {
  await writeFile(join(dir, siteFile), site);
  const main = [
    'daemon off;',
    'user root;',
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    `events { worker_connections ${options.workerConnections}; }`,
    'http {',
    `  access_log ${options.accessLog};`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    `  include ${dir}/${siteFile};`,
    '}',
  ].join('\n');
  const path = join(dir, 'nginx.conf');
  await writeFile(path, main);
  return path;
}

/** Checks and starts nginx on a rendered config; resolves once `probeUrl` answers through it. */
export async function startNginx(dir: string, config: string, probeUrl: string): Promise<ChildProcess> {
  await run('nginx', ['-t', '-p', dir, '-c', config]);
  const nginx = spawn('nginx', ['-p', dir, '-c', config], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(probeUrl).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ok) return nginx;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  nginx.kill('SIGKILL');
  throw new Error(`nginx did not answer ${probeUrl}`);
}
