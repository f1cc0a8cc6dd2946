import { describe, expect, it } from 'vitest';
import {
  type Action,
  authorize,
  canListCatalog,
  grantAccess,
  type Identity,
  IpAllowlist,
  type ProjectPolicy,
  parseScopes,
  permittedActions,
  scopeActionsFor,
} from '../../../src/auth/index.js';

const NOW = new Date('2025-01-01T00:00:00Z');
const anonymous: Identity = { kind: 'anonymous' };
const alice: Identity = { kind: 'user', username: 'alice' };
const bob: Identity = { kind: 'user', username: 'bob', groups: ['Devs'] };
const carol: Identity = { kind: 'user', username: 'carol' };
const root: Identity = { kind: 'user', username: 'root', systemAdmin: true };

const team: ProjectPolicy = {
  name: 'team',
  public: false,
  members: [
    { kind: 'user', name: 'alice', role: 'developer' },
    { kind: 'group', name: 'devs', role: 'maintainer' },
    { kind: 'user', name: 'bob', role: 'guest' },
  ],
};
const open: ProjectPolicy = {
  name: 'open',
  public: true,
  members: [{ kind: 'user', name: 'alice', role: 'projectAdmin' }],
};

function robot(
  permissions: { project: string; actions: Action[] }[],
  expiresAt: Date | null = null,
): Identity {
  return { kind: 'robot', name: 'robot$team+ci', expiresAt, permissions };
}

const sorted = (set: Set<Action>) => [...set].sort();

describe('permittedActions', () => {
  it('gives members the actions of their role', () => {
    expect(sorted(permittedActions({ identity: alice, project: team, now: NOW }))).toEqual(['pull', 'push']);
  });

  it('takes the highest of a user role and group roles; group names match case-insensitively', () => {
    expect(sorted(permittedActions({ identity: bob, project: team, now: NOW }))).toEqual(
      ['delete', 'pull', 'push', 'tags:manage'].sort(),
    );
  });

  it('gives non-members of a private project nothing, and of a public project pull only', () => {
    expect(sorted(permittedActions({ identity: carol, project: team, now: NOW }))).toEqual([]);
    expect(sorted(permittedActions({ identity: carol, project: open, now: NOW }))).toEqual(['pull']);
    expect(sorted(permittedActions({ identity: anonymous, project: open, now: NOW }))).toEqual(['pull']);
    expect(sorted(permittedActions({ identity: anonymous, project: team, now: NOW }))).toEqual([]);
  });

  it('gives system administrators everything on every project', () => {
    expect(permittedActions({ identity: root, project: team, now: NOW }).size).toBe(7);
    expect(permittedActions({ identity: root, project: team, now: NOW }).has('bypass-policy')).toBe(true);
  });

  it('gives bypass-policy to no project role, only to system administrators and robots granted it', () => {
    // alice administers `open`.
    expect(permittedActions({ identity: alice, project: open, now: NOW }).has('bypass-policy')).toBe(false);
    const mirror = robot([{ project: 'team', actions: ['pull', 'bypass-policy'] }]);
    expect(sorted(permittedActions({ identity: mirror, project: team, now: NOW }))).toEqual([
      'bypass-policy',
      'pull',
    ]);
  });

  it('gives robots exactly their per-project permissions, project * meaning all', () => {
    const ci = robot([
      { project: 'team', actions: ['pull', 'push'] },
      { project: 'other', actions: ['delete'] },
    ]);
    expect(sorted(permittedActions({ identity: ci, project: team, now: NOW }))).toEqual(['pull', 'push']);
    const everywhere = robot([{ project: '*', actions: ['pull'] }]);
    expect(sorted(permittedActions({ identity: everywhere, project: team, now: NOW }))).toEqual(['pull']);
  });

  it('gives an expired robot nothing beyond public pull', () => {
    const expired = robot([{ project: 'team', actions: ['pull', 'push'] }], new Date(NOW.getTime() - 1));
    expect(sorted(permittedActions({ identity: expired, project: team, now: NOW }))).toEqual([]);
    const atExpiry = robot([{ project: 'open', actions: ['push'] }], NOW);
    expect(sorted(permittedActions({ identity: atExpiry, project: open, now: NOW }))).toEqual(['pull']);
    const future = robot([{ project: 'team', actions: ['push'] }], new Date(NOW.getTime() + 1000));
    expect(sorted(permittedActions({ identity: future, project: team, now: NOW }))).toEqual(['push']);
  });
});

