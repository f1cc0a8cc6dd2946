import { z } from 'zod';
import { ACTIONS, PROJECT_ROLES } from '../auth/index.js';
import { REPOSITORY_PATTERN, TAG_PATTERN } from '../lifecycle/index.js';

/**
 * Every body, answer and parameter of /api/v1 as a zod schema. Handlers validate with these, and the OpenAPI
 * document is generated from the same objects, so the two cannot drift apart.
 *
 * Named schemas are added to `components` (the OpenAPI document's `components.schemas`) with their id.
 */
export const components = z.registry<{ id: string; description?: string }>();

export function named<T extends z.ZodType>(id: string, description: string, schema: T): T {
  components.add(schema, { id, description });
  return schema;
}

// --- names ---

/** A project is the first path segment of its repositories, so it follows the repository component grammar. */
export const PROJECT_NAME_PATTERN = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
/** New users and robots (as accounts/ checks them): no `$`, so `robot$<name>` is never a username. */
export const ACCOUNT_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{1,63}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses.
const NO_CONTROL = /^[^\u0000-\u001f\u007f]+$/;

export const ProjectName = z
  .string()
  .max(255)
  .regex(PROJECT_NAME_PATTERN, 'must be lowercase letters and digits, separated by ".", "_", "__" or "-"');
const ACCOUNT_NAME_RULE = 'must be 2–64 of a-z, 0-9, ".", "_", "-", starting with a letter or digit';
export const NewUsername = z.string().regex(ACCOUNT_NAME_PATTERN, ACCOUNT_NAME_RULE);
/** An existing account name in a path: LDAP users keep the directory's spelling, so anything printable. */
const AccountName = z.string().min(1).max(256).regex(NO_CONTROL, 'must not contain control characters');
/** Robots log in as `robot$<name>`; paths take the bare name, or the login name. */
const RobotNameParam = AccountName.transform((name) => name.replace(/^robot\$/, ''));
export const NewRobotName = z
  .string()
  .regex(ACCOUNT_NAME_PATTERN, ACCOUNT_NAME_RULE)
  .describe('without the robot$ prefix it logs in with');
const Password = z.string().min(8, 'must be at least 8 characters').max(1024);
const Email = z.email().max(254);
const Role = z.enum(PROJECT_ROLES);
const ActionName = z.enum(ACTIONS);

/** Milliseconds since the epoch, or an ISO 8601 date-time; null for never. */
const Expiry = z
  .union([
    z.number().int().positive(),
    z.iso.datetime({ offset: true }).transform((text) => Date.parse(text)),
    z.null(),
  ])
  .describe('when it stops working: milliseconds since the epoch or an ISO 8601 date-time; null: never');

// --- what the API answers ---

export const ErrorBody = named(
  'Error',
  'The error body of every failed request, as on /v2 (distribution-spec "Error Codes").',
  z.object({
    errors: z.array(
      z.object({
        code: z.string().describe('NOT_FOUND, CONFLICT, INVALID_REQUEST, UNAUTHORIZED, DENIED, …'),
        message: z.string(),
        detail: z.unknown().optional(),
      }),
    ),
  }),
);

export const RobotPermission = named(
  'RobotPermission',
  "A grant on one project; project '*' covers every project (system administrators only).",
  z.object({
    project: z.union([ProjectName, z.literal('*')]),
    actions: z.array(ActionName).min(1),
  }),
);

export const User = named(
  'User',
  'A user account.',
  z.object({
    id: z.number().int(),
    username: z.string(),
    email: z.string().nullable(),
    source: z.enum(['local', 'ldap', 'oidc']),
    systemAdmin: z.boolean(),
    disabled: z.boolean(),
    createdAt: z.number().int().describe('milliseconds since the epoch'),
  }),
);

export const ProxyUpstream = named(
  'ProxyUpstream',
  'The upstream registry a pull-through cache project fetches from; its password is never shown.',
  z.object({
    url: z.string().describe("the registry's base URL"),
    username: z.string().nullable(),
    credentials: z.boolean().describe('whether a password is stored (encrypted at rest)'),
  }),
);

export const ProxyUpstreamInput = named(
  'ProxyUpstreamInput',
  'Makes the project a pull-through cache of a registry (system administrators only). Credentials need replication.secretKey.',
  z.strictObject({
    url: z.string().min(1).max(2048).describe("the registry's base URL, e.g. https://registry-1.docker.io"),
    username: z.string().min(1).max(1024).optional(),
    password: z.string().min(1).max(8192).optional(),
  }),
);

