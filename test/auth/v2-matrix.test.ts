// Issue 3, the /v2 authorization matrix: every endpoint × every kind of caller × a public and a private
// project, against a real Berth over HTTP. Each caller is tried twice: with the Docker token flow (GET /token
// with Basic credentials and the scope the request needs, then `Authorization: Bearer`) and with HTTP Basic
// sent directly to /v2. The expected status of every cell is written out in MATRIX below.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBerth } from '../helpers/server.js';
import {
  audit,
  basic,
  bearer,
  type Cast,
  createCast,
  expectBasicChallenge,
  expectBearerChallenge,
  expectEvent,
  expectOciError,
  getToken,
  type Image,
  type Login,
  MT,
  sha256,
  startAuthBerth,
  type TokenAnswer,
  tinyImage,
} from './support.js';

type Visibility = 'public' | 'private';
/** `pub` is public, `priv` private; every member of the cast has its role in both. */
const PROJECT: Record<Visibility, string> = { public: 'pub', private: 'priv' };
/** `other` is private with no members: only system administrators see or read it. */
const OTHER = 'other';

const COLUMNS = [
  'anonymous', // no credentials at all
  'anonToken', // a token fetched from /token without credentials
  'guest',
  'developer',
  'maintainer',
  'projectAdmin',
  'outsider', // a user who is a member of nothing
  'robot', // robot$ci: pull + push on both projects
  'expiredRobot', // robot$gone: the same grants, expired an hour ago
  'systemAdmin',
] as const;
type Column = (typeof COLUMNS)[number];
type Mode = 'none' | 'token' | 'basic';

type EndpointName =
  | 'base GET'
  | 'catalog GET'
  | 'tags/list GET'
  | 'manifest GET'
  | 'manifest HEAD'
  | 'manifest PUT'
  | 'manifest DELETE'
  | 'blob GET'
  | 'blob HEAD'
  | 'blob DELETE'
  | 'upload POST'
  | 'upload POST ?digest='
  | 'upload POST ?mount=&from='
  | 'upload PATCH'
  | 'upload PUT'
  | 'upload GET'
  | 'upload DELETE'
  | 'referrers GET';

/**
 * The exact status per endpoint, project and caller. 401 = challenge (no or unusable credentials: anonymous
 * callers, and the expired robot whose login fails); 403 = DENIED (a known identity without the right).
 */
// biome-ignore format: an aligned table
const MATRIX: Array<[EndpointName, Visibility | 'registry', string]> = [
  //                                         anon  anTok guest dev   maint pAdm  outs  robot expR  admin
  ['base GET',                  'registry', '401   200   200   200   200   200   200   200   401   200'],
  ['catalog GET',               'registry', '401   200   200   200   200   200   200   200   401   200'],
  ['tags/list GET',             'public',   '200   200   200   200   200   200   200   200   401   200'],
  ['tags/list GET',             'private',  '401   401   200   200   200   200   403   200   401   200'],
  ['manifest GET',              'public',   '200   200   200   200   200   200   200   200   401   200'],
  ['manifest GET',              'private',  '401   401   200   200   200   200   403   200   401   200'],
  ['manifest HEAD',             'public',   '200   200   200   200   200   200   200   200   401   200'],
  ['manifest HEAD',             'private',  '401   401   200   200   200   200   403   200   401   200'],
  ['manifest PUT',              'public',   '401   401   403   201   201   201   403   201   401   201'],
  ['manifest PUT',              'private',  '401   401   403   201   201   201   403   201   401   201'],
  ['manifest DELETE',           'public',   '401   401   403   403   202   202   403   403   401   202'],
  ['manifest DELETE',           'private',  '401   401   403   403   202   202   403   403   401   202'],
  ['blob GET',                  'public',   '200   200   200   200   200   200   200   200   401   200'],
  ['blob GET',                  'private',  '401   401   200   200   200   200   403   200   401   200'],
  ['blob HEAD',                 'public',   '200   200   200   200   200   200   200   200   401   200'],
  ['blob HEAD',                 'private',  '401   401   200   200   200   200   403   200   401   200'],
  ['blob DELETE',               'public',   '401   401   403   403   202   202   403   403   401   202'],
  ['blob DELETE',               'private',  '401   401   403   403   202   202   403   403   401   202'],
  ['upload POST',               'public',   '401   401   403   202   202   202   403   202   401   202'],
  ['upload POST',               'private',  '401   401   403   202   202   202   403   202   401   202'],
  ['upload POST ?digest=',      'public',   '401   401   403   201   201   201   403   201   401   201'],
  ['upload POST ?digest=',      'private',  '401   401   403   201   201   201   403   201   401   201'],
  ['upload POST ?mount=&from=', 'public',   '401   401   403   201   201   201   403   201   401   201'],
  ['upload POST ?mount=&from=', 'private',  '401   401   403   201   201   201   403   201   401   201'],
  ['upload PATCH',              'public',   '401   401   403   202   202   202   403   202   401   202'],
  ['upload PATCH',              'private',  '401   401   403   202   202   202   403   202   401   202'],
  ['upload PUT',                'public',   '401   401   403   201   201   201   403   201   401   201'],
  ['upload PUT',                'private',  '401   401   403   201   201   201   403   201   401   201'],
  ['upload GET',                'public',   '401   401   403   204   204   204   403   204   401   204'],
  ['upload GET',                'private',  '401   401   403   204   204   204   403   204   401   204'],
  ['upload DELETE',             'public',   '401   401   403   204   204   204   403   204   401   204'],
  ['upload DELETE',             'private',  '401   401   403   204   204   204   403   204   401   204'],
  ['referrers GET',             'public',   '200   200   200   200   200   200   200   200   401   200'],
  ['referrers GET',             'private',  '401   401   200   200   200   200   403   200   401   200'],
];

