import { z } from 'zod';
import { named, PageQuery, ProjectName } from './schemas.js';

/** Repositories and artifacts as the console browses them (see schemas.ts for how these are used). */

export const RepositoryParams = z.object({
  name: ProjectName,
  repo: z
    .string()
    .min(1)
    .max(255)
    .describe('the repository within the project (`app` for team/app; `a%2Fb` for team/a/b)'),
});

export const RepositoryListQuery = PageQuery.extend({
  q: z.string().min(1).max(255).optional().describe('only repositories whose name contains this'),
});

export const RepositorySummary = named(
  'RepositorySummary',
  'A repository of a project with its counts.',
  z.object({
    name: z.string().describe('the full name, project first'),
    createdAt: z.number().int(),
    artifacts: z.number().int().describe('top-level manifests: neither an index’s child nor a referrer'),
    tags: z.number().int(),
    updatedAt: z.number().int().describe('the last tag move, or the creation'),
  }),
);

export const RepositoryList = named(
  'RepositoryList',
  'One page of repositories by name, the number matching in all, and the cursor of the next page.',
  z.object({ items: z.array(RepositorySummary), total: z.number().int(), next: z.string().optional() }),
);

export const ArtifactSummary = named(
  'ArtifactSummary',
  'A top-level artifact of a repository: an image, an index or another OCI artifact.',
  z.object({
    digest: z.string(),
    mediaType: z.string(),
    artifactType: z.string().nullable(),
    tags: z.array(z.string()),
    size: z.number().int().describe('the manifest, its blobs, and for an index its children and theirs'),
    platforms: z.array(z.string()).describe('os/architecture[/variant] of an index’s children'),
    pushedAt: z.number().int(),
    lastPulledAt: z.number().int().nullable().describe('written within a few seconds of a pull'),
  }),
);

export const ArtifactList = named(
  'ArtifactList',
  'One page of artifacts, newest push first, and the cursor of the next page.',
  z.object({
    repository: z
      .string()
      .describe('the full name: `library/busybox`, or in the default project a single-segment `busybox`'),
    items: z.array(ArtifactSummary),
    next: z.string().optional(),
  }),
);

const Descriptor = z.object({ digest: z.string(), mediaType: z.string(), size: z.number().int() });

export const ArtifactDetail = named(
  'ArtifactDetail',
  'An artifact’s manifest and config as stored, its layers (an index: its children) and its referrers.',
  z.object({
    repository: z.string(),
    digest: z.string(),
    mediaType: z.string(),
    manifest: z.unknown(),
    config: z.unknown().describe('the image config; null when there is none or it is not JSON or over 1 MiB'),
    layers: z.array(Descriptor),
    referrers: z.array(Descriptor.extend({ artifactType: z.string().nullable() })),
  }),
);

export const ConsoleLoginBody = named(
  'ConsoleLoginBody',
  'A user’s name and password (not an access token, not a robot).',
  z.object({ username: z.string().min(1).max(256), password: z.string().min(1).max(1024) }),
);

export const ConsoleSession = named(
  'ConsoleSession',
  'The console session of the cookie: who is logged in, and the CSRF token state-changing calls send in ' +
    'x-berth-csrf.',
  z.object({
    username: z.string(),
    systemAdmin: z.boolean(),
    csrfToken: z.string(),
  }),
);

export const ConsoleSessionState = named(
  'ConsoleSessionState',
  'Whether the request carries a live console session (null when not logged in, or the session ended), and ' +
    'whether the login page offers single sign-on.',
  z.object({
    session: ConsoleSession.nullable(),
    singleSignOn: z.boolean().describe('auth.oidc is configured: /api/v1/auth/oidc/login begins a sign-on'),
  }),
);