export const Project = named(
  'Project',
  'A project: the first path segment of its repositories.',
  z.object({
    id: z.number().int(),
    name: z.string(),
    public: z.boolean(),
    pushAllowlist: z
      .array(z.string())
      .nullable()
      .describe('CIDRs allowed to push and delete; null: anywhere'),
    createdAt: z.number().int(),
    proxy: ProxyUpstream.nullable()
      .optional()
      .describe('set when the project is a pull-through cache (shown when reading one project)'),
  }),
);

export const Member = named(
  'Member',
  'A user or (LDAP) group with a role in a project.',
  z.object({ kind: z.enum(['user', 'group']), name: z.string(), role: Role }),
);

export const Robot = named(
  'Robot',
  'A robot account; it logs in as `robot$<name>` with its secret.',
  z.object({
    id: z.number().int(),
    name: z.string(),
    description: z.string().nullable(),
    permissions: z.array(RobotPermission),
    expiresAt: z.number().int().nullable(),
    disabled: z.boolean(),
    createdBy: z.string(),
    createdAt: z.number().int(),
  }),
);

export const AccessToken = named(
  'AccessToken',
  "A personal access token, used as its user's password; the secret is never shown again.",
  z.object({
    id: z.string(),
    username: z.string(),
    name: z.string(),
    permissions: z.array(RobotPermission).nullable(),
    expiresAt: z.number().int().nullable(),
    createdAt: z.number().int(),
    lastUsedAt: z.number().int().nullable(),
  }),
);

export const AuditEvent = named(
  'AuditEvent',
  'One audited action.',
  z.object({
    id: z.number().int(),
    time: z.number().int(),
    actor: z.string(),
    actorKind: z.enum(['user', 'robot', 'anonymous', 'system']),
    sourceIp: z.string().nullable(),
    userAgent: z.string().nullable(),
    action: z.string(),
    resource: z.string(),
    result: z.enum(['success', 'failure']),
    detail: z.string().nullable(),
  }),
);

export const Me = named(
  'Me',
  'The identity the request was made with.',
  z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('user'),
      username: z.string(),
      systemAdmin: z.boolean(),
      groups: z.array(z.string()),
      email: z.string().nullable(),
      source: z.enum(['local', 'ldap', 'oidc']).nullable(),
      tokenPermissions: z
        .array(RobotPermission)
        .nullable()
        .describe('signed in with a personal access token that carries permissions: only these'),
      cliSecret: z
        .object({ createdAt: z.number().int(), lastUsedAt: z.number().int().nullable() })
        .nullable()
        .describe(
          "a single sign-on user's CLI secret (never the secret itself); null: none, or not an OIDC user",
        ),
    }),
    z.object({
      kind: z.literal('robot'),
      name: z.string(),
      login: z.string().describe('`robot$<name>`'),
      permissions: z.array(RobotPermission),
      expiresAt: z.number().int().nullable(),
    }),
  ]),
);

/** A page of a cursor-paged list: its items, and the cursor of the next page but on the last. */
function pageSchema<T extends z.ZodType>(id: string, description: string, item: T) {
  return named(id, description, z.object({ items: z.array(item), next: z.string().optional() }));
}

function listOf<T extends z.ZodType>(id: string, item: T) {
  return pageSchema(
    id,
    'One page; `next` is the cursor of the following page (also sent as a Link header), absent on the last.',
    item,
  );
}

/** One page of a history (`what`: runs, deliveries…), newest first. */
export function newestFirstPage<T extends z.ZodType>(id: string, what: string, item: T) {
  return pageSchema(
    id,
    `One page of ${what}, newest first; \`next\` is the cursor of the following page, absent on the last.`,
    item,
  );
}

export const UserList = listOf('UserList', User);
export const ProjectList = listOf('ProjectList', Project);
export const MemberList = listOf('MemberList', Member);
export const RobotList = listOf('RobotList', Robot);
export const AccessTokenList = listOf('AccessTokenList', AccessToken);
export const AuditEventList = listOf('AuditEventList', AuditEvent);

export const CreatedRobot = named(
  'CreatedRobot',
  'A new robot and its secret, shown this once.',
  z.object({ robot: Robot, login: z.string(), secret: z.string() }),
);
export const RobotSecret = named(
  'RobotSecret',
  'A new robot secret, shown this once.',
  z.object({ login: z.string(), secret: z.string() }),
);
export const CreatedAccessToken = named(
  'CreatedAccessToken',
  "A new personal access token; `secret` is shown this once and is used as the user's password.",
  z.object({ token: AccessToken, secret: z.string() }),
);

// --- what the API accepts ---

const nonEmpty = <T extends Record<string, unknown>>(value: T) => Object.keys(value).length > 0;
const NOTHING_TO_CHANGE = { message: 'give at least one field to change' };