/** _catalog: what each caller may see (fixtures: pub/app, pub/src, priv/app, priv/src, other/app). */
const PUBLIC_REPOS = ['pub/app', 'pub/src'];
const MEMBER_REPOS = ['priv/app', 'priv/src', 'pub/app', 'pub/src'];
const CATALOG: Record<Column, string[]> = {
  // Challenged (401) so that a client with credentials logs in; with an anonymous token, the public ones.
  anonymous: [],
  anonToken: PUBLIC_REPOS,
  guest: MEMBER_REPOS,
  developer: MEMBER_REPOS,
  maintainer: MEMBER_REPOS,
  projectAdmin: MEMBER_REPOS,
  outsider: PUBLIC_REPOS,
  robot: MEMBER_REPOS,
  expiredRobot: [],
  systemAdmin: ['other/app', ...MEMBER_REPOS],
};

type Need = 'base' | 'catalog' | 'pull' | 'push' | 'delete';

interface Prepared {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Checks a successful answer further. */
  check?(res: Response, column: Column): Promise<void>;
  /** What an administrator sees afterwards, given whether the request was allowed. */
  effect?(allowed: boolean): Promise<void>;
}

interface Endpoint {
  need: Need;
  prepare(project: string): Promise<Prepared>;
}

let berth: TestBerth;
let cast: Cast;
/** The image tagged v1 in each project's `app` repository. */
const shared = new Map<string, Image>();
let counter = 0;

const chunk = () => randomBytes(16);

