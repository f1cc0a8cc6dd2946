import type { Kysely } from 'kysely';
import type { Database, JobRunRow } from '../../metadata/index.js';
import { RetentionStore } from '../../metadata/index.js';
import { type ManifestService, RegistryError, type TagProtection } from '../../registry/index.js';
import type { JobContext, JobRunner } from '../jobs/job-runner.js';
import { cronError, dueAt, nextAfter } from '../jobs/schedule.js';
import { artifactsOf, evaluateRetention, type RetentionArtifact } from './evaluation.js';
import {
  type RetentionPolicy,
  type RetentionPolicyInput,
  RetentionPolicySchema,
  type RetentionRule,
  repositoryPatternProblem,
} from './policy.js';

/** A project's policy as the API shows it. */
export interface RetentionPolicyView {
  project: string;
  rules: RetentionRule[];
  schedule: string | null;
  /** Null: never set. */
  updatedAt: number | null;
  /** When the schedule next starts a run (in the past: due, it starts at the scheduler's next look). */
  nextRunAt: number | null;
}

/** An artifact in a run's summary. */
export interface RetentionItem {
  repository: string;
  digest: string;
  tags: string[];
  /** The referrers (signatures, SBOMs…) that went, or would go, with it. */
  referrers?: string[];
  /** Why it was kept or skipped. */
  reason?: string;
}

/** At most this many items per list of a summary; `total` counts them all. */
export const SUMMARY_ITEMS = 1000;

export interface RetentionItemList {
  total: number;
  /** The first SUMMARY_ITEMS. */
  items: RetentionItem[];
}

/** What a run did or, for a dry run, would do. */
export interface RetentionSummary {
  dryRun: boolean;
  /** The rules of the policy applied. */
  rules: number;
  /** Top-level artifacts of the repositories the rules apply to. */
  artifacts: number;
  /** Those some rule keeps. */
  retained: number;
  /** Artifacts of repositories no rule applies to: never touched. */
  untouched: number;
  /** Deleted (a dry run: would be), each with its referrers. */
  deleted: RetentionItemList;
  /** Referrers deleted (would be) with their subjects. */
  referrersDeleted: number;
  /** No rule keeps them, but an immutable tag on them or on one of their referrers does. */
  keptByImmutability: RetentionItemList;
  /** Left alone because they changed since the run looked: tagged anew, or deleted by someone else. */
  skipped: RetentionItemList;
}

/** While running, the summary so far and where the run is. */
export interface RetentionProgress extends RetentionSummary {
  phase: 'evaluating' | 'deleting' | 'done';
  /** Artifacts handled of those no rule keeps. */
  done: number;
  total: number;
}

export interface RetentionRunOptions {
  dryRun: boolean;
  trigger: 'manual' | 'schedule';
  requestedBy?: string | undefined;
  /** For a scheduled run: when it was due (two nodes finding it due start it once). */
  dueAt?: number | undefined;
}

/** Retention as the management API and the CLI see it. */
export interface RetentionAdmin {
  /** NOT_FOUND for a project that does not exist; an empty policy for one without. */
  policy(project: string): Promise<RetentionPolicyView>;
  /** INVALID_REQUEST for a bad rule or cron expression. */
  setPolicy(project: string, policy: RetentionPolicyInput): Promise<RetentionPolicyView>;
  /** Starts a run in the background; CONFLICT while one runs for the project. */
  run(project: string, options: RetentionRunOptions): Promise<JobRunRow>;
  /** The project's runs, newest first, with ids below `before`. */
  runs(project: string, page: { limit: number; before?: number | undefined }): Promise<JobRunRow[]>;
  /** NOT_FOUND unless the run is a retention run of the project. */
  getRun(project: string, id: number): Promise<JobRunRow>;
}

export interface RetentionOptions {
  db: Kysely<Database>;
  /** Every deletion goes through it: immutability, cascades and cache invalidation across nodes. */
  manifests: ManifestService;
  runner: JobRunner;
}

/**
 * Retention policies: per project, rules that choose what to keep; the rest of the repositories they apply to
 * is deleted, referrers with their subjects. Runs (manual or on the policy's schedule) are jobs with a history;
 * a dry run reports what would go and deletes nothing.
 *
 * - The rules judge artifacts: top-level manifests, neither children of an index of the same repository nor
 *   referrers (manifests with a `subject`). See evaluateRetention for how rules select and keep.
 * - An artifact no rule keeps is deleted through the registry's manifest service (tag immutability, cascades,
 *   cache invalidation on every node), after its referrers, recursively: signatures, SBOMs, attestations and
 *   their own referrers go with their subject. Referrers of a kept artifact are never touched, nor is a
 *   referrer whose subject is absent.
 * - An immutable tag on the artifact or on any of its referrers keeps the whole group; the run reports it
 *   under `keptByImmutability`. An artifact tagged anew after the run looked is skipped (`skipped`).
 * - Deleting an index leaves its child manifests (now untagged and unreferenced) to garbage collection; a later
 *   run sees them as untagged artifacts.
 */
