import { z } from 'zod';
import { RetentionPolicySchema, RetentionRuleSchema } from '../lifecycle/index.js';
import { jobRunFields, named, newestFirstPage, ProjectName, RunId } from './schemas.js';

/** Retention policies and runs: bodies, answers and parameters (see schemas.ts for how they are used). */

export const RetentionRule = named(
  'RetentionRule',
  'Selects artifacts (top-level manifests: not children of an index, not referrers) by repository and tag, ' +
    'and keeps some of them: the `count` most recently pushed per repository, those pulled within `days` days, ' +
    'or all. With `tags.match` `matching` an artifact is selected when one of its tags matches the pattern; ' +
    'with `excluding`, when one of its tags does not; an untagged one only when `untagged` is true.',
  RetentionRuleSchema,
);

export const SetRetentionPolicyBody = named(
  'SetRetentionPolicy',
  "A project's retention policy: what the rules keep is kept; in the repositories the rules apply to, the " +
    'rest is deleted by each run, with its referrers (signatures, SBOMs…). Repositories no rule applies to ' +
    'are left alone; no rules, nothing deleted.',
  RetentionPolicySchema,
);

export const RetentionPolicy = named(
  'RetentionPolicy',
  "A project's retention policy.",
  z.object({
    project: z.string(),
    rules: z.array(RetentionRule),
    schedule: z.string().nullable().describe('cron (UTC); null: manual runs only'),
    updatedAt: z.number().int().nullable().describe('null: never set'),
    nextRunAt: z
      .number()
      .int()
      .nullable()
      .describe('when the schedule next starts a run; in the past: due now; null: no schedule'),
  }),
);

const RetentionItem = named(
  'RetentionItem',
  'An artifact a retention run deleted, would delete, kept or skipped.',
  z.object({
    repository: z.string(),
    digest: z.string(),
    tags: z.array(z.string()),
    referrers: z.array(z.string()).optional().describe('its referrers, which go with it'),
    reason: z.string().optional().describe('why it was kept or skipped'),
  }),
);

const RetentionItemList = named(
  'RetentionItemList',
  'Artifacts: all of them counted, the first 1000 listed.',
  z.object({ total: z.number().int(), items: z.array(RetentionItem) }),
);

export const RetentionSummary = named(
  'RetentionSummary',
  'What a retention run did, or for a dry run would do: `deleted` (would be deleted), each with its ' +
    'referrers; `keptByImmutability`: no rule keeps them but an immutable tag on them or a referrer does; ' +
    '`skipped`: changed while the run went (tagged anew, or deleted by someone else).',
  z.object({
    dryRun: z.boolean(),
    rules: z.number().int(),
    artifacts: z.number().int().describe('artifacts of the repositories the rules apply to'),
    retained: z.number().int().describe('those some rule keeps'),
    untouched: z.number().int().describe('artifacts of repositories no rule applies to'),
    deleted: RetentionItemList,
    referrersDeleted: z.number().int(),
    keptByImmutability: RetentionItemList,
    skipped: RetentionItemList,
  }),
);

export const RetentionRun = named(
  'RetentionRun',
  'A retention run of a project.',
  z.object({
    ...jobRunFields,
    project: z.string(),
    progress: z
      .unknown()
      .describe(
        'while running: `phase` (evaluating, deleting, done), `done` of `total`, and the summary so far',
      ),
    summary: RetentionSummary.nullable().describe(
      'when it succeeded: what it did; when it failed: what it had done so far',
    ),
  }),
);

export const RetentionRunList = newestFirstPage('RetentionRunList', 'runs', RetentionRun);

export const StartRetentionRunBody = named(
  'StartRetentionRun',
  'A run to start now.',
  z.strictObject({
    dryRun: z.boolean().default(false).describe('only report what would be deleted'),
  }),
);

export const RetentionRunParams = z.object({ name: ProjectName, id: RunId });
