// The Go registry clients the end-to-end tests drive (oras, crane, helm, cosign): where their binaries are, and a
// private HOME for each test file so no client reads or writes the machine user's ~/.docker, ~/.config or keys.
// scripts/test-services.sh installs them with `go install` at pinned versions into `$(go env GOPATH)/bin`,
// which is often not on PATH: look there too.
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { findExecutable } from '../fixtures/image.js';

export type GoTool = 'oras' | 'crane' | 'helm' | 'cosign';

/** Go's bin directories as far as the environment tells them, without spawning `go`. */
function knownGoBins(): string[] {
  const gopaths = (process.env.GOPATH ?? '').split(delimiter).filter(Boolean);
  return [
    ...(process.env.GOBIN ? [process.env.GOBIN] : []),
    ...gopaths.map((path) => join(path, 'bin')),
    join(homedir(), 'go', 'bin'),
    '/root/go/bin',
  ];
}

let askedGo: string[] | undefined;

/** `$(go env GOBIN)` and `$(go env GOPATH)/bin`, asked once, for a GOPATH set only in go's own env file. */
function goEnvBins(): string[] {
  if (askedGo) return askedGo;
  askedGo = [];
  const go = findExecutable('go', ['/usr/local/go/bin']);
  if (!go) return askedGo;
  try {
    const out = execFileSync(go, ['env', 'GOBIN', 'GOPATH'], { encoding: 'utf8', timeout: 15_000 });
    const [gobin = '', gopath = ''] = out.split('\n');
    if (gobin) askedGo.push(gobin);
    askedGo.push(
      ...gopath
        .split(delimiter)
        .filter(Boolean)
        .map((path) => join(path, 'bin')),
    );
  } catch {
    // go is broken: the tool counts as missing
  }
  return askedGo;
}

function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/** The absolute path of a Go client's binary, or null. */
export function findGoTool(name: GoTool): string | null {
  return findExecutable(name, knownGoBins()) ?? findExecutable(name, goEnvBins());
}

/**
 * The Go clients a test file needs, by name, or null when one is missing: then, locally, a loud warning (the
 * caller skips its tests); in CI an error, since CI must run them (scripts/test-services.sh install builds them).
 */
export function requireGoTools<T extends GoTool>(names: T[], what: string): Record<T, string> | null {
  const found = names.map((name) => [name, findGoTool(name)] as const);
  const missing = found.filter(([, path]) => path === null).map(([name]) => name);
  if (missing.length === 0) return Object.fromEntries(found) as Record<T, string>;
  const reason = `missing Go client(s): ${missing.join(', ')} (bash scripts/test-services.sh install builds them)`;
  if (inCi()) throw new Error(`${what} must run in CI: ${reason}`);
  console.warn(`\n!!! SKIPPING ${what}: ${reason} !!!\n`);
  return null;
}

/**
 * An environment whose HOME, DOCKER_CONFIG and XDG directories all lie under `dir` (created here): the clients
 * keep their logins, caches and keys there, and never see the machine user's.
 */
export async function privateHome(dir: string): Promise<NodeJS.ProcessEnv> {
  const dirs = {
    HOME: dir,
    DOCKER_CONFIG: join(dir, '.docker'),
    XDG_CONFIG_HOME: join(dir, '.config'),
    XDG_CACHE_HOME: join(dir, '.cache'),
    XDG_DATA_HOME: join(dir, '.local', 'share'),
    XDG_STATE_HOME: join(dir, '.local', 'state'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
  };
  for (const path of Object.values(dirs)) await mkdir(path, { recursive: true, mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...process.env, ...dirs };
  // Settings that would point a client at someone else's files or servers.
  for (const key of Object.keys(env)) {
    if (/^(HELM_|COSIGN_|SIGSTORE_|ORAS_|REGISTRY_AUTH_FILE$|TUF_ROOT$)/.test(key)) delete env[key];
  }
  return env;
}