const ENDPOINTS: Record<EndpointName, Endpoint> = {
  'base GET': { need: 'base', prepare: async () => ({ method: 'GET', path: '/v2/' }) },
  'catalog GET': {
    need: 'catalog',
    prepare: async () => ({
      method: 'GET',
      path: '/v2/_catalog',
      async check(res, column) {
        expect(((await res.json()) as { repositories: string[] }).repositories).toEqual(CATALOG[column]);
      },
    }),
  },
  'tags/list GET': {
    need: 'pull',
    prepare: async (project) => ({
      method: 'GET',
      path: `/v2/${project}/app/tags/list`,
      async check(res) {
        expect(((await res.json()) as { tags: string[] }).tags).toContain('v1');
      },
    }),
  },
  'manifest GET': {
    need: 'pull',
    prepare: async (project) => ({
      method: 'GET',
      path: `/v2/${project}/app/manifests/v1`,
      headers: { accept: MT.manifest },
      async check(res) {
        expect(Buffer.from(await res.arrayBuffer())).toEqual(shared.get(project)?.manifest);
      },
    }),
  },
  'manifest HEAD': {
    need: 'pull',
    prepare: async (project) => ({
      method: 'HEAD',
      path: `/v2/${project}/app/manifests/v1`,
      headers: { accept: MT.manifest },
      async check(res) {
        expect(res.headers.get('docker-content-digest')).toBe(shared.get(project)?.digest);
      },
    }),
  },
  'manifest PUT': {
    need: 'push',
    prepare: async (project) => {
      // A new manifest over the blobs already in the repository, under a tag of its own.
      const image = tinyImage(shared.get(project)?.layer, `put-${++counter}`);
      await cast.seeder.pushBlob(`${project}/app`, image.config);
      const tag = `put-${counter}`;
      return {
        method: 'PUT',
        path: `/v2/${project}/app/manifests/${tag}`,
        headers: { 'content-type': MT.manifest },
        body: image.manifest,
        async effect(allowed) {
          const status = await cast.seeder.statusOf('GET', `/v2/${project}/app/manifests/${tag}`, {
            accept: MT.manifest,
          });
          expect(status, 'the tag exists afterwards').toBe(allowed ? 200 : 404);
        },
      };
    },
  },
  'manifest DELETE': {
    need: 'delete',
    prepare: async (project) => {
      const image = await cast.seeder.pushImage(`${project}/app`, tinyImage(shared.get(project)?.layer));
      const path = `/v2/${project}/app/manifests/${image.digest}`;
      return {
        method: 'DELETE',
        path,
        async effect(allowed) {
          expect(await cast.seeder.statusOf('HEAD', path, { accept: MT.manifest })).toBe(allowed ? 404 : 200);
        },
      };
    },
  },
  'blob GET': {
    need: 'pull',
    prepare: async (project) => ({
      method: 'GET',
      path: `/v2/${project}/app/blobs/${sha256(shared.get(project)?.layer as Buffer)}`,
      async check(res) {
        expect(Buffer.from(await res.arrayBuffer())).toEqual(shared.get(project)?.layer);
      },
    }),
  },
  'blob HEAD': {
    need: 'pull',
    prepare: async (project) => ({
      method: 'HEAD',
      path: `/v2/${project}/app/blobs/${sha256(shared.get(project)?.layer as Buffer)}`,
    }),
  },
  'blob DELETE': {
    need: 'delete',
    prepare: async (project) => {
      const path = `/v2/${project}/app/blobs/${await cast.seeder.pushBlob(`${project}/app`)}`;
      return {
        method: 'DELETE',
        path,
        async effect(allowed) {
          expect(await cast.seeder.statusOf('HEAD', path)).toBe(allowed ? 404 : 200);
        },
      };
    },
  },
  'upload POST': {
    need: 'push',
    prepare: async (project) => ({
      method: 'POST',
      path: `/v2/${project}/app/blobs/uploads/`,
      async check(res) {
        expect(res.headers.get('location')).toMatch(new RegExp(`^/v2/${project}/app/blobs/uploads/`));
      },
    }),
  },
  'upload POST ?digest=': {
    need: 'push',
    prepare: async (project) => {
      const data = chunk();
      return {
        method: 'POST',
        path: `/v2/${project}/app/blobs/uploads/?digest=${sha256(data)}`,
        headers: { 'content-type': 'application/octet-stream' },
        body: data,
        async effect(allowed) {
          const status = await cast.seeder.statusOf('HEAD', `/v2/${project}/app/blobs/${sha256(data)}`);
          expect(status).toBe(allowed ? 200 : 404);
        },
      };
    },
  },
  'upload POST ?mount=&from=': {
    need: 'push',
    prepare: async (project) => {
      const digest = await cast.seeder.pushBlob(`${project}/src`);
      return {
        method: 'POST',
        path: `/v2/${project}/app/blobs/uploads/?mount=${digest}&from=${project}/src`,
        async effect(allowed) {
          expect(await cast.seeder.statusOf('HEAD', `/v2/${project}/app/blobs/${digest}`)).toBe(
            allowed ? 200 : 404,
          );
        },
      };
    },
  },
  'upload PATCH': {
    need: 'push',
    prepare: async (project) => {
      const location = await cast.seeder.startUpload(`${project}/app`);
      return {
        method: 'PATCH',
        path: location,
        headers: { 'content-type': 'application/octet-stream' },
        body: chunk(),
        async effect(allowed) {
          const res = await cast.seeder.request('GET', location);
          expect(res.status).toBe(204);
          expect(res.headers.get('range'), 'bytes received').toBe(allowed ? '0-15' : '0-0');
        },
      };
    },
  },
  'upload PUT': {
    need: 'push',
    prepare: async (project) => {
      const location = await cast.seeder.startUpload(`${project}/app`);
      const data = chunk();
      return {
        method: 'PUT',
        path: `${location}?digest=${sha256(data)}`,
        headers: { 'content-type': 'application/octet-stream' },
        body: data,
        async effect(allowed) {
          const status = await cast.seeder.statusOf('HEAD', `/v2/${project}/app/blobs/${sha256(data)}`);
          expect(status).toBe(allowed ? 200 : 404);
        },
      };
    },
  },
  'upload GET': {
    need: 'push',
    prepare: async (project) => ({ method: 'GET', path: await cast.seeder.startUpload(`${project}/app`) }),
  },
  'upload DELETE': {
    need: 'push',
    prepare: async (project) => {
      const location = await cast.seeder.startUpload(`${project}/app`);
      return {
        method: 'DELETE',
        path: location,
        async effect(allowed) {
          expect(await cast.seeder.statusOf('GET', location)).toBe(allowed ? 404 : 204);
        },
      };
    },
  },
  'referrers GET': {
    need: 'pull',
    prepare: async (project) => ({
      method: 'GET',
      path: `/v2/${project}/app/referrers/${shared.get(project)?.digest}`,
      async check(res) {
        expect(res.headers.get('content-type')).toMatch(/^application\/vnd\.oci\.image\.index\.v1\+json/);
      },
    }),
  },
};

