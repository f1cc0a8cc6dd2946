#!/usr/bin/env node
// Lays out the three layers of Berth's container image (deploy/image/build.sh) in an empty directory:
//
//   runtime/   this machine's node binary and the shared libraries it and better-sqlite3 load (found with
//              ldd), /etc/passwd and /etc/group with the berth user (10001), /tmp, /var/lib/berth — no shell,
//              no package manager
//   modules/   app/node_modules: the production dependencies only (`npm ls --omit=dev`), copied from this
//              checkout's node_modules, so the native better-sqlite3 build is the one tested here
//   app/       app/package.json, app/dist (the compiled server and CLI, and the web console), healthcheck.mjs
//
// Three folders, three image layers: a code change rebuilds only the last, small one.
// Usage: node deploy/image/stage.mjs --out DIR [--app DIST_DIR] [--web CONSOLE_DIR]
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    app: { type: 'string', default: join(ROOT, 'dist') },
    web: { type: 'string' },
  },
});
if (!values.out) throw new Error('usage: stage.mjs --out DIR [--app DIST_DIR] [--web CONSOLE_DIR]');
const out = resolve(values.out);
const appDist = resolve(values.app);
const web = values.web ? resolve(values.web) : join(appDist, 'web');
if (!existsSync(join(appDist, 'cli', 'main.js'))) {
  throw new Error(`${appDist}/cli/main.js is missing: run \`npm run build\` first`);
}
if (existsSync(out) && readdirSync(out).length > 0) throw new Error(`${out} is not empty`);

/** Copies a file or tree to `dest`, following the source's symbolic links, keeping modes. */
function copy(source, dest, filter = () => true) {
  mkdirSync(dirname(dest), { recursive: true });
  cpSync(realpathSync(source), dest, { recursive: true, dereference: true, preserveTimestamps: false, filter });
}

// ---- runtime: node and the libraries it loads ------------------------------------------------------------
const runtime = join(out, 'runtime');
const node = realpathSync(process.execPath);
const sqlite = join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
const libraries = new Set();
for (const binary of [node, sqlite]) {
  for (const line of execFileSync('ldd', [binary], { encoding: 'utf8' }).split('\n')) {
    // "libstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const path = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1];
    if (path) libraries.add(path);
  }
}
copy(node, join(runtime, 'usr/bin/node'));
for (const library of libraries) {
  // Under the name the loader asks for (the ldd path), with the real file's bytes.
  copy(library, join(runtime, library));
}
mkdirSync(join(runtime, 'etc'), { recursive: true });
writeFileSync(
  join(runtime, 'etc/passwd'),
  'root:x:0:0:root:/root:/sbin/nologin\nberth:x:10001:10001:Berth:/var/lib/berth:/sbin/nologin\n',
);
writeFileSync(join(runtime, 'etc/group'), 'root:x:0:\nberth:x:10001:\n');
writeFileSync(join(runtime, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
mkdirSync(join(runtime, 'tmp'));
chmodSync(join(runtime, 'tmp'), 0o1777);
// Mount points a container runtime fills, and the data directory (build.sh gives it to the berth user).
for (const dir of ['proc', 'dev', 'sys', 'var/lib/berth']) mkdirSync(join(runtime, dir), { recursive: true });

// ---- modules: production dependencies ----------------------------------------------------------------------
const modules = join(out, 'modules');
const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
  cwd: ROOT,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'ignore'],
  maxBuffer: 16 * 1024 * 1024,
}).trim();
const packages = listed
  .split('\n')
  .map((line) => line.trim())
  .filter((dir) => dir.startsWith(join(ROOT, 'node_modules') + '/'));
if (packages.length < 20) throw new Error(`npm ls listed only ${packages.length} production packages`);
// Not needed at run time: better-sqlite3's C sources and build intermediates, and its test extension.
const SKIP = [/\/better-sqlite3\/(deps|src)(\/|$)/, /\/better-sqlite3\/build\/(?!Release\/better_sqlite3\.node$)/];
for (const dir of packages) {
  const dest = join(modules, 'app', relative(ROOT, dir));
  // Each package's own files; its nested node_modules are listed (and copied) as packages of their own.
  copy(dir, dest, (source) => {
    const inner = relative(realpathSync(dir), source);
    if (inner.split('/')[0] === 'node_modules') return false;
    if (/\/better-sqlite3\//.test(dir + '/') && inner.startsWith('build')) {
      return inner === 'build' || inner === 'build/Release' || inner === 'build/Release/better_sqlite3.node';
    }
    return !SKIP.some((pattern) => pattern.test(`${dir}/${inner}`));
  });
}

// ---- app: the compiled program -----------------------------------------------------------------------------
const app = join(out, 'app', 'app');
copy(join(ROOT, 'package.json'), join(app, 'package.json'));
for (const entry of readdirSync(appDist)) {
  // dist/image holds built images; .tsbuildinfo is the compiler's; web comes from `web` below.
  if (entry === 'image' || entry === 'web' || entry.startsWith('.')) continue;
  copy(join(appDist, entry), join(app, 'dist', entry), (source) => !source.endsWith('.map'));
}
if (existsSync(join(web, 'index.html'))) copy(web, join(app, 'dist', 'web'));
else process.stderr.write(`stage: no web console at ${web}; the image serves the API only\n`);
copy(join(ROOT, 'deploy/image/healthcheck.mjs'), join(app, 'healthcheck.mjs'));

process.stdout.write(`${JSON.stringify({ libraries: [...libraries], packages: packages.length })}\n`);
