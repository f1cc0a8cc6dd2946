// Shared helpers for the issue-3 auth tests: a real Berth with auth on, its cast of accounts, the Docker token
// flow as a client performs it, challenge/error assertions, admin-side content seeding over HTTP, audit queries.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'vitest';
import { AccountService } from '../../src/accounts/index.js';
import type { RobotPermission } from '../../src/auth/index.js';
import type { AuditEvent, AuditQuery } from '../../src/events/index.js';
import { sha256 } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

export const SERVICE = 'berth';
/** Every local user of the cast has this password (long enough for the policy, not token-shaped). */
export const PASSWORD = 'correct horse battery staple';
export const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** A Berth on a loopback port with auth on (the test helper turns it off by default). */
export function startAuthBerth(config: Record<string, unknown> = {}): Promise<TestBerth> {
  return startBerth({ config: { 'auth.enabled': true, ...config } });
}

/** The Kysely database behind a running Berth (for a second AccountService or a TokenService on its key). */
export function databaseOf(berth: TestBerth) {
  return berth.berth.registry.meta.db;
}

export function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

export interface SendOptions {
  authorization?: string | undefined;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** One request to the server under test; redirects are not followed. */
export function send(base: string, method: string, path: string, opts: SendOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.authorization) headers.authorization = opts.authorization;
  return fetch(new URL(path, base), {
    method,
    headers,
    redirect: 'manual',
    ...(opts.body !== undefined && { body: opts.body }),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The token endpoint, as clients call it

export interface TokenAnswer {
  status: number;
  headers: Headers;
  /** The JSON body (a token response, or an OCI error body). */
  body: Record<string, unknown>;
  /** `token` of a 200 answer. */
  token?: string;
}

async function tokenAnswer(res: Response): Promise<TokenAnswer> {
  const text = await res.text();
  const body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  return {
    status: res.status,
    headers: res.headers,
    body,
    ...(res.status === 200 && typeof body.token === 'string' && { token: body.token }),
  };
}

/** GET /token?service=…&scope=… (scope repeated), with Basic credentials when given: the Docker client flow. */
export async function getToken(
  base: string,
  opts: {
    credentials?: { username: string; password: string } | undefined;
    scopes?: string[];
    service?: string | null;
    offline?: boolean;
    headers?: Record<string, string>;
  } = {},
): Promise<TokenAnswer> {
  const query = new URLSearchParams();
  if (opts.service !== null) query.set('service', opts.service ?? SERVICE);
  for (const scope of opts.scopes ?? []) query.append('scope', scope);
  if (opts.offline) query.set('offline_token', 'true');
  const res = await send(base, 'GET', `/token?${query}`, {
    authorization: opts.credentials && basic(opts.credentials.username, opts.credentials.password),
    headers: opts.headers ?? {},
  });
  return tokenAnswer(res);
}

/** POST /token with an OAuth2 form (grant_type=password or refresh_token). */
export async function postToken(base: string, form: Record<string, string>): Promise<TokenAnswer> {
  const res = await send(base, 'POST', '/token', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return tokenAnswer(res);
}

export interface Jwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown> & { access?: Array<{ type: string; name: string; actions: string[] }> };
}

export function decodeJwt(token: string): Jwt {
  const [header, payload] = token.split('.') as [string, string];
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Assertions

/** `Bearer realm="…",service="…",scope="…"` → { scheme: 'bearer', params }. Quoted values only, as Berth sends. */
export function parseChallenge(value: string | null): { scheme: string; params: Record<string, string> } {
  expect(value, 'WWW-Authenticate').toBeTruthy();
  const text = value as string;
  const space = text.indexOf(' ');
  const scheme = text.slice(0, space).toLowerCase();
  const params: Record<string, string> = {};
  const rest = text.slice(space + 1);
  const pattern = /([a-z_]+)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;
  let consumed = 0;
  for (let match = pattern.exec(rest); match; match = pattern.exec(rest)) {
    params[match[1] as string] = (match[2] as string).replace(/\\(.)/g, '$1');
    consumed = pattern.lastIndex;
  }
  expect(consumed, `the whole challenge parses: ${text}`).toBe(rest.length);
  return { scheme, params };
}

/**
 * A 401 carrying the token challenge a Docker client follows: realm = this server's /token, service = berth;
 * `scope` exactly as given (null: must be absent; undefined: not checked); `error` as given, else absent.
 */
export function expectBearerChallenge(
  res: Response | TokenAnswer,
  base: string,
  expected: { scope?: string | null | undefined; error?: string },
): void {
  expect(res.status).toBe(401);
  const { scheme, params } = parseChallenge(res.headers.get('www-authenticate'));
  const { scope, ...rest } = params;
  const want: Record<string, string> = { realm: `${base}/token`, service: SERVICE };
  if (expected.error !== undefined) want.error = expected.error;
  expect({ scheme, params: rest }).toEqual({ scheme: 'bearer', params: want });
  if (expected.scope !== undefined) expect(scope, 'challenge scope').toBe(expected.scope ?? undefined);
}

/** 401 for wrong Basic credentials: a Basic challenge. */
export function expectBasicChallenge(res: Response | TokenAnswer): void {
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toBe(`Basic realm="${SERVICE}",charset="UTF-8"`);
}

export interface OciError {
  code: string;
  message?: string;
  detail?: unknown;
}

/** The OCI error body `{"errors":[{code,…}]}` with `code` as its first error. */
export async function expectOciError(res: Response, status: number, code: string): Promise<OciError> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type') ?? '', text).toMatch(/^application\/json/);
  const body = JSON.parse(text) as { errors: OciError[] };
  expect(body.errors?.[0]?.code, text).toBe(code);
  return body.errors[0] as OciError;
}

// ---------------------------------------------------------------------------------------------------------------
// Content, seeded as a system administrator over HTTP Basic

export interface Image {
  config: Buffer;
  layer: Buffer;
  manifest: Buffer;
  digest: string;
}

/** A tiny OCI image: a unique config, one small layer (shared when given), its manifest. */
export function tinyImage(layer: Buffer = randomBytes(64), annotation?: string): Image {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.manifest,
      config: { mediaType: MT.config, digest: sha256(config), size: config.length },
      layers: [{ mediaType: MT.layer, digest: sha256(layer), size: layer.length }],
      ...(annotation !== undefined && { annotations: { nonce: annotation } }),
    }),
  );
  return { config, layer, manifest, digest: sha256(manifest) };
}

