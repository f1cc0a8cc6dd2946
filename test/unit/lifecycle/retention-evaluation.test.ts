// Retention rules, evaluated without a database: which artifacts each kind of rule keeps, how rules combine,
// what counts as an artifact, and the policy schema that validates them.
import { describe, expect, it } from 'vitest';
import {
  artifactsOf,
  evaluateRetention,
  type ProjectManifest,
  type RetentionArtifact,
  RetentionPolicySchema,
  type RetentionRule,
  type RetentionRuleInput,
  RetentionRuleSchema,
  repositoryPatternProblem,
} from '../../../src/lifecycle/index.js';

const DAY = 86_400_000;
const NOW = 1_000 * DAY;

function rule(input: RetentionRuleInput): RetentionRule {
  return RetentionRuleSchema.parse(input);
}

/** An artifact named `name` (its digest is `sha256:<name>`), pushed at `pushed` days, pulled `pulled` days ago. */
function artifact(
  name: string,
  options: { repo?: string; pushed?: number; tags?: string[]; pulledDaysAgo?: number | null } = {},
): RetentionArtifact {
  return {
    repository: options.repo ?? 'team/app',
    digest: `sha256:${name}`,
    createdAt: (options.pushed ?? 0) * DAY,
    lastPulledAt:
      options.pulledDaysAgo === undefined || options.pulledDaysAgo === null
        ? null
        : NOW - options.pulledDaysAgo * DAY,
    tags: options.tags ?? [name],
  };
}

/** The names of the artifacts the rules keep and delete. */
function decide(rules: RetentionRuleInput[], artifacts: RetentionArtifact[]) {
  const result = evaluateRetention(rules.map(rule), artifacts, NOW);
  const name = (a: RetentionArtifact) => a.digest.slice('sha256:'.length);
  return {
    kept: result.retained.map((r) => name(r.artifact)).sort(),
    deleted: result.deleted.map(name),
    untouched: result.untouched.map(name).sort(),
  };
}

describe('keep the latest N pushed', () => {
  const five = ['a', 'b', 'c', 'd', 'e'].map((name, i) => artifact(name, { pushed: i + 1 }));
  const CASES: [count: number, kept: string[]][] = [
    [1, ['e']],
    [2, ['d', 'e']],
    [5, ['a', 'b', 'c', 'd', 'e']],
    [10, ['a', 'b', 'c', 'd', 'e']],
  ];
  for (const [count, kept] of CASES) {
    it(`count ${count} keeps ${kept.join(', ')}`, () => {
      const result = decide([{ keep: 'latestPushed', count }], five);
      expect(result.kept).toEqual(kept);
      expect(result.deleted).toEqual(['a', 'b', 'c', 'd', 'e'].filter((n) => !kept.includes(n)));
    });
  }

  it('judges push time (created_at), not the order given nor the tag names', () => {
    const shuffled = [
      artifact('z', { pushed: 3 }),
      artifact('a', { pushed: 9 }),
      artifact('m', { pushed: 1 }),
    ];
    expect(decide([{ keep: 'latestPushed', count: 2 }], shuffled)).toMatchObject({
      kept: ['a', 'z'],
      deleted: ['m'],
    });
  });

  it('breaks ties of push time by digest, the same way every run', () => {
    const tied = [artifact('c', { pushed: 5 }), artifact('a', { pushed: 5 }), artifact('b', { pushed: 5 })];
    expect(decide([{ keep: 'latestPushed', count: 2 }], tied).kept).toEqual(['a', 'b']);
    expect(decide([{ keep: 'latestPushed', count: 2 }], [...tied].reverse()).kept).toEqual(['a', 'b']);
    const newer = [...tied, artifact('d', { pushed: 6 })];
    expect(decide([{ keep: 'latestPushed', count: 2 }], newer).kept).toEqual(['a', 'd']);
  });

  it('counts per repository', () => {
    const artifacts = [
      artifact('a1', { repo: 'team/a', pushed: 1 }),
      artifact('a2', { repo: 'team/a', pushed: 2 }),
      artifact('b1', { repo: 'team/b', pushed: 3 }),
      artifact('b2', { repo: 'team/b', pushed: 4 }),
      artifact('b3', { repo: 'team/b', pushed: 5 }),
    ];
    expect(decide([{ keep: 'latestPushed', count: 1 }], artifacts)).toEqual({
      kept: ['a2', 'b3'],
      deleted: ['a1', 'b1', 'b2'],
      untouched: [],
    });
  });

  it('counts artifacts, not tags: one with three tags is one of the N', () => {
    const artifacts = [
      artifact('old', { pushed: 1 }),
      artifact('multi', { pushed: 2, tags: ['1.0', '1', 'latest'] }),
    ];
    expect(decide([{ keep: 'latestPushed', count: 1 }], artifacts).kept).toEqual(['multi']);
  });

  it('counts only what the rule selects (untagged ones do not crowd out tags)', () => {
    const artifacts = [
      artifact('v1', { pushed: 1 }),
      artifact('v2', { pushed: 2 }),
      artifact('dangling', { pushed: 3, tags: [] }),
    ];
    expect(decide([{ keep: 'latestPushed', count: 2 }], artifacts)).toMatchObject({
      kept: ['v1', 'v2'],
      deleted: ['dangling'],
    });
    expect(decide([{ keep: 'latestPushed', count: 2, untagged: true }], artifacts)).toMatchObject({
      kept: ['dangling', 'v2'],
      deleted: ['v1'],
    });
  });
});

