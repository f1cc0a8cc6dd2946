// Table tests of the two grammars the branch/mirror features read: which proxy project a daemon's plain name
// falls to (MirrorNames), and the pushes and deletes in a remote's webhook body (parseRemoteEvents).
import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../../src/registry/index.js';
import { parseRemoteEvents } from '../../../src/replication/policies/remote-events.js';
import { MirrorNames } from '../../../src/replication/proxy/index.js';

/** The projects here, the proxy projects among them, and the repositories that exist. */
function mirrorNames(mirrorProject: string, repositories = new Set(['library/myapp'])) {
  const projects = new Set(['library', 'team', 'hub', 'gh', 'dist']);
  const proxies = [
    { project: 'gh', url: 'https://ghcr.io' },
    { project: 'hub', url: 'https://registry-1.docker.io' },
    { project: 'dist', url: 'http://127.0.0.1:5001' },
  ];
  const db = {
    selectFrom: () => ({
      select: () => ({
        where: (_column: string, _op: string, name: string) => ({
          executeTakeFirst: async () => (projects.has(name) ? { id: 1 } : undefined),
        }),
      }),
    }),
  };
  return new MirrorNames({
    db: db as never,
    mirrorProject,
    proxyProjects: async () => proxies,
    repositoryExists: async (name) => repositories.has(name),
  });
}

describe('MirrorNames', () => {
  it.each([
    // Docker's registry-mirrors: no ns.
    ['bitnami/redis', undefined, 'hub/bitnami/redis'],
    ['library/alpine', undefined, 'hub/library/alpine'],
    ['alpine', undefined, 'hub/alpine'],
    ['library/myapp', undefined, undefined],
    ['team/app', undefined, undefined],
    ['hub/library/alpine', undefined, undefined],
    // containerd's ns=: the project bound to that host, whatever projects exist.
    ['library/alpine', 'docker.io', 'hub/library/alpine'],
    ['team/app', 'registry-1.docker.io', 'hub/team/app'],
    ['hub/library/alpine', 'docker.io', undefined],
    ['owner/tool', 'ghcr.io', 'gh/owner/tool'],
    ['lib/tool', '127.0.0.1:5001', 'dist/lib/tool'],
    ['lib/tool', '127.0.0.1:5002', undefined],
    ['lib/tool', 'quay.io', undefined],
    ['lib/tool', 'not a host', undefined],
  ])('%s (ns=%s) → %s', async (name, ns, expected) => {
    expect((await mirrorNames('hub').resolve(name, ns))?.name).toBe(expected);
  });

  it('maps nothing without ns when no mirror project is set, and nothing into a project that is not there', async () => {
    expect(await mirrorNames('').resolve('bitnami/redis', undefined)).toBeUndefined();
    expect(await mirrorNames('nowhere').resolve('bitnami/redis', undefined)).toBeUndefined();
    expect(await mirrorNames('').resolve('library/alpine', 'docker.io')).toEqual({
      name: 'hub/library/alpine',
      via: 'ns',
      ns: 'docker.io',
    });
  });

  it('stops mirroring a library/ name once it is pushed here (this node at once)', async () => {
    const repositories = new Set<string>();
    const names = mirrorNames('hub', repositories);
    expect((await names.resolve('library/alpine', undefined))?.via).toBe('mirror');
    repositories.add('library/alpine');
    names.pushed('library/alpine');
    expect(await names.resolve('library/alpine', undefined)).toBeUndefined();
  });
});

const DIGEST = `sha256:${'b'.repeat(64)}`;

describe('parseRemoteEvents', () => {
  it.each([
    [
      'a Berth CloudEvent',
      {
        specversion: '1.0',
        type: 'io.berth.artifact.pushed',
        data: { repository: 'team/app', tag: 'v1' },
      },
      [{ action: 'push', repository: 'team/app', tag: 'v1' }],
      0,
    ],
    [
      'a CloudEvents batch with a pull',
      [
        {
          specversion: '1.0',
          type: 'io.berth.artifact.deleted',
          data: { repository: 'a/b', digest: DIGEST },
        },
        { specversion: '1.0', type: 'io.berth.artifact.pulled', data: { repository: 'a/b', tag: 'v1' } },
      ],
      [{ action: 'delete', repository: 'a/b', digest: DIGEST }],
      1,
    ],
    [
      "Harbor's payload",
      {
        type: 'PUSH_ARTIFACT',
        event_data: {
          resources: [{ tag: 'v2', digest: DIGEST }],
          repository: { repo_full_name: 'library/alpine' },
        },
      },
      [{ action: 'push', repository: 'library/alpine', tag: 'v2', digest: DIGEST }],
      0,
    ],
    ["Harbor's scan event", { type: 'SCANNING_COMPLETED', event_data: { resources: [] } }, [], 1],
    [
      "Distribution's envelope: a blob push, a manifest push, a pull, a delete",
      {
        events: [
          {
            action: 'push',
            target: { mediaType: 'application/octet-stream', repository: 'x/y', digest: DIGEST },
          },
          {
            action: 'push',
            target: {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              repository: 'x/y',
              tag: '1.0',
              digest: DIGEST,
            },
          },
          {
            action: 'pull',
            target: {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              repository: 'x/y',
              tag: '1.0',
            },
          },
          { action: 'delete', target: { repository: 'x/y', digest: DIGEST } },
        ],
      },
      [
        { action: 'push', repository: 'x/y', tag: '1.0', digest: DIGEST },
        { action: 'delete', repository: 'x/y', digest: DIGEST },
      ],
      2,
    ],
  ])('%s', (_what, body, events, ignored) => {
    expect(parseRemoteEvents(body)).toEqual({ events, ignored });
  });

  it.each([
    ['not an object', 'push'],
    ['no known shape', { hello: 'world' }],
    [
      'a bad repository',
      { specversion: '1.0', type: 'io.berth.artifact.pushed', data: { repository: 'A/B', tag: 'v' } },
    ],
    [
      'a bad tag',
      { specversion: '1.0', type: 'io.berth.artifact.pushed', data: { repository: 'a/b', tag: '-x' } },
    ],
    [
      'neither tag nor digest',
      { specversion: '1.0', type: 'io.berth.artifact.pushed', data: { repository: 'a/b' } },
    ],
    ['a target-less event', { events: [{ action: 'push' }] }],
    ['too many events', { events: Array.from({ length: 1001 }, () => ({ action: 'pull', target: {} })) }],
  ])('refuses %s', (_what, body) => {
    expect(() => parseRemoteEvents(body)).toThrow(RegistryError);
  });
});