describe('authorize', () => {
  it('allows what the role allows', () => {
    expect(authorize({ identity: alice, project: team, action: 'push', now: NOW })).toEqual({
      allowed: true,
    });
    expect(authorize({ identity: alice, project: open, action: 'members:manage', now: NOW })).toEqual({
      allowed: true,
    });
  });

  it('says why it denies: unauthenticated, expired, forbidden', () => {
    expect(authorize({ identity: anonymous, project: team, action: 'pull', now: NOW })).toEqual({
      allowed: false,
      reason: 'unauthenticated',
    });
    expect(authorize({ identity: anonymous, project: open, action: 'push', now: NOW })).toEqual({
      allowed: false,
      reason: 'unauthenticated',
    });
    const expired = robot([{ project: 'team', actions: ['pull'] }], new Date(0));
    expect(authorize({ identity: expired, project: team, action: 'pull', now: NOW })).toEqual({
      allowed: false,
      reason: 'expired',
    });
    expect(authorize({ identity: alice, project: team, action: 'delete', now: NOW })).toEqual({
      allowed: false,
      reason: 'forbidden',
    });
    expect(authorize({ identity: carol, project: team, action: 'pull', now: NOW })).toEqual({
      allowed: false,
      reason: 'forbidden',
    });
  });

  it('defaults "now" to the current time', () => {
    const expired = robot([{ project: 'team', actions: ['pull'] }], new Date(Date.now() - 1000));
    expect(authorize({ identity: expired, project: team, action: 'pull' })).toEqual({
      allowed: false,
      reason: 'expired',
    });
  });

  describe('push allowlist', () => {
    const guarded: ProjectPolicy = { ...team, pushAllowlist: ['10.0.0.0/8', '2001:db8::/32'] };

    it('allows push and delete only from listed addresses (IPv4, IPv6, IPv4-mapped)', () => {
      for (const sourceIp of ['10.1.2.3', '2001:db8::7', '::ffff:10.9.9.9']) {
        expect(authorize({ identity: alice, project: guarded, action: 'push', sourceIp, now: NOW })).toEqual({
          allowed: true,
        });
      }
      expect(
        authorize({ identity: alice, project: guarded, action: 'push', sourceIp: '192.0.2.1', now: NOW }),
      ).toEqual({
        allowed: false,
        reason: 'address-not-allowed',
      });
      expect(
        authorize({ identity: bob, project: guarded, action: 'delete', sourceIp: '2001:db9::1', now: NOW }),
      ).toEqual({ allowed: false, reason: 'address-not-allowed' });
    });

    it('does not restrict pull or management actions', () => {
      expect(
        authorize({ identity: alice, project: guarded, action: 'pull', sourceIp: '192.0.2.1', now: NOW }),
      ).toEqual({
        allowed: true,
      });
      expect(
        authorize({
          identity: bob,
          project: guarded,
          action: 'tags:manage',
          sourceIp: '192.0.2.1',
          now: NOW,
        }),
      ).toEqual({ allowed: true });
    });

    it('applies to system administrators and robots too', () => {
      expect(
        authorize({ identity: root, project: guarded, action: 'push', sourceIp: '192.0.2.1', now: NOW }),
      ).toEqual({
        allowed: false,
        reason: 'address-not-allowed',
      });
      const ci = robot([{ project: 'team', actions: ['push'] }]);
      expect(
        authorize({ identity: ci, project: guarded, action: 'push', sourceIp: '10.0.0.5', now: NOW }),
      ).toEqual({
        allowed: true,
      });
    });

    it('fails closed when the client address is unknown', () => {
      expect(authorize({ identity: alice, project: guarded, action: 'push', now: NOW })).toEqual({
        allowed: false,
        reason: 'address-not-allowed',
      });
    });

    it('accepts a pre-parsed IpAllowlist, and an empty allowlist blocks all writes', () => {
      const parsed: ProjectPolicy = { ...team, pushAllowlist: IpAllowlist.parse(['192.0.2.0/24']) };
      expect(
        authorize({ identity: alice, project: parsed, action: 'push', sourceIp: '192.0.2.1', now: NOW }),
      ).toEqual({
        allowed: true,
      });
      const empty: ProjectPolicy = { ...team, pushAllowlist: [] };
      expect(
        authorize({ identity: alice, project: empty, action: 'push', sourceIp: '10.0.0.1', now: NOW }),
      ).toEqual({
        allowed: false,
        reason: 'address-not-allowed',
      });
    });

    it('still reports forbidden for an action the role lacks anyway', () => {
      expect(
        authorize({ identity: alice, project: guarded, action: 'delete', sourceIp: '192.0.2.1', now: NOW }),
      ).toEqual({ allowed: false, reason: 'forbidden' });
    });
  });
});