describe('keep what was pulled within D days', () => {
  const CASES: [pulledDaysAgo: number | null, days: number, kept: boolean][] = [
    [0, 30, true],
    [29, 30, true],
    [30, 30, true],
    [30.001, 30, false],
    [31, 30, false],
    [null, 30, false],
    [null, 36_500, false],
    [6, 7, true],
    [8, 7, false],
  ];
  for (const [ago, days, kept] of CASES) {
    it(`pulled ${ago === null ? 'never' : `${ago} days ago`}, within ${days} → ${kept ? 'kept' : 'deleted'}`, () => {
      const result = decide([{ keep: 'pulledWithin', days }], [artifact('x', { pulledDaysAgo: ago })]);
      expect(result.kept).toEqual(kept ? ['x'] : []);
      expect(result.deleted).toEqual(kept ? [] : ['x']);
    });
  }

  it('ignores push time: a new artifact never pulled is not kept by it', () => {
    expect(
      decide([{ keep: 'pulledWithin', days: 30 }], [artifact('fresh', { pushed: 999 })]).deleted,
    ).toEqual(['fresh']);
  });
});

describe('keep always', () => {
  it('keeps every selected artifact', () => {
    const artifacts = [artifact('release-1'), artifact('release-2'), artifact('dev-1')];
    expect(decide([{ keep: 'always', tags: { pattern: 'release-*' } }], artifacts)).toMatchObject({
      kept: ['release-1', 'release-2'],
      deleted: ['dev-1'],
    });
  });
});

describe('selecting by tag', () => {
  const artifacts = [
    artifact('v1', { pushed: 1, tags: ['v1.0'] }),
    artifact('v2', { pushed: 2, tags: ['v2.0', 'latest'] }),
    artifact('dev', { pushed: 3, tags: ['dev-abc'] }),
    artifact('none', { pushed: 4, tags: [] }),
  ];
  const CASES: [label: string, tags: RetentionRuleInput['tags'], untagged: boolean, kept: string[]][] = [
    ['default (**, matching)', undefined, false, ['dev', 'v1', 'v2']],
    ['v* matching', { pattern: 'v*' }, false, ['v1', 'v2']],
    ['v* matching, untagged too', { pattern: 'v*' }, true, ['none', 'v1', 'v2']],
    ['latest matching', { pattern: 'latest', match: 'matching' }, false, ['v2']],
    ['v* excluding', { pattern: 'v*', match: 'excluding' }, false, ['dev', 'v2']],
    ['dev-* excluding', { pattern: 'dev-*', match: 'excluding' }, false, ['v1', 'v2']],
    ['** excluding, untagged: only the untagged', { pattern: '**', match: 'excluding' }, true, ['none']],
    ['v?.0 matching', { pattern: 'v?.0' }, false, ['v1', 'v2']],
    ['nothing matches', { pattern: 'x*' }, false, []],
  ];
  for (const [label, tags, untagged, kept] of CASES) {
    it(`${label} → keeps ${kept.join(', ') || 'nothing'}`, () => {
      const input: RetentionRuleInput = { keep: 'always', untagged, ...(tags && { tags }) };
      const result = decide([input], artifacts);
      expect(result.kept).toEqual(kept);
      expect(result.deleted.sort()).toEqual(
        ['v1', 'v2', 'dev', 'none'].filter((name) => !kept.includes(name)).sort(),
      );
    });
  }
});

