import type { Schemas } from './api/client';

type Rule = Schemas['RetentionRule'];
type Summary = Schemas['RetentionSummary'];
type Item = Schemas['RetentionItem'];

/** `1 artifact`, `2 artifacts`. */
export function count(n: number, word: string): string {
  return `${n.toLocaleString('en')} ${word}${n === 1 ? '' : 's'}`;
}

/** A retention rule in words: what it keeps, of which repositories and tags. */
export function ruleText(rule: Rule): string {
  const keep =
    rule.keep === 'latestPushed'
      ? `keep the ${rule.count === 1 ? 'latest pushed artifact' : `${rule.count} most recently pushed artifacts`} per repository`
      : rule.keep === 'pulledWithin'
        ? `keep the artifacts pulled within ${count(rule.days, 'day')}`
        : 'keep every artifact';
  const tags =
    rule.tags.pattern === '**' && rule.tags.match === 'matching'
      ? 'tagged'
      : rule.tags.match === 'matching'
        ? `with a tag matching ${rule.tags.pattern}`
        : `with a tag not matching ${rule.tags.pattern}`;
  return `${keep} of ${rule.repositories}, ${tags}${rule.untagged ? ' or untagged' : ''}`;
}

/** The first line of a run's result: what went (or would go) and what stayed. */
export function summaryHeadline(summary: Summary): string {
  const gone = `${count(summary.deleted.total, 'artifact')}${
    summary.referrersDeleted > 0 ? ` and ${count(summary.referrersDeleted, 'referrer')}` : ''
  }`;
  const verb = summary.dryRun ? 'Would delete' : 'Deleted';
  return (
    `${verb} ${gone} of the ${count(summary.artifacts, 'artifact')} the rules cover; ` +
    `${summary.retained.toLocaleString('en')} kept by a rule, ` +
    `${summary.keptByImmutability.total.toLocaleString('en')} by an immutable tag, ` +
    `${summary.skipped.total.toLocaleString('en')} skipped; ` +
    `${count(summary.untouched, 'artifact')} in repositories no rule covers left alone.`
  );
}

export interface SummaryGroup {
  id: 'deleted' | 'immutable' | 'skipped';
  title: string;
  total: number;
  items: Item[];
  /** Counted but not listed (the API lists the first 1000 of each). */
  unlisted: number;
}

/** The lists of a run's result worth showing, the deleted first; empty ones left out. */
export function summaryGroups(summary: Summary): SummaryGroup[] {
  const groups: SummaryGroup[] = [
    {
      id: 'deleted',
      title: summary.dryRun ? 'Would be deleted' : 'Deleted',
      total: summary.deleted.total,
      items: summary.deleted.items,
      unlisted: 0,
    },
    {
      id: 'immutable',
      title: 'Kept by an immutable tag',
      total: summary.keptByImmutability.total,
      items: summary.keptByImmutability.items,
      unlisted: 0,
    },
    {
      id: 'skipped',
      title: 'Skipped (changed while the run went)',
      total: summary.skipped.total,
      items: summary.skipped.items,
      unlisted: 0,
    },
  ];
  return groups
    .filter((group) => group.total > 0)
    .map((group) => ({ ...group, unlisted: Math.max(0, group.total - group.items.length) }));
}

/** How a retention run stands, in words. */
export function runState(run: Pick<Schemas['RetentionRun'], 'status' | 'error' | 'progress'>): string {
  if (run.status === 'running') {
    const progress = run.progress as { phase?: string; done?: number; total?: number } | null;
    const phase = progress?.phase ?? 'starting';
    return progress?.total
      ? `running: ${phase} ${progress.done ?? 0} of ${progress.total}`
      : `running: ${phase}`;
  }
  if (run.status === 'succeeded') return 'finished';
  return run.error ? `${run.status}: ${run.error}` : run.status;
}