/** Puts content in place for a test, as an administrator: what the test then does is the subject, not this. */
export class Seeder {
  readonly authorization: string;
  constructor(
    readonly base: string,
    username: string,
    password: string,
  ) {
    this.authorization = basic(username, password);
  }

  request(method: string, path: string, opts: Omit<SendOptions, 'authorization'> = {}): Promise<Response> {
    return send(this.base, method, path, { ...opts, authorization: this.authorization });
  }

  async pushBlob(repo: string, data: Buffer = randomBytes(48)): Promise<string> {
    const digest = sha256(data);
    const res = await this.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
    expect(res.status, `seed blob into ${repo}: ${await res.text()}`).toBe(201);
    return digest;
  }

  async pushImage(repo: string, image: Image = tinyImage(), ref = image.digest): Promise<Image> {
    await this.pushBlob(repo, image.config);
    await this.pushBlob(repo, image.layer);
    const res = await this.request('PUT', `/v2/${repo}/manifests/${ref}`, {
      headers: { 'content-type': MT.manifest },
      body: image.manifest,
    });
    expect(res.status, `seed manifest into ${repo}:${ref}: ${await res.text()}`).toBe(201);
    return image;
  }

  /** Opens an upload session; returns its Location path. */
  async startUpload(repo: string): Promise<string> {
    const res = await this.request('POST', `/v2/${repo}/blobs/uploads/`);
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    return new URL(res.headers.get('location') as string, this.base).pathname;
  }

