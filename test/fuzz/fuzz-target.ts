// The server the fuzz tests attack: a real Berth with token auth on, two projects (public and private), a
// cast of callers (system admin, developer, guest, robot), one pushed image per repository, and one open upload.
// No vitest import: the long run (run.ts) uses it outside vitest.
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startBerth, type TestBerth } from '../helpers/server.js';

export const PASSWORD = 'correct horse battery staple';
export const CALLERS = ['anonymous', 'admin', 'developer', 'guest', 'robot'] as const;
export type CallerName = (typeof CALLERS)[number];
/** Where the fuzzer aims: a public and a private project, each with a seeded repository. */
export const REPOSITORIES = ['pub/app', 'priv/app', 'pub/empty'] as const;

export interface Credentials {
  username: string;
  password: string;
  /** A registry token for every repository above with every action the caller may have. */
  token: string;
}

export interface FuzzTarget {
  berth: TestBerth;
  callers: Record<Exclude<CallerName, 'anonymous'>, Credentials>;
  /** Digests that exist (config, layer, manifest of the seeded image) — aimed at as often as nonsense ones. */
  digests: string[];
  /** Upload session paths (under /v2/) opened by the admin. */
  uploads: string[];
  /** A valid manifest body referencing the seeded blobs (so some PUTs get far into validation). */
  manifest: Buffer;
  close(): Promise<void>;
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

async function request(
  base: string,
  method: string,
  path: string,
  authorization: string,
  body?: Buffer,
  type = 'application/octet-stream',
): Promise<Response> {
  return fetch(new URL(path, base), {
    method,
    headers: { authorization, 'content-type': type },
    ...(body && { body }),
  });
}

async function pushImage(base: string, auth: string, repository: string) {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }),
  );
  const layer = randomBytes(256);
  for (const blob of [config, layer]) {
    const res = await request(
      base,
      'POST',
      `/v2/${repository}/blobs/uploads/?digest=${sha256(blob)}`,
      auth,
      blob,
    );
    if (res.status !== 201) throw new Error(`seed blob: ${res.status} ${await res.text()}`);
  }
  const type = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: type,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length },
      ],
    }),
  );
  const res = await request(base, 'PUT', `/v2/${repository}/manifests/v1`, auth, manifest, type);
  if (res.status !== 201) throw new Error(`seed manifest: ${res.status} ${await res.text()}`);
  return { digests: [sha256(config), sha256(layer), sha256(manifest)], manifest };
}

async function tokenFor(base: string, username: string, password: string): Promise<string> {
  const scopes = REPOSITORIES.map((name) => `scope=repository:${name}:pull,push,delete`).join('&');
  const res = await fetch(new URL(`/token?service=berth&${scopes}&scope=registry:catalog:*`, base), {
    headers: { authorization: basic(username, password) },
  });
  const body = (await res.json()) as { token?: string };
  if (!body.token) throw new Error(`token for ${username}: ${res.status} ${JSON.stringify(body)}`);
  return body.token;
}

/** Starts the target. `config` adds dotted config keys (the limits are off unless given: the fuzzer wants coverage). */
export async function startFuzzTarget(config: Record<string, unknown> = {}): Promise<FuzzTarget> {
  const berth = await startBerth({
    config: {
      'auth.enabled': true,
      // Tokens outlive a long run; login failures (the fuzzer sends wrong ones) never lock the cast out.
      'auth.tokenTtlSeconds': 86_400,
      'auth.maxLoginFailures': 1_000_000,
      'limits.apiRequestsPerAddress': 0,
      'limits.apiRequestsPerUser': 0,
      'limits.tokenRequestsPerAddress': 0,
      'limits.tokenRequestsPerUser': 0,
      ...config,
    },
  });
  try {
    const accounts = berth.berth.accounts;
    await accounts.createProject({ name: 'pub', public: true });
    await accounts.createProject({ name: 'priv', public: false });
    await Promise.all([
      accounts.createUser({ username: 'root', password: PASSWORD, systemAdmin: true }),
      accounts.createUser({ username: 'dev', password: PASSWORD }),
      accounts.createUser({ username: 'visitor', password: PASSWORD }),
    ]);
    for (const project of ['pub', 'priv']) {
      await accounts.setMember(project, { kind: 'user', name: 'dev', role: 'developer' });
      await accounts.setMember(project, { kind: 'user', name: 'visitor', role: 'guest' });
    }
    const robot = await accounts.createRobot({
      name: 'ci',
      permissions: ['pub', 'priv'].map((project) => ({ project, actions: ['pull', 'push'] })),
      createdBy: 'root',
    });
    const logins = {
      admin: { username: 'root', password: PASSWORD },
      developer: { username: 'dev', password: PASSWORD },
      guest: { username: 'visitor', password: PASSWORD },
      robot: { username: 'robot$ci', password: robot.secret },
    };
    const callers = {} as FuzzTarget['callers'];
    for (const [name, login] of Object.entries(logins)) {
      callers[name as keyof typeof logins] = {
        ...login,
        token: await tokenFor(berth.url, login.username, login.password),
      };
    }
    const admin = basic('root', PASSWORD);
    const digests: string[] = [];
    let manifest = Buffer.alloc(0);
    for (const repository of ['pub/app', 'priv/app']) {
      const seeded = await pushImage(berth.url, admin, repository);
      digests.push(...seeded.digests);
      manifest = seeded.manifest;
    }
    const uploads: string[] = [];
    for (const repository of REPOSITORIES) {
      const res = await request(berth.url, 'POST', `/v2/${repository}/blobs/uploads/`, admin);
      const location = res.headers.get('location');
      if (res.status !== 202 || !location) throw new Error(`open upload: ${res.status}`);
      uploads.push(new URL(location, berth.url).pathname.replace(/^\/v2\//, ''));
    }
    return { berth, callers, digests, uploads, manifest, close: () => berth.close() };
  } catch (error) {
    await berth.close();
    throw error;
  }
}

/** What the registry holds, as the system administrator sees it: repositories, their tags, stored blob files. */
export interface Holdings {
  repositories: string[];
  tags: Record<string, string[]>;
  blobFiles: number;
}

async function countFiles(dir: string): Promise<number> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let count = 0;
  for (const entry of entries) {
    count += entry.isDirectory() ? await countFiles(join(dir, entry.name)) : 1;
  }
  return count;
}

export async function holdings(target: FuzzTarget): Promise<Holdings> {
  const admin = basic('root', PASSWORD);
  const catalog = (await (await request(target.berth.url, 'GET', '/v2/_catalog?n=10000', admin)).json()) as {
    repositories: string[];
  };
  const tags: Record<string, string[]> = {};
  for (const repository of catalog.repositories) {
    const res = await request(target.berth.url, 'GET', `/v2/${repository}/tags/list?n=10000`, admin);
    tags[repository] = res.status === 200 ? ((await res.json()) as { tags: string[] }).tags.sort() : [];
  }
  return {
    repositories: [...catalog.repositories].sort(),
    tags,
    blobFiles: await countFiles(join(target.berth.dataDir, 'blobs')),
  };
}