/** The scopes a client asks a token for before this request (a push also asks to read the mount source). */
function tokenScopes(need: Need, project: string): string[] {
  switch (need) {
    case 'base':
      return [];
    case 'catalog':
      return ['registry:catalog:*'];
    case 'pull':
      return [`repository:${project}/app:pull`];
    case 'push':
      return [`repository:${project}/app:pull,push`, `repository:${project}/src:pull`];
    case 'delete':
      return [`repository:${project}/app:delete`];
  }
}

/** The scope a 401 challenge names for this request (none for the base endpoint). */
function challengeScope(need: Need, project: string): string | null {
  if (need === 'base') return null;
  if (need === 'catalog') return 'registry:catalog:*';
  return `repository:${project}/app:${need === 'push' ? 'pull,push' : need}`;
}

function loginOf(column: Column): Login | undefined {
  switch (column) {
    case 'anonymous':
    case 'anonToken':
      return undefined;
    case 'outsider':
    case 'robot':
    case 'expiredRobot':
      return cast[column];
    case 'systemAdmin':
      return cast.admin;
    default:
      return cast.members[column];
  }
}

/** Tokens as a client keeps them: one per identity and scope set (a login costs a scrypt hash on the server). */
const tokens = new Map<string, Promise<TokenAnswer>>();
function tokenFor(column: Column, scopes: string[]): Promise<TokenAnswer> {
  const key = `${column} ${scopes.join(' ')}`;
  let answer = tokens.get(key);
  if (!answer) {
    answer = getToken(berth.url, { credentials: loginOf(column), scopes });
    tokens.set(key, answer);
  }
  return answer;
}

interface Case {
  name: string;
  endpoint: EndpointName;
  visibility: Visibility | 'registry';
  column: Column;
  mode: Mode;
  status: number;
}

/** What each case sent, for the audit assertions at the end. */
const sent = new Map<string, { path: string }>();
const sentKey = (endpoint: EndpointName, visibility: string, column: Column, mode: Mode) =>
  `${endpoint}|${visibility}|${column}|${mode}`;

