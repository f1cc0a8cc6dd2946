import { describe, expect, it } from 'vitest';
import {
  type Access,
  AuthError,
  formatScope,
  formatScopes,
  grants,
  intersect,
  MAX_SCOPES,
  parseAccessClaim,
  parseScope,
  parseScopes,
} from '../../../src/auth/index.js';

function scopeError(fn: () => unknown): AuthError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError);
    return error as AuthError;
  }
  throw new Error('expected an error');
}

describe('parseScope', () => {
  it.each<[string, Access]>([
    [
      'repository:samalba/my-app:pull,push',
      { type: 'repository', name: 'samalba/my-app', actions: ['pull', 'push'] },
    ],
    ['repository:busybox:pull', { type: 'repository', name: 'busybox', actions: ['pull'] }],
    ['repository:a/b/c/d:delete', { type: 'repository', name: 'a/b/c/d', actions: ['delete'] }],
    ['repository:team/app:*', { type: 'repository', name: 'team/app', actions: ['*'] }],
    // Canonical order, duplicates removed.
    ['repository:x:push,pull,push', { type: 'repository', name: 'x', actions: ['pull', 'push'] }],
    ['repository:x:*,delete,pull', { type: 'repository', name: 'x', actions: ['pull', 'delete', '*'] }],
    ['registry:catalog:*', { type: 'registry', name: 'catalog', actions: ['*'] }],
    // The deprecated resource class is accepted and dropped.
    ['repository(plugin):vieux/sshfs:pull', { type: 'repository', name: 'vieux/sshfs', actions: ['pull'] }],
    [
      'repository:registry.example.com/app:pull',
      {
        type: 'repository',
        name: 'registry.example.com/app',
        actions: ['pull'],
      },
    ],
  ])('parses %j', (scope, expected) => {
    expect(parseScope(scope)).toEqual(expected);
  });

  it.each([
    ['', 'expected type:name:actions'],
    ['repository', 'expected type:name:actions'],
    ['repository:busybox', 'expected type:name:actions'],
    ['repository:busybox:', 'no actions'],
    ['repository:busybox:pull,', 'empty action'],
    ['repository:busybox:,pull', 'empty action'],
    ['repository:busybox:read', 'unknown action "read"'],
    ['repository:busybox:PULL', 'unknown action "PULL"'],
    ['repository:busybox:pull push', 'unknown action'],
    ['repository::pull', 'not a valid repository name'],
    ['repository:Busybox:pull', 'not a valid repository name'],
    ['repository:team//app:pull', 'not a valid repository name'],
    ['repository:/app:pull', 'not a valid repository name'],
    ['repository:app/:pull', 'not a valid repository name'],
    ['repository:../etc:pull', 'not a valid repository name'],
    ['repository:localhost:5000/app:pull', 'must not include a registry host:port'],
    ['repository:a:b:pull', 'must not include a registry host:port'],
    ['namespace:team:pull', 'unsupported resource type "namespace"'],
    ['Repository:busybox:pull', 'malformed resource type'],
    ['repository(:busybox:pull', 'malformed resource type'],
    [':busybox:pull', 'malformed resource type'],
    ['registry:catalog:pull', 'unknown action "pull" for registry'],
    ['registry:other:*', 'the only registry resource is "catalog"'],
  ])('rejects %j (%s)', (scope, reason) => {
    const error = scopeError(() => parseScope(scope));
    expect(error.code).toBe('SCOPE_INVALID');
    expect(error.status).toBe(400);
    expect(error.message).toContain(reason);
    expect(error.message).toContain(JSON.stringify(scope));
  });

  it('rejects a name over 255 characters', () => {
    const error = scopeError(() => parseScope(`repository:${'a'.repeat(256)}:pull`));
    expect(error.code).toBe('SCOPE_INVALID');
  });
});