export const CreateUserBody = named(
  'CreateUser',
  'A new local user.',
  z.strictObject({
    username: NewUsername,
    password: Password,
    email: Email.optional(),
    systemAdmin: z.boolean().optional(),
  }),
);

export const UpdateUserBody = named(
  'UpdateUser',
  'Changes to a user; at least one field.',
  z
    .strictObject({
      disabled: z.boolean().optional(),
      systemAdmin: z.boolean().optional(),
      email: Email.nullable().optional(),
    })
    .refine(nonEmpty, NOTHING_TO_CHANGE),
);

export const SetPasswordBody = named(
  'SetPassword',
  'A new password. Users changing their own give their current password; system administrators need not.',
  z.strictObject({ password: Password, currentPassword: z.string().max(1024).optional() }),
);

const PushAllowlist = z
  .array(z.string().min(1).max(64))
  .max(1000)
  .nullable()
  .describe('addresses or CIDR blocks allowed to push and delete; null: anywhere');

export const CreateProjectBody = named(
  'CreateProject',
  'A new project.',
  z.strictObject({
    name: ProjectName,
    public: z.boolean().optional(),
    pushAllowlist: PushAllowlist.optional(),
    proxy: ProxyUpstreamInput.optional(),
  }),
);

export const UpdateProjectBody = named(
  'UpdateProject',
  'Changes to a project; at least one field.',
  z
    .strictObject({
      public: z.boolean().optional(),
      pushAllowlist: PushAllowlist.optional(),
      proxy: ProxyUpstreamInput.nullable().optional().describe('null: no longer a pull-through cache'),
    })
    .refine(nonEmpty, NOTHING_TO_CHANGE),
);

export const SetMemberBody = named('SetMember', 'The role to give.', z.strictObject({ role: Role }));

export const CreateRobotBody = named(
  'CreateRobot',
  'A new robot account.',
  z.strictObject({
    name: NewRobotName,
    description: z.string().max(1024).optional(),
    permissions: z.array(RobotPermission).min(1).max(100),
    expiresAt: Expiry.optional(),
  }),
);

export const UpdateRobotBody = named(
  'UpdateRobot',
  'Changes to a robot; at least one field.',
  z
    .strictObject({
      disabled: z.boolean().optional(),
      permissions: z.array(RobotPermission).min(1).max(100).optional(),
      expiresAt: Expiry.optional(),
    })
    .refine(nonEmpty, NOTHING_TO_CHANGE),
);

export const CreateAccessTokenBody = named(
  'CreateAccessToken',
  'A new personal access token; without permissions it may do all its user may.',
  z.strictObject({
    name: z.string().min(1).max(100).regex(NO_CONTROL, 'must not contain control characters'),
    permissions: z.array(RobotPermission).min(1).max(100).nullable().optional(),
    expiresAt: Expiry.optional(),
  }),
);

// --- path and query parameters ---

export const UsernameParams = z.object({ username: AccountName });
export const ProjectParams = z.object({ name: ProjectName });
export const MemberParams = z.object({
  name: ProjectName,
  kind: z.enum(['user', 'group']),
  member: AccountName,
});
export const RobotParams = z.object({ name: RobotNameParam });
export const TokenParams = z.object({ username: AccountName, id: z.string().regex(/^[0-9a-f]{16}$/) });

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

const Limit = z
  .string()
  .regex(/^[0-9]{1,12}$/, 'must be a whole number')
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be at least 1'))
  .transform((limit) => Math.min(limit, MAX_LIMIT))
  .describe(`items per page: default ${DEFAULT_LIMIT}, at most ${MAX_LIMIT}`);
const Cursor = z.string().min(1).max(1024).describe('the `next` of the previous page');

export const PageQuery = z.object({ limit: Limit.optional(), cursor: Cursor.optional() });

/** `GET /projects`: a page, and `q` to keep only the projects whose name contains it (case-insensitively). */
export const ProjectListQuery = PageQuery.extend({
  q: z.string().min(1).max(255).optional().describe('only projects whose name contains this'),
});

// --- garbage collection and retention runs ---

/** A run's id, in a path or as the cursor of a run history. */
export const RunId = z
  .string()
  .regex(/^[0-9]{1,15}$/, 'must be a run id')
  .transform(Number);

/** `?limit=&cursor=` of a run history, newest first: the cursor is the last run id seen. */
export const RunsQuery = z.object({
  limit: Limit.optional(),
  cursor: RunId.optional().describe('the `next` of the previous page'),
});

