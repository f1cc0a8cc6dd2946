import type { ProjectManifestRow } from '../../metadata/index.js';
import { compileGlob, type GlobMatcher } from '../glob.js';
import type { RetentionRule } from './policy.js';

const DAY_MS = 86_400_000;

/** A manifest of one of the project's repositories, as the retention store lists it. */
export type ProjectManifest = ProjectManifestRow;

/**
 * What retention rules judge: a top-level manifest of a repository, neither an index's child (its index
 * stands for it) nor a referrer (it goes with its subject).
 */
export interface RetentionArtifact {
  repository: string;
  digest: string;
  createdAt: number;
  /** The latest pull of it or, for an index, of any manifest below it. */
  lastPulledAt: number | null;
  tags: string[];
}

export interface RetainedArtifact {
  artifact: RetentionArtifact;
  /** The rules that keep it, by position in the policy (0-based). */
  rules: number[];
}

export interface RetentionEvaluation {
  retained: RetainedArtifact[];
  /** What no rule keeps, in repositories that some rule selects: by repository, oldest first. */
  deleted: RetentionArtifact[];
  /** Artifacts of repositories that no rule's `repositories` selects: rules never touch those. */
  untouched: RetentionArtifact[];
}

/**
 * The artifacts among a project's manifests. An index's last pull is the latest of its own and its
 * descendants': a client that pulls the platform manifest by digest still uses the index's image.
 */
export function artifactsOf(manifests: readonly ProjectManifest[]): RetentionArtifact[] {
  const byKey = new Map(manifests.map((m) => [`${m.repository}@${m.digest}`, m]));
  const pulled = new Map<string, number | null>();
  const lastPull = (manifest: ProjectManifest, seen: Set<string>): number | null => {
    const key = `${manifest.repository}@${manifest.digest}`;
    const known = pulled.get(key);
    if (known !== undefined) return known;
    let latest = manifest.lastPulledAt;
    seen.add(key);
    for (const child of manifest.children) {
      const row = byKey.get(`${manifest.repository}@${child}`);
      if (!row || seen.has(`${row.repository}@${row.digest}`)) continue;
      const time = lastPull(row, seen);
      if (time !== null && (latest === null || time > latest)) latest = time;
    }
    pulled.set(key, latest);
    return latest;
  };
  return manifests
    .filter((m) => !m.indexChild && m.subject === null)
    .map((m) => ({
      repository: m.repository,
      digest: m.digest,
      createdAt: m.createdAt,
      lastPulledAt: lastPull(m, new Set()),
      tags: m.tags,
    }));
}

/** Whether the rule selects the artifact by its tags (its repository already matched). */
function selects(rule: RetentionRule, tag: GlobMatcher, artifact: RetentionArtifact): boolean {
  if (artifact.tags.length === 0) return rule.untagged;
  return rule.tags.match === 'matching'
    ? artifact.tags.some((name) => tag(name))
    : artifact.tags.some((name) => !tag(name));
}

/** Newest first; pushes in the same millisecond in digest order, so that every run decides alike. */
function byPushDescending(a: RetentionArtifact, b: RetentionArtifact): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}

/** Of the artifacts the rule selects in one repository, those it keeps. */
function kept(rule: RetentionRule, selected: RetentionArtifact[], now: number): RetentionArtifact[] {
  switch (rule.keep) {
    case 'always':
      return selected;
    case 'latestPushed':
      return [...selected].sort(byPushDescending).slice(0, rule.count);
    case 'pulledWithin': {
      const since = now - rule.days * DAY_MS;
      return selected.filter((a) => a.lastPulledAt !== null && a.lastPulledAt >= since);
    }
  }
}

/**
 * Decides what a policy keeps, Harbor's way: each rule applies to the repositories its `repositories` glob
 * matches, selects artifacts there by tag (or being untagged), and keeps some of those by its condition. In a
 * repository some rule applies to, what no rule keeps is deleted; repositories no rule applies to are left
 * alone (so a policy without rules deletes nothing). Pure: the caller supplies the artifacts and the time.
 */
export function evaluateRetention(
  rules: readonly RetentionRule[],
  artifacts: readonly RetentionArtifact[],
  now: number,
): RetentionEvaluation {
  const byRepository = new Map<string, RetentionArtifact[]>();
  for (const artifact of artifacts) {
    const list = byRepository.get(artifact.repository);
    if (list) list.push(artifact);
    else byRepository.set(artifact.repository, [artifact]);
  }
  const compiled = rules.map((rule) => ({
    rule,
    repository: compileGlob(rule.repositories),
    tag: compileGlob(rule.tags.pattern),
  }));

  const retained: RetainedArtifact[] = [];
  const deleted: RetentionArtifact[] = [];
  const untouched: RetentionArtifact[] = [];
  for (const repository of [...byRepository.keys()].sort()) {
    const inRepository = byRepository.get(repository) as RetentionArtifact[];
    const keptBy = new Map<RetentionArtifact, number[]>();
    let applies = false;
    compiled.forEach(({ rule, repository: matches, tag }, index) => {
      if (!matches(repository)) return;
      applies = true;
      const selected = inRepository.filter((artifact) => selects(rule, tag, artifact));
      for (const artifact of kept(rule, selected, now)) {
        const list = keptBy.get(artifact);
        if (list) list.push(index);
        else keptBy.set(artifact, [index]);
      }
    });
    const oldestFirst = [...inRepository].sort((a, b) => byPushDescending(b, a));
    if (!applies) {
      untouched.push(...oldestFirst);
      continue;
    }
    for (const artifact of oldestFirst) {
      const keeping = keptBy.get(artifact);
      if (keeping) retained.push({ artifact, rules: keeping });
      else deleted.push(artifact);
    }
  }
  return { retained, deleted, untouched };
}