describe('parseScopes', () => {
  it('takes repeated parameters (GET) and space-separated lists (POST), merging the same resource', () => {
    expect(
      parseScopes(['repository:a/b:pull', 'repository:c:push registry:catalog:*', 'repository:a/b:push']),
    ).toEqual([
      { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
      { type: 'repository', name: 'c', actions: ['push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  it('returns nothing for no scope (a plain login) and ignores empty pieces', () => {
    expect(parseScopes(undefined)).toEqual([]);
    expect(parseScopes(null)).toEqual([]);
    expect(parseScopes('')).toEqual([]);
    expect(parseScopes(['', '  '])).toEqual([]);
    expect(parseScopes('repository:a:pull  repository:b:pull')).toHaveLength(2);
  });

  it('fails on the first malformed scope of a list', () => {
    const error = scopeError(() => parseScopes(['repository:a:pull', 'repository:a:pull repository:B:pull']));
    expect(error.message).toContain('repository:B:pull');
  });

  it(`refuses more than ${MAX_SCOPES} scopes`, () => {
    const many = Array.from({ length: MAX_SCOPES + 1 }, (_, i) => `repository:r${i}:pull`);
    expect(parseScopes(many.slice(0, MAX_SCOPES))).toHaveLength(MAX_SCOPES);
    expect(scopeError(() => parseScopes(many.join(' '))).code).toBe('SCOPE_INVALID');
  });
});

describe('formatScope', () => {
  it('round-trips with parseScope', () => {
    for (const scope of ['repository:a/b:pull,push', 'repository:x:pull,delete,*', 'registry:catalog:*']) {
      expect(formatScope(parseScope(scope))).toBe(scope);
    }
  });

  it('orders actions canonically and joins several scopes with spaces', () => {
    expect(formatScope({ type: 'repository', name: 'x', actions: ['push', 'pull'] })).toBe(
      'repository:x:pull,push',
    );
    expect(formatScopes(parseScopes('repository:a:push repository:b:pull'))).toBe(
      'repository:a:push repository:b:pull',
    );
    expect(formatScopes([])).toBe('');
  });
});

describe('intersect', () => {
  const requested = parseScopes('repository:team/app:pull,push repository:other/x:pull registry:catalog:*');

  it('keeps only what is allowed, resource by resource', () => {
    const allowed = parseScopes('repository:team/app:pull repository:other/x:pull,push,delete');
    expect(intersect(requested, allowed)).toEqual([
      { type: 'repository', name: 'team/app', actions: ['pull'] },
      { type: 'repository', name: 'other/x', actions: ['pull'] },
    ]);
  });

  it('drops resources with nothing allowed (partial access is not an error)', () => {
    expect(intersect(requested, [])).toEqual([]);
    expect(intersect(requested, parseScopes('repository:unrelated:pull'))).toEqual([]);
  });

  it('lets an allowed * grant every requested action, but not a requested * by itself', () => {
    expect(intersect(parseScopes('repository:a:pull,push,delete'), parseScopes('repository:a:*'))).toEqual(
      parseScopes('repository:a:pull,push,delete'),
    );
    expect(intersect(parseScopes('repository:a:*'), parseScopes('repository:a:pull,push,delete'))).toEqual(
      [],
    );
    expect(intersect(parseScopes('registry:catalog:*'), parseScopes('registry:catalog:*'))).toEqual(
      parseScopes('registry:catalog:*'),
    );
  });

  it('does not confuse types or similar names', () => {
    const allowed: Access[] = [
      { type: 'repository', name: 'team/ap', actions: ['pull'] },
      { type: 'repository', name: 'team/app/sub', actions: ['pull'] },
      { type: 'repository', name: 'catalog', actions: ['*'] },
    ];
    expect(intersect(requested, allowed)).toEqual([]);
  });
});

describe('grants', () => {
  const access = parseScopes('repository:a/b:pull repository:c:* registry:catalog:*');

  it('answers per resource and action', () => {
    expect(grants(access, 'repository', 'a/b', 'pull')).toBe(true);
    expect(grants(access, 'repository', 'a/b', 'push')).toBe(false);
    expect(grants(access, 'repository', 'a', 'pull')).toBe(false);
    expect(grants(access, 'repository', 'c', 'delete')).toBe(true);
    expect(grants(access, 'registry', 'catalog', '*')).toBe(true);
    expect(grants(access, 'repository', 'catalog', 'pull')).toBe(false);
    expect(grants([], 'repository', 'a/b', 'pull')).toBe(false);
  });
});

describe('parseAccessClaim', () => {
  it('accepts the claim shape from the JWT spec', () => {
    const claim = [{ type: 'repository', name: 'samalba/my-app', actions: ['push', 'pull'] }];
    expect(parseAccessClaim(claim)).toEqual([
      { type: 'repository', name: 'samalba/my-app', actions: ['pull', 'push'] },
    ]);
    expect(parseAccessClaim([])).toEqual([]);
  });

  it.each<[string, unknown]>([
    ['not an array', { type: 'repository', name: 'a', actions: ['pull'] }],
    ['null', null],
    ['entry not an object', ['repository:a:pull']],
    ['array entry', [['repository', 'a', ['pull']]]],
    ['missing actions', [{ type: 'repository', name: 'a' }]],
    ['extra field', [{ type: 'repository', name: 'a', actions: ['pull'], admin: true }]],
    ['unknown type', [{ type: 'namespace', name: 'a', actions: ['pull'] }]],
    ['numeric name', [{ type: 'repository', name: 7, actions: ['pull'] }]],
    ['bad name', [{ type: 'repository', name: 'A/../b', actions: ['pull'] }]],
    ['actions as a string', [{ type: 'repository', name: 'a', actions: 'pull' }]],
    ['unknown action', [{ type: 'repository', name: 'a', actions: ['pull', 'admin'] }]],
    ['non-string action', [{ type: 'repository', name: 'a', actions: [1] }]],
    ['catalog with pull', [{ type: 'registry', name: 'catalog', actions: ['pull'] }]],
    [
      'too many entries',
      Array.from({ length: MAX_SCOPES + 1 }, () => ({ type: 'repository', name: 'a', actions: [] })),
    ],
  ])('rejects %s with TOKEN_INVALID', (_label, claim) => {
    const error = scopeError(() => parseAccessClaim(claim));
    expect(error.code).toBe('TOKEN_INVALID');
  });
});