/** The fields every run shows; each kind's run schema adds its progress and summary. */
export const jobRunFields = {
  id: z.number().int(),
  trigger: z
    .enum(['manual', 'schedule', 'event'])
    .describe('event: a replication execution that pushes or deletes started'),
  dryRun: z.boolean(),
  status: z
    .enum(['running', 'succeeded', 'failed', 'interrupted'])
    .describe('interrupted: the process running it stopped'),
  requestedBy: z.string().nullable(),
  startedAt: z.number().int(),
  finishedAt: z.number().int().nullable(),
  error: z.string().nullable(),
};

export const RobotListQuery = PageQuery.extend({
  project: ProjectName.optional().describe('only robots with a permission on this project'),
});

/** A time given as milliseconds since the epoch or an ISO 8601 date/date-time, read as milliseconds. */
export const TimeText = z.string().transform((text, context) => {
  const ms = /^[0-9]{1,15}$/.test(text) ? Number(text) : Date.parse(text);
  if (Number.isNaN(ms)) {
    context.issues.push({
      code: 'custom',
      message: 'must be milliseconds since the epoch or an ISO 8601 date-time',
      input: text,
    });
    return z.NEVER;
  }
  return ms;
});

const Time = TimeText.describe('milliseconds since the epoch, or an ISO 8601 date-time');
const EventId = z
  .string()
  .regex(/^[0-9]{1,15}$/, 'must be an event id')
  .transform(Number)
  .describe('newest first: start below this event id (the `next` of the previous page)');

export const AuditExportQuery = z.object({
  actor: z.string().min(1).max(255).optional(),
  action: z.string().min(1).max(64).optional(),
  resource: z.string().min(1).max(512).optional().describe('events whose resource starts with this'),
  project: ProjectName.optional().describe(
    'events about this project: the project itself and its repositories (`<project>/…`); project administrators must give it',
  ),
  from: Time.optional().describe('from this time on (inclusive): milliseconds since the epoch or ISO 8601'),
  to: Time.optional().describe('before this time (exclusive): milliseconds since the epoch or ISO 8601'),
  before: EventId.optional(),
});
export const AuditListQuery = AuditExportQuery.extend({
  limit: Limit.optional(),
  cursor: EventId.optional().describe('the same as `before`'),
});

// --- tag immutability, quotas and storage usage ---

export const ProjectQuota = named(
  'ProjectQuota',
  "A project's storage: the blobs its repositories link, each counted once, and its quota.",
  z.object({
    limitBytes: z.number().int().nullable().describe('the quota in bytes; null: none'),
    usedBytes: z.number().int(),
  }),
);

export const SetQuotaBody = named(
  'SetQuota',
  'A quota in bytes, or null to remove it. Pushes that would pass it are refused (DENIED).',
  z.strictObject({ limitBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable() }),
);

export const StorageUsage = named(
  'StorageUsage',
  'What the registry stores, in total and per project.',
  z.object({
    storedBytes: z
      .number()
      .int()
      .describe('every stored blob once, whether linked or waiting for garbage collection'),
    capacityBytes: z
      .number()
      .int()
      .nullable()
      .describe("storage.capacityBytes, or the filesystem's size; null: unknown"),
    warnPercent: z
      .number()
      .describe('the log warns when storedBytes passes this percentage of capacityBytes'),
    projects: z.array(
      z.object({
        project: z.string(),
        usedBytes: z.number().int(),
        limitBytes: z.number().int().nullable(),
      }),
    ),
  }),
);

const Glob = (pattern: RegExp, what: string) =>
  z
    .string()
    .regex(pattern, `must be a glob of ${what} characters with *, ** and ?`)
    .describe('`*` and `?` stay within a path segment, `**` crosses segments');

export const ImmutabilityRule = named(
  'ImmutabilityRule',
  'Under it, a tag once pushed cannot be moved to another manifest or deleted.',
  z.object({
    id: z.number().int(),
    project: z.string(),
    repositoryPattern: z.string().describe('a glob over the whole repository name, e.g. `team/**`'),
    tagPattern: z.string().describe('a glob over the tag, e.g. `v*`'),
    createdAt: z.number().int(),
  }),
);
export const ImmutabilityRuleList = named(
  'ImmutabilityRuleList',
  "A project's immutability rules, oldest first.",
  z.object({ items: z.array(ImmutabilityRule) }),
);

export const CreateImmutabilityRuleBody = named(
  'CreateImmutabilityRule',
  'A new immutability rule.',
  z.strictObject({
    repositoryPattern: Glob(REPOSITORY_PATTERN, 'repository name'),
    tagPattern: Glob(TAG_PATTERN, 'tag'),
  }),
);

export const RuleParams = z.object({
  name: ProjectName,
  id: z
    .string()
    .regex(/^[0-9]{1,15}$/, 'must be a rule id')
    .transform(Number),
});