describe('scopeActionsFor', () => {
  it('maps to token actions, adding * only with pull, push and delete', () => {
    expect(scopeActionsFor(new Set<Action>(['pull']))).toEqual(['pull']);
    expect(scopeActionsFor(new Set<Action>(['pull', 'push', 'members:manage']))).toEqual(['pull', 'push']);
    expect(scopeActionsFor(new Set<Action>(['delete', 'push', 'pull']))).toEqual([
      'pull',
      'push',
      'delete',
      '*',
    ]);
    expect(scopeActionsFor(new Set<Action>())).toEqual([]);
  });
});

describe('canListCatalog', () => {
  it('is for system administrators only', () => {
    expect(canListCatalog(root)).toBe(true);
    expect(canListCatalog(alice)).toBe(false);
    expect(canListCatalog(anonymous)).toBe(false);
    expect(canListCatalog(robot([{ project: '*', actions: ['pull', 'push', 'delete'] }]))).toBe(false);
  });
});

describe('grantAccess', () => {
  const projects = new Map([
    ['team', team],
    ['open', open],
    ['library', { name: 'library', public: true, members: [] } satisfies ProjectPolicy],
  ]);
  const lookup = (name: string) => projects.get(name);
  const requested = parseScopes(
    'repository:team/app:pull,push repository:open/tool:pull,push,delete repository:busybox:pull,push registry:catalog:*',
  );

  it('intersects each requested scope with what the identity holds on its project', () => {
    expect(grantAccess({ identity: alice, requested, project: lookup, now: NOW })).toEqual(
      parseScopes(
        'repository:team/app:pull,push repository:open/tool:pull,push,delete repository:busybox:pull',
      ),
    );
  });

  it('gives anonymous clients public pulls only; single-segment names fall in "library"', () => {
    expect(grantAccess({ identity: anonymous, requested, project: lookup, now: NOW })).toEqual(
      parseScopes('repository:open/tool:pull repository:busybox:pull'),
    );
  });

  it('grants * and the catalog to system administrators, even in projects that do not exist yet', () => {
    const wanted = parseScopes('repository:newproject/app:* registry:catalog:*');
    expect(grantAccess({ identity: root, requested: wanted, project: lookup, now: NOW })).toEqual(wanted);
    expect(grantAccess({ identity: alice, requested: wanted, project: lookup, now: NOW })).toEqual([]);
  });

  it('honours the push allowlist with the source address', () => {
    const guarded = new Map([['team', { ...team, pushAllowlist: ['10.0.0.0/8'] }]]);
    const wanted = parseScopes('repository:team/app:pull,push');
    expect(
      grantAccess({
        identity: alice,
        requested: wanted,
        project: (n) => guarded.get(n),
        sourceIp: '10.0.0.1',
      }),
    ).toEqual(wanted);
    expect(
      grantAccess({
        identity: alice,
        requested: wanted,
        project: (n) => guarded.get(n),
        sourceIp: '192.0.2.1',
      }),
    ).toEqual(parseScopes('repository:team/app:pull'));
  });
});

