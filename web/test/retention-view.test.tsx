// A retention run's result as the console shows it, above all a dry run's list of what would go.
import { describe, expect, it } from 'vitest';
import type { Schemas } from '../src/api/client';
import { RetentionSummaryView } from '../src/pages/retention';
import { ruleText, runState, summaryGroups, summaryHeadline } from '../src/retention-view';
import { expand, findAll, text } from './render';

const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const list = (items: Schemas['RetentionItem'][], total = items.length) => ({ total, items });

function summary(overrides: Partial<Schemas['RetentionSummary']> = {}): Schemas['RetentionSummary'] {
  return {
    dryRun: true,
    rules: 1,
    artifacts: 5,
    retained: 2,
    untouched: 4,
    deleted: list([
      { repository: 'team/app', digest: digest(1), tags: ['1.0', 'old'], referrers: [digest(9)] },
      { repository: 'team/app', digest: digest(2), tags: [], referrers: [] },
    ]),
    referrersDeleted: 1,
    keptByImmutability: list([
      { repository: 'team/app', digest: digest(3), tags: ['v1'], reason: 'tag v1 is immutable' },
    ]),
    skipped: list([]),
    ...overrides,
  };
}

describe('ruleText', () => {
  it('says what each kind of rule keeps, of which repositories and tags', () => {
    const selection = {
      repositories: 'team/**',
      tags: { pattern: '**', match: 'matching' as const },
      untagged: false,
    };
    expect(ruleText({ keep: 'latestPushed', count: 3, ...selection })).toBe(
      'keep the 3 most recently pushed artifacts per repository of team/**, tagged',
    );
    expect(ruleText({ keep: 'latestPushed', count: 1, ...selection, untagged: true })).toBe(
      'keep the latest pushed artifact per repository of team/**, tagged or untagged',
    );
    expect(
      ruleText({ keep: 'pulledWithin', days: 30, ...selection, tags: { pattern: 'v*', match: 'matching' } }),
    ).toBe('keep the artifacts pulled within 30 days of team/**, with a tag matching v*');
    expect(ruleText({ keep: 'always', ...selection, tags: { pattern: 'dev-*', match: 'excluding' } })).toBe(
      'keep every artifact of team/**, with a tag not matching dev-*',
    );
  });
});

describe('a dry run', () => {
  it('heads its result with what would go and what stays', () => {
    expect(summaryHeadline(summary())).toBe(
      'Would delete 2 artifacts and 1 referrer of the 5 artifacts the rules cover; 2 kept by a rule, 1 by an immutable tag, 0 skipped; 4 artifacts in repositories no rule covers left alone.',
    );
    expect(summaryHeadline(summary({ dryRun: false, referrersDeleted: 0 }))).toMatch(
      /^Deleted 2 artifacts of the 5/,
    );
  });

  it('lists the non-empty groups, the deleted first, counting what the API did not list', () => {
    const groups = summaryGroups(summary({ deleted: list(summary().deleted.items, 1500) }));
    expect(groups.map((g) => [g.id, g.title, g.total, g.unlisted])).toEqual([
      ['deleted', 'Would be deleted', 1500, 1498],
      ['immutable', 'Kept by an immutable tag', 1, 0],
    ]);
    expect(summaryGroups(summary({ deleted: list([]), keptByImmutability: list([]) }))).toEqual([]);
  });

  it('renders a table row per artifact that would go, with its tags, short digest and referrers', () => {
    const rendered = expand(<RetentionSummaryView summary={summary()} />);
    const [deleted] = findAll(rendered, (e) => e.props['data-testid'] === 'retention-deleted');
    const rows = findAll(deleted ?? [], (e) => e.type === 'tr').slice(1); // past the header
    expect(rows.map((row) => findAll(row, (e) => e.type === 'td').map((cell) => text(cell)))).toEqual([
      ['team/app', '1.0, old', '111111111111', '1'],
      ['team/app', 'untagged', '222222222222', '0'],
    ]);
    const [kept] = findAll(rendered, (e) => e.props['data-testid'] === 'retention-immutable');
    expect(text(kept ?? [])).toContain('tag v1 is immutable');
    expect(findAll(rendered, (e) => e.props['data-testid'] === 'retention-skipped')).toEqual([]);
    expect(text(rendered)).not.toContain('more not listed');
  });

  it('says when there is nothing to delete, and how many more went unlisted', () => {
    const none = expand(
      <RetentionSummaryView summary={summary({ deleted: list([]), keptByImmutability: list([]) })} />,
    );
    expect(text(none)).toContain('Nothing to delete.');
    const many = expand(
      <RetentionSummaryView summary={summary({ deleted: list(summary().deleted.items, 1002) })} />,
    );
    expect(text(many)).toContain('Would be deleted (1,002)');
    expect(text(many)).toContain('and 1,000 more not listed');
  });
});

describe('runState', () => {
  it('says how a run stands', () => {
    expect(runState({ status: 'running', error: null, progress: null })).toBe('running: starting');
    expect(
      runState({ status: 'running', error: null, progress: { phase: 'deleting', done: 3, total: 7 } }),
    ).toBe('running: deleting 3 of 7');
    expect(runState({ status: 'succeeded', error: null, progress: null })).toBe('finished');
    expect(runState({ status: 'failed', error: 'database unavailable', progress: null })).toBe(
      'failed: database unavailable',
    );
  });
});
