import { z } from 'zod';
import { DEFAULT_PROJECT } from '../../auth/index.js';
import { REPOSITORY_PATTERN, TAG_PATTERN } from '../immutability.js';

/** At most this many rules per policy: each is a pass over the project's artifacts. */
export const MAX_RETENTION_RULES = 50;

const glob = (pattern: RegExp, what: string) =>
  z.string().regex(pattern, `must be a glob of ${what} characters with *, ** and ?`);

const TagSelector = z
  .strictObject({
    pattern: glob(TAG_PATTERN, 'tag').default('**').describe('a glob over tags, e.g. `v*`; default `**`'),
    match: z
      .enum(['matching', 'excluding'])
      .default('matching')
      .describe(
        '`matching`: artifacts with a tag the pattern matches; `excluding`: artifacts with a tag it does not match',
      ),
  })
  .describe('which tagged artifacts the rule selects; default every one');

const selection = {
  repositories: glob(REPOSITORY_PATTERN, 'repository name')
    .default('**')
    .describe('a glob over whole repository names (`team/app`, `team/**`); default `**`, every one'),
  tags: TagSelector.default({ pattern: '**', match: 'matching' }),
  untagged: z.boolean().default(false).describe('whether the rule also selects artifacts without a tag'),
};

/**
 * One retention rule: what it selects (repositories, tags, untagged artifacts) and which of those it keeps
 * (`keep`): the `count` most recently pushed per repository, those pulled within `days` days, or all of them.
 */
export const RetentionRuleSchema = z.discriminatedUnion('keep', [
  z.strictObject({
    keep: z
      .literal('latestPushed')
      .describe('the `count` most recently pushed selected artifacts per repository'),
    count: z.number().int().min(1).max(1_000_000),
    ...selection,
  }),
  z.strictObject({
    keep: z.literal('pulledWithin').describe('the selected artifacts pulled within the last `days` days'),
    days: z.number().int().min(1).max(36_500),
    ...selection,
  }),
  z.strictObject({
    keep: z.literal('always').describe('every selected artifact'),
    ...selection,
  }),
]);

export const RetentionPolicySchema = z.strictObject({
  rules: z
    .array(RetentionRuleSchema)
    .max(MAX_RETENTION_RULES)
    .describe('what each rule keeps is kept; the rest of the repositories they select is deleted'),
  schedule: z
    .string()
    .min(1)
    .max(200)
    .nullable()
    .default(null)
    .describe('a cron expression (minute hour day month weekday, UTC) for scheduled runs; null: manual only'),
});

export type RetentionRule = z.output<typeof RetentionRuleSchema>;
export type RetentionRuleInput = z.input<typeof RetentionRuleSchema>;
export type RetentionPolicy = z.output<typeof RetentionPolicySchema>;
export type RetentionPolicyInput = z.input<typeof RetentionPolicySchema>;

/**
 * Repository patterns are whole names, as in immutability rules. A pattern that can match no repository of the
 * project (`app` where `team/app` was meant, `other/**`) is refused rather than left to select nothing: its
 * first segment must be the project's name or hold a wildcard (one-segment names belong to the default project).
 */
export function repositoryPatternProblem(project: string, pattern: string): string | undefined {
  const slash = pattern.indexOf('/');
  if (slash < 0) {
    // One segment: the default project's one-segment names, or `**` (any number of segments).
    if (project === DEFAULT_PROJECT || pattern.includes('**')) return undefined;
  } else {
    const first = pattern.slice(0, slash);
    if (/[*?]/.test(first) || first === project) return undefined;
  }
  return `repositories "${pattern}" can match no repository of project '${project}': patterns are whole names, such as "${project}/app" or "${project}/**"`;
}