export class Retention implements RetentionAdmin {
  readonly store: RetentionStore;
  private readonly manifests: ManifestService;
  private readonly runner: JobRunner;

  constructor(options: RetentionOptions) {
    this.store = new RetentionStore(options.db);
    this.manifests = options.manifests;
    this.runner = options.runner;
  }

  async policy(project: string): Promise<RetentionPolicyView> {
    const found = await this.store.policy(project);
    if (!found) throw projectNotFound(project);
    if (!found.policy) return { project, rules: [], schedule: null, updatedAt: null, nextRunAt: null };
    const { rules, schedule } = parseStored(project, found.policy.rules, found.policy.schedule);
    return this.view(project, rules, schedule, found.policy.updatedAt);
  }

  async setPolicy(project: string, input: RetentionPolicyInput): Promise<RetentionPolicyView> {
    const parsed = RetentionPolicySchema.safeParse(input);
    if (!parsed.success) {
      throw new RegistryError('INVALID_REQUEST', {
        message: `invalid retention policy: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'policy'}: ${i.message}`).join('; ')}`,
      });
    }
    const policy = parsed.data;
    const problems = policy.rules.flatMap((rule, index) => {
      const problem = repositoryPatternProblem(project, rule.repositories);
      return problem ? [`rules.${index}.repositories: ${problem}`] : [];
    });
    const scheduleError = policy.schedule === null ? undefined : cronError(policy.schedule);
    if (scheduleError) problems.push(`schedule: ${scheduleError}`);
    if (problems.length > 0) {
      throw new RegistryError('INVALID_REQUEST', {
        message: `invalid retention policy: ${problems.join('; ')}`,
        detail: { problems },
      });
    }
    const stored = await this.store.setPolicy(project, policy.rules, policy.schedule);
    if (!stored) throw projectNotFound(project);
    return this.view(project, policy.rules, policy.schedule, stored.updatedAt);
  }

  async run(project: string, options: RetentionRunOptions): Promise<JobRunRow> {
    const policy = await this.policy(project);
    return this.runner.start(
      {
        kind: 'retention',
        scope: project,
        trigger: options.trigger,
        dryRun: options.dryRun,
        requestedBy: options.requestedBy,
        dueAt: options.dueAt,
      },
      (context) => this.execute(project, policy.rules, options.dryRun, context),
    );
  }

  async runs(project: string, page: { limit: number; before?: number | undefined }): Promise<JobRunRow[]> {
    if (!(await this.store.policy(project))) throw projectNotFound(project);
    return this.runner.runs.list('retention', {
      scope: project,
      limit: page.limit,
      ...(page.before !== undefined && { before: page.before }),
    });
  }

  async getRun(project: string, id: number): Promise<JobRunRow> {
    const run = await this.runner.runs.get(id);
    if (run?.kind !== 'retention' || run.scope !== project) {
      if (!(await this.store.policy(project))) throw projectNotFound(project);
      throw new RegistryError('NOT_FOUND', { message: `project '${project}' has no retention run ${id}` });
    }
    return run;
  }

  /**
   * Starts a scheduled run for every project whose schedule is due: the first scheduled time after its last
   * scheduled run, or after the policy last changed, whichever is later (so saving a policy never starts a
   * run at once), has passed. A project whose run is still going is skipped (it is still due next time).
   * Errors of one project do not stop the others; they are thrown together at the end.
   */
  async runDue(now = Date.now()): Promise<JobRunRow[]> {
    const started: JobRunRow[] = [];
    const failures: unknown[] = [];
    for (const policy of await this.store.scheduled()) {
      const { schedule, project, updatedAt } = policy;
      if (schedule === null || cronError(schedule) !== undefined) continue;
      try {
        const last = await this.runner.runs.lastStarted('retention', project, 'schedule');
        const due = dueAt(schedule, Math.max(last ?? updatedAt, updatedAt), updatedAt, now);
        if (due === undefined) continue;
        started.push(await this.run(project, { dryRun: false, trigger: 'schedule', dueAt: due }));
      } catch (error) {
        if (error instanceof RegistryError && error.code === 'CONFLICT') continue;
        failures.push(error);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, 'scheduled retention runs failed to start');
    return started;
  }

  private async view(
    project: string,
    rules: RetentionRule[],
    schedule: string | null,
    updatedAt: number,
  ): Promise<RetentionPolicyView> {
    let nextRunAt: number | null = null;
    if (schedule !== null) {
      const last = await this.runner.runs.lastStarted('retention', project, 'schedule');
      nextRunAt = nextAfter(schedule, Math.max(last ?? updatedAt, updatedAt)) ?? null;
    }
    return { project, rules, schedule, updatedAt, nextRunAt };
  }

  /** One run: evaluate, then delete (or, dry, only look) what no rule keeps, one artifact at a time. */
  private async execute(
    project: string,
    rules: RetentionRule[],
    dryRun: boolean,
    context: JobContext,
  ): Promise<RetentionSummary> {
    const summary: RetentionSummary = {
      dryRun,
      rules: rules.length,
      artifacts: 0,
      retained: 0,
      untouched: 0,
      deleted: { total: 0, items: [] },
      referrersDeleted: 0,
      keptByImmutability: { total: 0, items: [] },
      skipped: { total: 0, items: [] },
    };
    const progress = (phase: RetentionProgress['phase'], done: number, total: number) =>
      context.progress({ ...summary, phase, done, total } satisfies RetentionProgress);
    progress('evaluating', 0, 0);

    const artifacts = artifactsOf(await this.store.manifests(project));
    const evaluation = evaluateRetention(rules, artifacts, Date.now());
    summary.retained = evaluation.retained.length;
    summary.untouched = evaluation.untouched.length;
    summary.artifacts = artifacts.length - evaluation.untouched.length;

    const protections = new Map<string, TagProtection | undefined>();
    const total = evaluation.deleted.length;
    for (const [done, artifact] of evaluation.deleted.entries()) {
      progress('deleting', done, total);
      if (context.signal.aborted) throw new Error('stopped: the server shut down');
      let protection = protections.get(artifact.repository);
      if (!protections.has(artifact.repository)) {
        protection = await this.manifests.options.policy?.tagProtection?.(artifact.repository);
        protections.set(artifact.repository, protection);
      }
      await this.remove(artifact, dryRun, protection, summary);
    }
    progress('done', total, total);
    return summary;
  }

  /** Deletes one artifact, its referrers first (deepest first), unless something keeps it after all. */
  private async remove(
    artifact: RetentionArtifact,
    dryRun: boolean,
    protection: TagProtection | undefined,
    summary: RetentionSummary,
  ): Promise<void> {
    const { repository, digest } = artifact;
    const referrers = await this.referrersOf(repository, digest);
    const tags = await this.store.tags(repository, [digest, ...referrers]);
    const item = (extra: Partial<RetentionItem> = {}): RetentionItem => ({
      repository,
      digest,
      tags: artifact.tags,
      ...(referrers.length > 0 && { referrers }),
      ...extra,
    });

    // Tagged since the run looked (a tag moved onto it, say): the rules never judged it so.
    const now = tags.get(digest) ?? [];
    if (now.some((tag) => !artifact.tags.includes(tag))) {
      return add(summary.skipped, item({ reason: `tagged since the run began: ${now.join(', ')}` }));
    }
    const refusal = protectedTag(protection, [digest, ...referrers], tags);
    if (refusal) return add(summary.keptByImmutability, item({ reason: refusal.message }));

    if (!dryRun) {
      // Referrers first: were the run to stop half-way, no referrer is left without its subject.
      for (const target of [...referrers].reverse().concat(digest)) {
        try {
          await this.manifests.delete(repository, target);
        } catch (error) {
          if (!(error instanceof RegistryError)) throw error;
          if (error.code === 'DENIED') {
            return add(summary.keptByImmutability, item({ reason: error.message }));
          }
          if (error.code === 'MANIFEST_UNKNOWN' || error.code === 'NAME_UNKNOWN') {
            if (target !== digest) continue;
            return add(summary.skipped, item({ reason: 'deleted by someone else meanwhile' }));
          }
          throw error;
        }
      }
    }
    summary.referrersDeleted += referrers.length;
    add(summary.deleted, item());
  }

  /** The manifests whose subject is the digest, and theirs, recursively: nearest first. */
  private async referrersOf(repository: string, digest: string): Promise<string[]> {
    const found: string[] = [];
    const seen = new Set([digest]);
    let level = [digest];
    while (level.length > 0) {
      const next: string[] = [];
      for (const row of await this.store.referrers(repository, level)) {
        if (seen.has(row.digest)) continue;
        seen.add(row.digest);
        found.push(row.digest);
        next.push(row.digest);
      }
      level = next;
    }
    return found;
  }
}

function add(list: RetentionItemList, item: RetentionItem): void {
  list.total++;
  if (list.items.length < SUMMARY_ITEMS) list.items.push(item);
}

/** The refusal of the first protected tag among the manifests' tags, if any. */
function protectedTag(
  protection: TagProtection | undefined,
  digests: string[],
  tags: Map<string, string[]>,
): Error | undefined {
  if (!protection) return undefined;
  for (const digest of digests) {
    for (const tag of tags.get(digest) ?? []) {
      const refusal = protection(tag, digest);
      if (refusal) return refusal;
    }
  }
  return undefined;
}

/** A stored policy, validated again (it was when set; a later Berth may read it). */
function parseStored(project: string, rules: unknown, schedule: string | null): RetentionPolicy {
  const parsed = RetentionPolicySchema.safeParse({ rules, schedule });
  if (!parsed.success) {
    throw new RegistryError('UNKNOWN', {
      message: `the stored retention policy of project '${project}' is invalid: ${parsed.error.message}`,
    });
  }
  return parsed.data;
}

function projectNotFound(project: string): RegistryError {
  return new RegistryError('NOT_FOUND', { message: `project '${project}' not found` });
}
