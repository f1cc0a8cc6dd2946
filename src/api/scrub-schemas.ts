import { z } from 'zod';
import { jobRunFields, named, newestFirstPage, RunId } from './schemas.js';

/** Integrity scrub runs and the quarantine: bodies, answers and parameters (see schemas.ts for how they are used). */

export const ScrubRun = named(
  'ScrubRun',
  'An integrity scrub run. `progress` while running and `summary` once ended have the same shape: `phase` ' +
    '(blobs, manifests, done), `done` of `total` in that phase, counts, and the findings so far: `corrupt` and ' +
    '`missing` blobs (each with `affected` repositories, manifests and tags, and whether it was quarantined) and ' +
    '`badManifests`. `resumedFrom`: the interrupted run this one carried on from.',
  z.object({
    ...jobRunFields,
    progress: z.unknown(),
    summary: z.unknown(),
  }),
);

export const ScrubRunList = newestFirstPage('ScrubRunList', 'runs', ScrubRun);

export const StartScrubBody = named(
  'StartScrub',
  'A run to start now.',
  z.strictObject({
    quarantine: z
      .boolean()
      .default(false)
      .describe('quarantine corrupt blobs: a GET of one answers 404 BLOB_UNKNOWN naming this run'),
    rateBytesPerSecond: z
      .number()
      .int()
      .min(0)
      .max(Number.MAX_SAFE_INTEGER)
      .optional()
      .describe('read at most this many bytes per second (default: scrub.rateBytesPerSecond; 0: no limit)'),
  }),
);

export const QuarantinedBlob = named(
  'QuarantinedBlob',
  'A blob a scrub run found corrupt and quarantined: never served until released.',
  z.object({
    digest: z.string(),
    runId: z.number().int(),
    reason: z.string(),
    quarantinedAt: z.number().int(),
  }),
);

export const QuarantineList = named(
  'QuarantineList',
  'Quarantined blobs, oldest first.',
  z.object({ items: z.array(QuarantinedBlob) }),
);

export const ScrubRunParams = z.object({ id: RunId });
export const QuarantineParams = z.object({
  digest: z.string().regex(/^sha(256|512):[0-9a-f]{64,128}$/, 'must be a digest'),
});