const CASES: Case[] = MATRIX.flatMap(([endpoint, visibility, row]) => {
  const statuses = row.trim().split(/\s+/).map(Number);
  expect(statuses).toHaveLength(COLUMNS.length);
  return COLUMNS.flatMap((column, i) => {
    const modes: Mode[] =
      column === 'anonymous' ? ['none'] : column === 'anonToken' ? ['token'] : ['token', 'basic'];
    const status = statuses[i] as number;
    return modes.map((mode) => ({
      name: `${endpoint} on ${visibility === 'registry' ? 'the registry' : `a ${visibility} project`} as ${column} (${mode}) → ${status}`,
      endpoint,
      visibility,
      column,
      mode,
      status,
    }));
  });
});

async function runCase({ endpoint, visibility, column, mode, status }: Case): Promise<void> {
  const { need, prepare } = ENDPOINTS[endpoint];
  const project = visibility === 'registry' ? PROJECT.public : PROJECT[visibility];
  const prepared = await prepare(project);
  let authorization: string | undefined;
  if (mode === 'basic') {
    const login = loginOf(column) as Login;
    authorization = basic(login.username, login.password);
  } else if (mode === 'token') {
    const answer = await tokenFor(column, tokenScopes(need, project));
    if (answer.status !== 200) {
      // The login itself fails: the client never has a token to present.
      expect(answer.status, JSON.stringify(answer.body)).toBe(status);
      expectBasicChallenge(answer);
      await prepared.effect?.(false);
      return;
    }
    authorization = bearer(answer.token as string);
  }
  const res = await fetch(new URL(prepared.path, berth.url), {
    method: prepared.method,
    headers: { ...prepared.headers, ...(authorization && { authorization }) },
    redirect: 'manual',
    ...(prepared.body && { body: prepared.body }),
  });
  sent.set(sentKey(endpoint, visibility, column, mode), { path: prepared.path });
  const where = `${prepared.method} ${prepared.path} → ${res.status} ${await res.clone().text()}`;
  expect(res.status, where).toBe(status);
  if (status === 401) {
    if (column === 'expiredRobot') expectBasicChallenge(res);
    else expectBearerChallenge(res, berth.url, { scope: challengeScope(need, project) });
    if (prepared.method !== 'HEAD') await expectOciError(res, 401, 'UNAUTHORIZED');
  } else if (status === 403) {
    if (prepared.method !== 'HEAD') {
      const error = await expectOciError(res, 403, 'DENIED');
      const subject = (loginOf(column) as Login).username;
      expect(error.message).toBe(`${subject} may not ${need} ${project}/app`);
    }
  } else {
    await prepared.check?.(res, column);
  }
  await prepared.effect?.(status < 300);
}

