import { z } from 'zod';
import { REPOSITORY_PATTERN, TAG_PATTERN } from '../../lifecycle/index.js';
import { cronError } from '../../lifecycle/jobs/schedule.js';
import { rewriteProblem } from './name-rewrite.js';

/** Remote registries and replication policies as the API takes them (the routes name these schemas). */

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const name = z.string().regex(NAME, 'must be 1-63 of a-z 0-9 . _ - starting with a letter or digit');

const registryFields = {
  name: name.describe('how policies name it'),
  url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .refine((url) => !new URL(url).username && !new URL(url).password, {
      message: 'must not carry credentials: give username and password',
    })
    .describe('the registry base URL: https://registry.example.com, http://127.0.0.1:5000'),
  username: z.string().min(1).max(255).nullable().describe('null: anonymous'),
  password: z
    .string()
    .min(1)
    .max(4096)
    .nullable()
    .describe('password or token; stored encrypted, never returned'),
  description: z.string().max(1000),
};

export const RegistryInputSchema = z.strictObject({
  ...registryFields,
  username: registryFields.username.default(null),
  password: registryFields.password.default(null),
  description: registryFields.description.default(''),
});

/** A change: fields left out stay (no defaults here, or a change would reset them); `password: null` forgets it. */
export const RegistryChangeSchema = z.strictObject(registryFields).partial();

const Rewrite = z
  .strictObject({
    from: z.string().regex(REPOSITORY_PATTERN, 'must be a repository name, or a prefix ending in **'),
    to: z.string().regex(REPOSITORY_PATTERN, 'must be a repository name, or a prefix ending in **'),
  })
  .superRefine((rule, context) => {
    const problem = rewriteProblem(rule);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  })
  .describe(
    'destination names: `team/**` → `branch-a/team/**` moves what is below `team/` under `branch-a/team/`; ' +
      '`**` → `branch-a/**` puts a fixed prefix before every name; without `**`, one name to another',
  );

const policyFields = {
  name: name.describe('unique'),
  description: z.string().max(1000),
  registry: name.describe('the remote registry (by name)'),
  direction: z
    .enum(['push', 'pull'])
    .describe('push: from this Berth to the remote; pull: from the remote into this Berth'),
  repositories: z
    .string()
    .regex(REPOSITORY_PATTERN, 'must be a glob of repository name characters with *, ** and ?')
    .describe(
      'a glob over whole source repository names (`team/**`); for pull, a name without wildcards is fetched ' +
        'without listing the remote catalog (which Docker Hub and others refuse)',
    ),
  tags: z
    .string()
    .regex(TAG_PATTERN, 'must be a glob of tag characters with * and ?')
    .describe('a glob over tags (`v*`); default every tag'),
  artifactType: z
    .string()
    .max(255)
    .describe(
      "'' any; 'image' container images (and indexes of them); else an artifact type or config media type",
    ),
  rewrite: Rewrite.nullable(),
  trigger: z
    .enum(['manual', 'schedule', 'event'])
    .describe(
      'schedule: by `schedule`; event: on each push (and delete, with replicateDeletes) at the source — for ' +
        'push policies heard here, for pull policies told by the remote (POST …/policies/{id}/events)',
    ),
  schedule: z
    .string()
    .max(200)
    .nullable()
    .describe('cron (minute hour day month weekday, UTC), for trigger schedule'),
  replicateDeletes: z
    .boolean()
    .describe('event policies: a tag or manifest deleted at the source is deleted at the target too'),
  referrers: z.boolean().describe('copy signatures, SBOMs and other referrers too'),
  bytesPerSecond: z.number().int().min(1024).nullable().describe('bandwidth limit per execution; null: none'),
  enabled: z.boolean(),
  eventSecret: z
    .string()
    .min(16)
    .max(512)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .nullable()
    .describe(
      'event-triggered pull policies: the secret a remote proves with each event it POSTs to ' +
        '/api/v1/replication/policies/{id}/events (HMAC-SHA256 signature header, or Authorization: Bearer); ' +
        'stored encrypted, never returned; null removes it',
    ),
};

function checkTrigger(
  policy: { trigger?: string | undefined; schedule?: string | null | undefined },
  context: z.RefinementCtx,
): void {
  if (policy.trigger === 'schedule' && !policy.schedule) {
    context.addIssue({ code: 'custom', path: ['schedule'], message: 'trigger schedule needs a schedule' });
  }
  if (policy.schedule) {
    const problem = cronError(policy.schedule);
    if (problem) context.addIssue({ code: 'custom', path: ['schedule'], message: problem });
  }
}

export const PolicyInputSchema = z
  .strictObject({
    ...policyFields,
    description: policyFields.description.default(''),
    tags: policyFields.tags.default('**'),
    artifactType: policyFields.artifactType.default(''),
    rewrite: policyFields.rewrite.default(null),
    schedule: policyFields.schedule.default(null),
    replicateDeletes: policyFields.replicateDeletes.default(false),
    referrers: policyFields.referrers.default(true),
    bytesPerSecond: policyFields.bytesPerSecond.default(null),
    enabled: policyFields.enabled.default(true),
    eventSecret: policyFields.eventSecret.default(null),
  })
  .superRefine(checkTrigger);

/** A change: fields left out stay as they are (no defaults here, or a change would reset them). */
export const PolicyChangeSchema = z
  .strictObject(policyFields)
  .partial()
  .superRefine((change, context) => {
    if (change.schedule) checkTrigger({ schedule: change.schedule }, context);
  });

export type RegistryInput = z.input<typeof RegistryInputSchema>;
export type RegistryChange = z.output<typeof RegistryChangeSchema>;
export type PolicyInput = z.input<typeof PolicyInputSchema>;
export type PolicyChange = z.output<typeof PolicyChangeSchema>;
export type Direction = 'push' | 'pull';
export type PolicyTrigger = 'manual' | 'schedule' | 'event';

/** A remote registry as the API shows it: never its password. */
export interface RemoteRegistry {
  id: number;
  name: string;
  url: string;
  username: string | null;
  hasPassword: boolean;
  description: string;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface ReplicationPolicy {
  id: number;
  name: string;
  description: string;
  registry: string;
  registryId: number;
  direction: Direction;
  repositories: string;
  tags: string;
  artifactType: string;
  rewrite: { from: string; to: string } | null;
  trigger: PolicyTrigger;
  schedule: string | null;
  replicateDeletes: boolean;
  referrers: boolean;
  bytesPerSecond: number | null;
  enabled: boolean;
  /** Whether an event secret is stored (event-triggered pull policies); the secret itself never leaves. */
  hasEventSecret: boolean;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}