describe('selecting repositories', () => {
  const artifacts = [
    artifact('app', { repo: 'team/app', pushed: 1 }),
    artifact('app-old', { repo: 'team/app', pushed: 0 }),
    artifact('web', { repo: 'team/web', pushed: 1 }),
    artifact('web-old', { repo: 'team/web', pushed: 0 }),
    artifact('deep', { repo: 'team/tools/deep', pushed: 1 }),
    artifact('deep-old', { repo: 'team/tools/deep', pushed: 0 }),
  ];
  const CASES: [pattern: string, touched: string[]][] = [
    ['**', ['team/app', 'team/tools/deep', 'team/web']],
    ['team/**', ['team/app', 'team/tools/deep', 'team/web']],
    ['team/*', ['team/app', 'team/web']],
    ['team/app', ['team/app']],
    ['team/*/deep', ['team/tools/deep']],
    ['team/w?b', ['team/web']],
    ['other/**', []],
  ];
  for (const [pattern, touched] of CASES) {
    it(`${pattern} → rules apply to ${touched.join(', ') || 'no repository'}; the others are left alone`, () => {
      const result = evaluateRetention(
        [rule({ keep: 'latestPushed', count: 1, repositories: pattern })],
        artifacts,
        NOW,
      );
      const deletedRepos = [...new Set(result.deleted.map((a) => a.repository))].sort();
      expect(deletedRepos).toEqual(touched);
      expect(result.retained.map((r) => r.artifact.repository).sort()).toEqual(touched);
      expect(result.untouched).toHaveLength(artifacts.length - 2 * touched.length);
      for (const a of result.untouched) expect(touched).not.toContain(a.repository);
    });
  }
});

describe('several rules', () => {
  it('keep the union of what each keeps: the last 2 pushed, and anything pulled within 30 days', () => {
    const artifacts = [
      artifact('v1', { pushed: 1, pulledDaysAgo: 3 }),
      artifact('v2', { pushed: 2, pulledDaysAgo: 100 }),
      artifact('v3', { pushed: 3 }),
      artifact('v4', { pushed: 4 }),
      artifact('v5', { pushed: 5, pulledDaysAgo: 1 }),
      artifact('dangling', { pushed: 6, tags: [], pulledDaysAgo: 2 }),
      artifact('dangling-old', { pushed: 0, tags: [], pulledDaysAgo: 45 }),
    ];
    const result = evaluateRetention(
      [rule({ keep: 'latestPushed', count: 2 }), rule({ keep: 'pulledWithin', days: 30, untagged: true })],
      artifacts,
      NOW,
    );
    const by = Object.fromEntries(result.retained.map((r) => [r.artifact.digest.slice(7), r.rules]));
    expect(by).toEqual({ v1: [1], v4: [0], v5: [0, 1], dangling: [1] });
    expect(result.deleted.map((a) => a.digest.slice(7))).toEqual(['dangling-old', 'v2', 'v3']);
  });

  it('lists what is deleted by repository, oldest first', () => {
    const artifacts = [
      artifact('b-new', { repo: 'team/b', pushed: 9 }),
      artifact('a-new', { repo: 'team/a', pushed: 8 }),
      artifact('b-old', { repo: 'team/b', pushed: 1 }),
      artifact('a-old', { repo: 'team/a', pushed: 2 }),
    ];
    expect(decide([{ keep: 'always', tags: { pattern: 'keep' } }], artifacts).deleted).toEqual([
      'a-old',
      'a-new',
      'b-old',
      'b-new',
    ]);
  });

  it('a rule on one repository does not protect another that a second rule covers', () => {
    const artifacts = [
      artifact('a1', { repo: 'team/a', pushed: 1 }),
      artifact('a2', { repo: 'team/a', pushed: 2 }),
      artifact('b1', { repo: 'team/b', pushed: 1 }),
      artifact('b2', { repo: 'team/b', pushed: 2 }),
    ];
    expect(
      decide(
        [
          { keep: 'always', repositories: 'team/a' },
          { keep: 'latestPushed', count: 1, repositories: 'team/b' },
        ],
        artifacts,
      ),
    ).toEqual({ kept: ['a1', 'a2', 'b2'], deleted: ['b1'], untouched: [] });
  });

  it('no rules: nothing deleted, everything untouched', () => {
    const artifacts = [artifact('a'), artifact('b', { tags: [] })];
    expect(decide([], artifacts)).toEqual({ kept: [], deleted: [], untouched: ['a', 'b'] });
  });

  it('no artifacts: nothing to do', () => {
    expect(decide([{ keep: 'latestPushed', count: 1 }], [])).toEqual({
      kept: [],
      deleted: [],
      untouched: [],
    });
  });
});

