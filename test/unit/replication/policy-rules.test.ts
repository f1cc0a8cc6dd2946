// Replication policy rules without a registry: destination name rewriting, and changes that leave what they do
// not name alone.
import { describe, expect, it } from 'vitest';
import {
  PolicyChangeSchema,
  PolicyInputSchema,
  RegistryChangeSchema,
  rewriteName,
  rewriteProblem,
} from '../../../src/replication/index.js';

describe('destination name rewriting', () => {
  it.each([
    [{ from: 'team/**', to: 'branch-a/team/**' }, 'team/app', 'branch-a/team/app'],
    [{ from: 'team/**', to: 'branch-a/team/**' }, 'team/a/b', 'branch-a/team/a/b'],
    [{ from: 'team/**', to: 'branch-a/team/**' }, 'team', 'branch-a/team'],
    [{ from: 'team/**', to: 'branch-a/team/**' }, 'other/app', 'other/app'],
    [{ from: 'team/**', to: 'teamwork/**' }, 'teamx/app', 'teamx/app'],
    [{ from: '**', to: 'mirror/**' }, 'library/alpine', 'mirror/library/alpine'],
    [{ from: 'team/**', to: '**' }, 'team/app', 'app'],
    [{ from: 'team/app', to: 'prod/app' }, 'team/app', 'prod/app'],
    [{ from: 'team/app', to: 'prod/app' }, 'team/app2', 'team/app2'],
    [null, 'team/app', 'team/app'],
  ])('%j: %s → %s', (rule, name, expected) => {
    expect(rewriteName(rule, name)).toBe(expected);
  });

  it.each([
    [{ from: 'team/*', to: 'x/**' }, /only a trailing \*\*/],
    [{ from: 'team**', to: 'x/**' }, /must follow a \//],
    [{ from: 'team/**', to: 'x/app' }, /both end in \*\*/],
  ])('refuses %j', (rule, problem) => {
    expect(rewriteProblem(rule)).toMatch(problem);
  });
});

describe('changes name only what they change', () => {
  it('a policy change of one field sets no defaults for the others', () => {
    expect(PolicyChangeSchema.parse({ replicateDeletes: true })).toEqual({ replicateDeletes: true });
    expect(PolicyChangeSchema.parse({ tags: 'v*' })).toEqual({ tags: 'v*' });
  });

  it('a registry change of one field keeps the stored username and password', () => {
    expect(RegistryChangeSchema.parse({ description: 'x' })).toEqual({ description: 'x' });
    expect(RegistryChangeSchema.parse({ password: null })).toEqual({ password: null });
  });

  it('a new policy gets the defaults', () => {
    const parsed = PolicyInputSchema.parse({
      name: 'p',
      registry: 'r',
      direction: 'push',
      repositories: 'team/**',
      trigger: 'manual',
    });
    expect(parsed).toMatchObject({
      tags: '**',
      rewrite: null,
      replicateDeletes: false,
      referrers: true,
      enabled: true,
    });
  });

  it('a schedule trigger needs a valid cron expression', () => {
    const base = { name: 'p', registry: 'r', direction: 'pull', repositories: 'lib/x', trigger: 'schedule' };
    expect(PolicyInputSchema.safeParse(base).success).toBe(false);
    expect(PolicyInputSchema.safeParse({ ...base, schedule: 'not cron' }).success).toBe(false);
    expect(PolicyInputSchema.safeParse({ ...base, schedule: '0 3 * * *' }).success).toBe(true);
  });
});