  /** The status an administrator gets for `method path` (what exists after a test's request). */
  async statusOf(method: string, path: string, headers: Record<string, string> = {}): Promise<number> {
    const res = await this.request(method, path, { headers });
    await res.arrayBuffer();
    return res.status;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The cast: projects, members, robots

export const ROLES = ['guest', 'developer', 'maintainer', 'projectAdmin'] as const;

export interface Login {
  username: string;
  password: string;
}

export interface Cast {
  /** System administrator (not the bootstrap `admin`, whose password is generated and not known here). */
  admin: Login;
  /** One user per project role, each a member with that role of every project in `shared`. */
  members: Record<(typeof ROLES)[number], Login>;
  /** A user who is a member of nothing. */
  outsider: Login;
  /** `robot$ci`: pull and push on every project in `shared`. */
  robot: Login;
  /** `robot$gone`: pull and push on the same projects, expired an hour ago. */
  expiredRobot: Login;
  seeder: Seeder;
}

/**
 * Creates the projects (name → public?), the users (scrypt at the server's real cost, ~0.1–0.4 s each, so
 * in parallel and few), their memberships in the `shared` projects, and the robots (granted on those too).
 * The `unshared` projects have no members and no robot grants.
 */
export async function createCast(
  berth: TestBerth,
  shared: Record<string, boolean>,
  unshared: Record<string, boolean> = {},
): Promise<Cast> {
  const accounts = berth.berth.accounts;
  const names = Object.keys(shared);
  for (const [name, isPublic] of Object.entries({ ...shared, ...unshared })) {
    await accounts.createProject({ name, public: isPublic });
  }
  const admin = { username: 'root', password: PASSWORD };
  const members = Object.fromEntries(
    ROLES.map((role) => [role, { username: role.toLowerCase(), password: PASSWORD }]),
  ) as Cast['members'];
  const outsider = { username: 'outsider', password: PASSWORD };
  await Promise.all([
    accounts.createUser({ ...admin, systemAdmin: true }),
    accounts.createUser(outsider),
    ...ROLES.map((role) => accounts.createUser(members[role])),
  ]);
  for (const project of names) {
    for (const role of ROLES) {
      await accounts.setMember(project, { kind: 'user', name: members[role].username, role });
    }
  }
  const permissions: RobotPermission[] = names.map((project) => ({ project, actions: ['pull', 'push'] }));
  const robot = await accounts.createRobot({ name: 'ci', permissions, createdBy: admin.username });
  // Expiry must be in the future when a robot is created: create it with a clock a day behind.
  const yesterday = new AccountService(databaseOf(berth), { now: () => Date.now() - 86_400_000 });
  const expired = await yesterday.createRobot({
    name: 'gone',
    permissions,
    expiresAt: Date.now() - 3_600_000,
    createdBy: admin.username,
  });
  return {
    admin,
    members,
    outsider,
    robot: { username: 'robot$ci', password: robot.secret },
    expiredRobot: { username: 'robot$gone', password: expired.secret },
    seeder: new Seeder(berth.url, admin.username, admin.password),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Audit

export function audit(berth: TestBerth, query: Partial<AuditQuery> = {}): Promise<AuditEvent[]> {
  return berth.berth.audit.query({ limit: 100, ...query });
}

type Matcher = { asymmetricMatch(actual: unknown): boolean };
export type EventPattern = { [K in keyof AuditEvent]?: AuditEvent[K] | Matcher };

/** Asserts an event matching `expected` (a subset of its fields; values or expect.* matchers) is among `events`. */
export function expectEvent(events: AuditEvent[], expected: EventPattern): AuditEvent {
  const matches = (actual: unknown, want: unknown) =>
    typeof want === 'object' && want !== null && 'asymmetricMatch' in want
      ? (want as Matcher).asymmetricMatch(actual)
      : actual === want;
  const found = events.find((event) =>
    Object.entries(expected).every(([key, value]) => matches(event[key as keyof AuditEvent], value)),
  );
  expect(
    found,
    `audit event ${JSON.stringify(expected)} among ${JSON.stringify(events, null, 1)}`,
  ).toBeDefined();
  return found as AuditEvent;
}

// ---------------------------------------------------------------------------------------------------------------
// A tiny OCI image layout on disk, for skopeo (no umoci needed)

/** One file in a ustar archive, followed by the end-of-archive blocks. */
function tarOf(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100, 8, 'ascii');
  header.write('0000000\0', 108, 8, 'ascii');
  header.write('0000000\0', 116, 8, 'ascii');
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
  header.write(
    `${Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, '0')}\0`,
    136,
    12,
    'ascii',
  );
  header.write('        ', 148, 8, 'ascii');
  header.write('0', 156, 1, 'ascii');
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

/** Writes an OCI image layout with one tiny image tagged `tag`; returns its manifest digest. */
export async function writeTinyLayout(dir: string, tag: string): Promise<string> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (data: Buffer) => {
    const digest = sha256(data);
    await writeFile(join(blobs, digest.slice('sha256:'.length)), data);
    return digest;
  };
  const tar = tarOf('hello.txt', Buffer.from(`hello ${randomBytes(8).toString('hex')}\n`));
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.manifest,
      config: { mediaType: MT.config, digest: await put(config), size: config.length },
      layers: [{ mediaType: MT.layer, digest: await put(layer), size: layer.length }],
    }),
  );
  const digest = await put(manifest);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: MT.manifest,
          digest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return digest;
}

export { sha256 };