describe('a personal access token limit (Identity.limit)', () => {
  const limited = (limit: { project: string; actions: Action[] }[], base: Identity = alice): Identity => ({
    ...(base as Identity & { kind: 'user' }),
    limit,
  });

  it('grants only what both the roles and the limit allow', () => {
    const pullTeam = limited([{ project: 'team', actions: ['pull'] }]);
    expect(sorted(permittedActions({ identity: pullTeam, project: team, now: NOW }))).toEqual(['pull']);
    // Public pull stays (anonymous has it), but the role on `open` is cut off.
    expect(sorted(permittedActions({ identity: pullTeam, project: open, now: NOW }))).toEqual(['pull']);
    const wide = limited([{ project: '*', actions: ['pull', 'push', 'delete', 'members:manage'] }]);
    // The limit widens nothing: alice is a developer on team.
    expect(sorted(permittedActions({ identity: wide, project: team, now: NOW }))).toEqual(['pull', 'push']);
    expect(sorted(permittedActions({ identity: limited([]), project: team, now: NOW }))).toEqual([]);
  });

  it('narrows group roles and system administrators too', () => {
    const viaGroup = limited([{ project: 'team', actions: ['pull', 'delete'] }], bob);
    expect(sorted(permittedActions({ identity: viaGroup, project: team, now: NOW }))).toEqual([
      'delete',
      'pull',
    ]);
    const admin = limited([{ project: 'other', actions: ['push'] }], root);
    expect(sorted(permittedActions({ identity: admin, project: team, now: NOW }))).toEqual([]);
    expect(
      sorted(permittedActions({ identity: admin, project: { ...team, name: 'other' }, now: NOW })),
    ).toEqual(['push']);
  });

  it('answers forbidden for what the limit takes away', () => {
    const pullTeam = limited([{ project: 'team', actions: ['pull'] }]);
    expect(authorize({ identity: pullTeam, project: team, action: 'push', now: NOW })).toEqual({
      allowed: false,
      reason: 'forbidden',
    });
    expect(authorize({ identity: pullTeam, project: team, action: 'pull', now: NOW })).toEqual({
      allowed: true,
    });
  });

  it('lists the catalog only for an administrator whose limit pulls from every project', () => {
    expect(canListCatalog(limited([{ project: 'team', actions: ['pull'] }], root))).toBe(false);
    expect(canListCatalog(limited([{ project: '*', actions: ['push'] }], root))).toBe(false);
    expect(canListCatalog(limited([{ project: '*', actions: ['pull'] }], root))).toBe(true);
    expect(canListCatalog(limited([{ project: '*', actions: ['pull'] }]))).toBe(false);
  });

  it('is intersected by grantAccess, also in projects that do not exist yet', () => {
    const projects = new Map([['team', team]]);
    const lookup = (name: string) => projects.get(name);
    const wanted = parseScopes(
      'repository:team/app:pull,push repository:newproject/app:pull,push,delete registry:catalog:*',
    );
    const pullTeam = limited([{ project: 'team', actions: ['pull'] }]);
    expect(grantAccess({ identity: pullTeam, requested: wanted, project: lookup, now: NOW })).toEqual(
      parseScopes('repository:team/app:pull'),
    );
    const admin = limited([{ project: 'newproject', actions: ['pull', 'push'] }], root);
    expect(grantAccess({ identity: admin, requested: wanted, project: lookup, now: NOW })).toEqual(
      parseScopes('repository:newproject/app:pull,push'),
    );
    const star = parseScopes('repository:newproject/app:*');
    expect(grantAccess({ identity: admin, requested: star, project: lookup, now: NOW })).toEqual([]);
  });
});
