// Tag immutability rule evaluation: which rule protects which tag of which repository, the refusal it gives,
// and the registry hook over rules stored in a real database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ImmutabilityRule,
  immutableTagError,
  protectingRule,
  REPOSITORY_PATTERN,
  TAG_PATTERN,
} from '../../../src/lifecycle/index.js';
import { RegistryError } from '../../../src/registry/index.js';
import { openStores, type Stores } from './support.js';

function rule(id: number, repositoryPattern: string, tagPattern: string): ImmutabilityRule {
  return { id, project: 'team', repositoryPattern, tagPattern, createdAt: 0 };
}

describe('protectingRule', () => {
  const rules = [rule(3, 'team/**', 'v*'), rule(5, 'team/app', '*'), rule(7, 'team/*/db', 'release-?')];

  const CASES: [repository: string, tag: string, id: number | undefined][] = [
    ['team/app', 'v1.0', 3],
    ['team/app', 'latest', 5],
    ['team/other', 'v2', 3],
    ['team/other', 'latest', undefined],
    ['team/x/db', 'release-1', 7],
    ['team/x/db', 'release-10', undefined],
    ['team/x/y/db', 'release-1', undefined],
    ['teamwork/app', 'v1.0', undefined],
  ];
  for (const [repository, tag, id] of CASES) {
    it(`${repository}:${tag} → ${id === undefined ? 'free' : `rule ${id}`}`, () => {
      expect(protectingRule(rules, repository, tag)?.id).toBe(id);
    });
  }

  it('names the first matching rule in the order given (the store gives them oldest first)', () => {
    expect(protectingRule([rule(9, 'team/**', '*'), rule(2, 'team/app', 'v*')], 'team/app', 'v1')?.id).toBe(
      9,
    );
    expect(protectingRule([rule(2, 'team/app', 'v*'), rule(9, 'team/**', '*')], 'team/app', 'v1')?.id).toBe(
      2,
    );
  });

  it('protects nothing without rules', () => {
    expect(protectingRule([], 'team/app', 'v1')).toBeUndefined();
  });
});

describe('immutableTagError', () => {
  it('is DENIED and names the tag, the repository and the rule', () => {
    const error = immutableTagError(rule(3, 'team/**', 'v*'), 'team/app', 'v1.0');
    expect(error).toBeInstanceOf(RegistryError);
    expect(error.status).toBe(403);
    expect(error.toBody()).toEqual({
      errors: [
        {
          code: 'DENIED',
          message: 'tag v1.0 of team/app is immutable (rule 3: repository "team/**", tag "v*")',
          detail: {
            repository: 'team/app',
            tag: 'v1.0',
            rule: { id: 3, repositoryPattern: 'team/**', tagPattern: 'v*' },
          },
        },
      ],
    });
  });

  it('says which manifest cannot be deleted', () => {
    const error = immutableTagError(rule(3, 'team/**', 'v*'), 'team/app', 'v1.0', 'sha256:abc');
    expect(error.message).toBe(
      'manifest sha256:abc cannot be deleted: tag v1.0 of team/app is immutable (rule 3: repository "team/**", tag "v*")',
    );
    expect(error.detail).toMatchObject({ manifest: 'sha256:abc' });
  });
});

describe('pattern grammar', () => {
  it.each(['team/**', 'team/app', '**', 'a.b_c-d/*/e?'])('accepts repository pattern %s', (pattern) => {
    expect(REPOSITORY_PATTERN.test(pattern)).toBe(true);
  });
  it.each(['', 'Team/app', 'team app', 'team/[ab]', 'x'.repeat(256)])(
    'refuses repository pattern %j',
    (p) => {
      expect(REPOSITORY_PATTERN.test(p)).toBe(false);
    },
  );
  it.each(['v*', 'Latest', '*', '1.0-rc?', 'a_b'])('accepts tag pattern %s', (pattern) => {
    expect(TAG_PATTERN.test(pattern)).toBe(true);
  });
  it.each(['', 'v/1', 'v 1', 'x'.repeat(129)])('refuses tag pattern %j', (pattern) => {
    expect(TAG_PATTERN.test(pattern)).toBe(false);
  });
});

describe('TagImmutability over stored rules', () => {
  let stores: Stores;
  beforeAll(async () => {
    stores = await openStores();
    await stores.accounts.bootstrap('admin password 1');
    await stores.accounts.createProject({ name: 'team' });
    await stores.accounts.createProject({ name: 'other' });
  });
  afterAll(() => stores.close());

  it('protects the tags its project rules name, in the repositories they name', async () => {
    const { lifecycle } = stores;
    const added = await lifecycle.addRule('team', { repositoryPattern: 'team/app', tagPattern: 'v*' });
    await lifecycle.addRule('other', { repositoryPattern: '**', tagPattern: '*' });

    const protection = await lifecycle.immutability.protection('team/app');
    expect(protection).toBeDefined();
    expect(protection?.('v1')?.message).toBe(
      `tag v1 of team/app is immutable (rule ${added.id}: repository "team/app", tag "v*")`,
    );
    expect(protection?.('latest')).toBeUndefined();
    // No rule of team names team/db, and other's rules are other's.
    expect(await lifecycle.immutability.protection('team/db')).toBeUndefined();
    // A rule naming another project's repositories does nothing there.
    await lifecycle.addRule('team', { repositoryPattern: 'other/**', tagPattern: '*' });
    expect((await lifecycle.immutability.protection('other/x'))?.('v1')?.message).toMatch(
      /repository "\*\*"/,
    );

    await lifecycle.removeRule('team', added.id);
    expect(await lifecycle.immutability.protection('team/app')).toBeUndefined();
  });

  it('applies the default project to single-segment repositories', async () => {
    const rule = await stores.lifecycle.addRule('library', { repositoryPattern: '*', tagPattern: 'stable' });
    expect((await stores.lifecycle.immutability.protection('busybox'))?.('stable')?.message).toBe(
      `tag stable of busybox is immutable (rule ${rule.id}: repository "*", tag "stable")`,
    );
    expect(await stores.lifecycle.immutability.protection('library/busybox')).toBeUndefined();
  });

  it('refuses bad patterns and unknown projects or rules', async () => {
    await expect(
      stores.lifecycle.addRule('team', { repositoryPattern: 'Team/App', tagPattern: '*' }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(
      stores.lifecycle.addRule('nope', { repositoryPattern: 'nope/*', tagPattern: '*' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', message: "project 'nope' not found" });
    await expect(stores.lifecycle.removeRule('team', 999_999)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: "project 'team' has no immutability rule 999999",
    });
  });

  it('rules go with their project', async () => {
    await stores.accounts.createProject({ name: 'brief' });
    await stores.lifecycle.addRule('brief', { repositoryPattern: 'brief/**', tagPattern: '*' });
    await stores.accounts.deleteProject('brief');
    await stores.accounts.createProject({ name: 'brief' });
    expect(await stores.lifecycle.rules('brief')).toEqual([]);
  });
});