describe('artifactsOf', () => {
  function manifest(digest: string, extra: Partial<ProjectManifest> = {}): ProjectManifest {
    return {
      repository: 'team/app',
      digest,
      createdAt: 0,
      lastPulledAt: null,
      tags: [],
      subject: null,
      children: [],
      indexChild: false,
      ...extra,
    };
  }

  it('keeps top-level manifests only: not the children of an index, not referrers', () => {
    const rows = [
      manifest('index', { tags: ['1.0'], children: ['amd64', 'arm64'] }),
      manifest('amd64', { indexChild: true }),
      manifest('arm64', { indexChild: true }),
      manifest('signature', { subject: 'index' }),
      manifest('sbom-of-signature', { subject: 'signature' }),
      manifest('plain', { tags: ['old'] }),
      manifest('dangling'),
    ];
    expect(artifactsOf(rows).map((a) => a.digest)).toEqual(['index', 'plain', 'dangling']);
  });

  it("takes an index's last pull from its children too (a platform pulled by digest)", () => {
    const rows = [
      manifest('index', { children: ['amd64', 'arm64'], lastPulledAt: 10 }),
      manifest('amd64', { indexChild: true, lastPulledAt: 50 }),
      manifest('arm64', { indexChild: true, lastPulledAt: null }),
      manifest('nested', { children: ['inner'] }),
      manifest('inner', { indexChild: true, children: ['leaf'] }),
      manifest('leaf', { indexChild: true, lastPulledAt: 70 }),
      manifest('never', { children: ['x'] }),
      manifest('x', { indexChild: true }),
    ];
    const pulled = Object.fromEntries(artifactsOf(rows).map((a) => [a.digest, a.lastPulledAt]));
    expect(pulled).toEqual({ index: 50, nested: 70, never: null });
  });

  it('keeps repositories apart: a child in another repository is not this index', () => {
    const rows = [
      manifest('index', { children: ['child'] }),
      manifest('child', { repository: 'team/other', lastPulledAt: 99 }),
    ];
    expect(artifactsOf(rows).map((a) => [a.repository, a.digest, a.lastPulledAt])).toEqual([
      ['team/app', 'index', null],
      ['team/other', 'child', 99],
    ]);
  });
});

describe('the policy schema', () => {
  it('fills in the defaults', () => {
    expect(RetentionPolicySchema.parse({ rules: [{ keep: 'latestPushed', count: 10 }] })).toEqual({
      rules: [
        {
          keep: 'latestPushed',
          count: 10,
          repositories: '**',
          tags: { pattern: '**', match: 'matching' },
          untagged: false,
        },
      ],
      schedule: null,
    });
  });

  const BAD: [label: string, policy: unknown][] = [
    ['no rules field', {}],
    ['an unknown condition', { rules: [{ keep: 'newest' }] }],
    ['latestPushed without count', { rules: [{ keep: 'latestPushed' }] }],
    ['count 0', { rules: [{ keep: 'latestPushed', count: 0 }] }],
    ['a fractional count', { rules: [{ keep: 'latestPushed', count: 1.5 }] }],
    ['days on latestPushed', { rules: [{ keep: 'latestPushed', count: 1, days: 3 }] }],
    ['pulledWithin without days', { rules: [{ keep: 'pulledWithin' }] }],
    ['a bad tag glob', { rules: [{ keep: 'always', tags: { pattern: 'a/b' } }] }],
    ['a bad match', { rules: [{ keep: 'always', tags: { pattern: '*', match: 'not' } }] }],
    ['a bad repository glob', { rules: [{ keep: 'always', repositories: 'Team/App' }] }],
    ['an unknown field', { rules: [], extra: 1 }],
    ['an empty schedule', { rules: [], schedule: '' }],
    ['51 rules', { rules: Array.from({ length: 51 }, () => ({ keep: 'always' })) }],
  ];
  for (const [label, policy] of BAD) {
    it(`refuses ${label}`, () => {
      expect(RetentionPolicySchema.safeParse(policy).success).toBe(false);
    });
  }
});

describe('repositoryPatternProblem', () => {
  const CASES: [project: string, pattern: string, ok: boolean][] = [
    ['team', '**', true],
    ['team', 'team/**', true],
    ['team', 'team/app', true],
    ['team', '*/app', true],
    ['team', 't?am/app', true],
    ['team', 'app', false],
    ['team', 'app*', false],
    ['team', 'other/**', false],
    ['team', 'teamwork/app', false],
    ['library', 'busybox', true],
    ['library', 'library/busybox', true],
    ['library', 'other/x', false],
  ];
  for (const [project, pattern, ok] of CASES) {
    it(`${project}: ${pattern} → ${ok ? 'fine' : 'refused'}`, () => {
      const problem = repositoryPatternProblem(project, pattern);
      if (ok) expect(problem).toBeUndefined();
      else expect(problem).toMatch(/can match no repository of project/);
    });
  }
});