describe('/v2 authorization matrix', () => {
  beforeAll(async () => {
    // Failed logins (the expired robot) must not trip the per-address throttle for everyone else here.
    berth = await startAuthBerth({ 'auth.maxLoginFailures': 10_000 });
    cast = await createCast(berth, { pub: true, priv: false }, { [OTHER]: false });
    for (const project of Object.values(PROJECT)) {
      shared.set(project, await cast.seeder.pushImage(`${project}/app`, tinyImage(), 'v1'));
      await cast.seeder.pushBlob(`${project}/src`);
    }
    shared.set(OTHER, await cast.seeder.pushImage(`${OTHER}/app`, tinyImage(), 'v1'));
  });

  afterAll(async () => {
    await berth?.close();
  });

  it('covers every endpoint × caller × visibility × credential mode', () => {
    expect(new Set(MATRIX.map(([endpoint]) => endpoint))).toEqual(new Set(Object.keys(ENDPOINTS)));
    expect(CASES).toHaveLength(16 * 2 * 18 + 2 * 18);
  });

  it.each(CASES)('$name', runCase);

  describe('mounts never copy a blob the caller may not read', () => {
    for (const mode of ['token', 'basic'] as const) {
      it(`developer of priv, mounting from ${OTHER} (a private project they are not in), ${mode}: a plain upload session, no blob`, async () => {
        const secret = await cast.seeder.pushBlob(`${OTHER}/app`);
        const dev = cast.members.developer;
        for (const from of [`&from=${OTHER}/app`, '']) {
          const path = `/v2/priv/app/blobs/uploads/?mount=${secret}${from}`;
          const authorization =
            mode === 'basic'
              ? basic(dev.username, dev.password)
              : bearer(
                  (
                    await tokenFor('developer', [
                      'repository:priv/app:pull,push',
                      ...(from ? [`repository:${OTHER}/app:pull`] : []),
                    ])
                  ).token as string,
                );
          const res = await fetch(new URL(path, berth.url), { method: 'POST', headers: { authorization } });
          await res.arrayBuffer();
          // The spec's fallback when a mount is not possible: 202 and a new upload session.
          expect(res.status, path).toBe(202);
          expect(res.headers.get('location')).toMatch(/^\/v2\/priv\/app\/blobs\/uploads\//);
          expect(await cast.seeder.statusOf('HEAD', `/v2/priv/app/blobs/${secret}`)).toBe(404);
        }
      });
    }

    it('the token for the mount source is not granted to an outsider of that project', async () => {
      const answer = await tokenFor('developer', [
        'repository:priv/app:pull,push',
        `repository:${OTHER}/app:pull`,
      ]);
      expect(answer.status).toBe(200);
      const access = JSON.parse(
        Buffer.from((answer.token as string).split('.')[1] as string, 'base64url').toString(),
      ).access;
      expect(access).toEqual([{ type: 'repository', name: 'priv/app', actions: ['pull', 'push'] }]);
    });
  });

  describe('projects that do not exist', () => {
    it('a developer may not push into one (403 naming it); a system administrator creates it, private', async () => {
      const image = tinyImage();
      const dev = cast.members.developer;
      const refused = await fetch(
        new URL(`/v2/newproj/app/blobs/uploads/?digest=${sha256(image.config)}`, berth.url),
        {
          method: 'POST',
          headers: { authorization: basic(dev.username, dev.password) },
          body: image.config,
        },
      );
      const error = await expectOciError(refused, 403, 'DENIED');
      expect(error.message).toBe('project newproj does not exist');

      const answer = await tokenFor('systemAdmin', ['repository:newproj/app:pull,push']);
      expect(answer.status).toBe(200);
      const res = await fetch(
        new URL(`/v2/newproj/app/blobs/uploads/?digest=${sha256(image.config)}`, berth.url),
        {
          method: 'POST',
          headers: { authorization: bearer(answer.token as string) },
          body: image.config,
        },
      );
      expect(res.status, await res.text()).toBe(201);
      expect(await berth.berth.accounts.getProject('newproj')).toMatchObject({
        name: 'newproj',
        public: false,
      });
      // …and it is not visible to the public now.
      const anonymous = await tokenFor('anonToken', ['registry:catalog:*']);
      const catalog = await fetch(new URL('/v2/_catalog', berth.url), {
        headers: { authorization: bearer(anonymous.token as string) },
      });
      expect(((await catalog.json()) as { repositories: string[] }).repositories).toEqual(PUBLIC_REPOS);
    });
  });

  describe('audit log after the matrix', () => {
    const path = (endpoint: EndpointName, visibility: string, column: Column, mode: Mode) => {
      const found = sent.get(sentKey(endpoint, visibility, column, mode));
      expect(found, `${endpoint} ${visibility} ${column} ${mode} was sent`).toBeDefined();
      return (found as { path: string }).path;
    };
    /** `/v2/priv/app/manifests/put-3` → `priv/app:put-3`; by digest → `priv/app@sha256:…`. */
    const resourceOf = (p: string) => {
      const match = /^\/v2\/(.+)\/(?:manifests|blobs)\/([^/?]+)$/.exec(p) as RegExpExecArray;
      const reference = match[2] as string;
      return `${match[1]}${reference.includes(':') ? '@' : ':'}${reference}`;
    };

    it('records pushes, pulls and deletes with actor, resource, result and source address', async () => {
      const pushes = await audit(berth, { actor: 'developer', action: 'push' });
      for (const mode of ['token', 'basic'] as const) {
        expectEvent(pushes, {
          actorKind: 'user',
          resource: resourceOf(path('manifest PUT', 'private', 'developer', mode)),
          result: 'success',
          sourceIp: '127.0.0.1',
        });
      }
      const pulls = await audit(berth, { actor: 'guest', action: 'pull', resourcePrefix: 'priv/' });
      expectEvent(pulls, {
        actorKind: 'user',
        resource: 'priv/app:v1',
        result: 'success',
        sourceIp: '127.0.0.1',
      });
      const anonymous = await audit(berth, { actor: 'anonymous', action: 'pull' });
      expectEvent(anonymous, { actorKind: 'anonymous', resource: 'pub/app:v1', result: 'success' });
      const deletes = await audit(berth, { actor: 'maintainer', action: 'delete' });
      for (const endpoint of ['manifest DELETE', 'blob DELETE'] as const) {
        for (const mode of ['token', 'basic'] as const) {
          expectEvent(deletes, {
            resource: resourceOf(path(endpoint, 'private', 'maintainer', mode)),
            result: 'success',
            sourceIp: '127.0.0.1',
          });
        }
      }
    });

    // Robots once were audited (and named in tokens) as `robot$robot$ci`: subjectOf() prefixed a prefixed name.
    it('records a robot as robot$<name>', async () => {
      const robotPushes = await audit(berth, { actor: 'robot$ci', action: 'push' });
      expectEvent(robotPushes, {
        actorKind: 'robot',
        resource: resourceOf(path('manifest PUT', 'public', 'robot', 'token')),
        result: 'success',
      });
    });

    it('records every refusal (403) as a failure of the action refused', async () => {
      const refusedPushes = await audit(berth, { actor: 'guest', action: 'push' });
      expect(refusedPushes.every((event) => event.result === 'failure' && event.detail === 'HTTP 403')).toBe(
        true,
      );
      expectEvent(refusedPushes, { resource: resourceOf(path('manifest PUT', 'private', 'guest', 'basic')) });
      // Upload routes name the repository only.
      expectEvent(refusedPushes, { resource: 'priv/app' });
      const refusedPulls = await audit(berth, { actor: 'outsider', action: 'pull', resourcePrefix: 'priv/' });
      expectEvent(refusedPulls, { resource: 'priv/app:v1', result: 'failure', detail: 'HTTP 403' });
      const refusedDeletes = await audit(berth, { actor: 'developer', action: 'delete' });
      expectEvent(refusedDeletes, {
        resource: resourceOf(path('manifest DELETE', 'private', 'developer', 'token')),
        result: 'failure',
      });
      // Never a success for what was refused.
      expect(
        (await audit(berth, { actor: 'outsider', resourcePrefix: 'priv/' })).map((e) => e.result),
      ).not.toContain('success');
    });

    it('records logins (success and failure) and token issues with what was granted', async () => {
      const logins = await audit(berth, { actor: 'guest', action: 'login' });
      expectEvent(logins, { resource: 'user:guest', result: 'success', sourceIp: '127.0.0.1' });
      const failed = await audit(berth, { actor: 'robot$gone', action: 'login' });
      expect(failed.length).toBeGreaterThan(0);
      expect(failed.every((event) => event.result === 'failure')).toBe(true);
      expectEvent(failed, { actorKind: 'robot', resource: 'user:robot$gone', detail: 'wrong credentials' });

      const issued = await audit(berth, { actor: 'guest', action: 'token' });
      // A guest asking to push is granted the pull part only, without an error.
      expectEvent(issued, {
        resource: 'repository:priv/app:pull,push repository:priv/src:pull',
        detail: 'repository:priv/app:pull repository:priv/src:pull',
        result: 'success',
      });
      const anonymous = await audit(berth, { actor: 'anonymous', action: 'token' });
      expectEvent(anonymous, { resource: 'repository:priv/app:pull', detail: '', actorKind: 'anonymous' });
      expectEvent(anonymous, { resource: 'repository:pub/app:pull', detail: 'repository:pub/app:pull' });
    });
  });
});
