// What the Go client tests share: a real Berth with token auth on and one private project, a member who may push
// and delete there, a user with no role in it, and an administrator's view over HTTP to check what a client did.
import { expect } from 'vitest';
import { type Login, PASSWORD, Seeder, startAuthBerth } from '../auth/support.js';
import { RunError } from '../fixtures/image.js';
import type { TestBerth } from '../helpers/server.js';

/** A whole test of a Go client against Berth. */
export const TIMEOUT = 120_000;
/** One run of the client: shorter than TIMEOUT, so a hung client fails with its stderr rather than as a bare test timeout. */
export const CLIENT_TIMEOUT = 60_000;

export interface PrivateRegistry {
  berth: TestBerth;
  /** 127.0.0.1:PORT */
  host: string;
  /** A private project: anonymous pulls and outsiders are refused. */
  project: string;
  /** A maintainer of `project`: pull, push and delete. */
  member: Login;
  /** A user with no role in `project`. */
  outsider: Login;
  /** A system administrator over HTTP Basic, to see what Berth holds independently of the client under test. */
  admin: Seeder;
  close(): Promise<void>;
}

export async function startPrivateRegistry(project = 'team'): Promise<PrivateRegistry> {
  const berth = await startAuthBerth();
  try {
    const accounts = berth.berth.accounts;
    await accounts.createProject({ name: project, public: false });
    const admin = { username: 'root', password: PASSWORD };
    const member = { username: 'dana', password: PASSWORD };
    const outsider = { username: 'eve', password: PASSWORD };
    // scrypt at the server's real cost: in parallel.
    await Promise.all([
      accounts.createUser({ ...admin, systemAdmin: true }),
      accounts.createUser(member),
      accounts.createUser(outsider),
    ]);
    await accounts.setMember(project, { kind: 'user', name: member.username, role: 'maintainer' });
    return {
      berth,
      host: berth.host,
      project,
      member,
      outsider,
      admin: new Seeder(berth.url, admin.username, admin.password),
      close: () => berth.close(),
    };
  } catch (error) {
    await berth.close();
    throw error;
  }
}

/** Awaits a client run that must fail; returns what it printed (stderr, then stdout). */
export async function refused(command: Promise<unknown>): Promise<string> {
  const error = await command.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the client must fail').toBeInstanceOf(RunError);
  const { stderr, stdout } = error as RunError;
  return `${stderr}\n${stdout}`;
}

/** The tags Berth lists for a repository (asked as the administrator); [] when the repository is unknown. */
export async function tagsOf(registry: PrivateRegistry, repo: string): Promise<string[]> {
  const res = await registry.admin.request('GET', `/v2/${repo}/tags/list`);
  const text = await res.text();
  if (res.status === 404) return [];
  expect(res.status, text).toBe(200);
  return ((JSON.parse(text) as { tags: string[] | null }).tags ?? []).sort();
}

export interface ServedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** The manifest Berth serves for a tag or digest (as the administrator), or null when it answers 404. */
export async function servedManifest(
  registry: PrivateRegistry,
  repo: string,
  reference: string,
): Promise<ServedManifest | null> {
  const res = await registry.admin.request('GET', `/v2/${repo}/manifests/${reference}`, {
    headers: {
      accept: [
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.oci.image.index.v1+json',
        'application/vnd.docker.distribution.manifest.v2+json',
        'application/vnd.docker.distribution.manifest.list.v2+json',
      ].join(', '),
    },
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status === 404) return null;
  expect(res.status, bytes.toString()).toBe(200);
  return {
    digest: res.headers.get('docker-content-digest') as string,
    mediaType: res.headers.get('content-type') as string,
    bytes,
  };
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** The referrers Berth's API lists for a digest (distribution-spec v1.1), as the administrator. */
export async function referrersOf(
  registry: PrivateRegistry,
  repo: string,
  digest: string,
): Promise<Descriptor[]> {
  const res = await registry.admin.request('GET', `/v2/${repo}/referrers/${digest}`);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return (JSON.parse(text) as { manifests: Descriptor[] }).manifests;
}
