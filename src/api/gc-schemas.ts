import { z } from 'zod';
import { jobRunFields, named, newestFirstPage, RunId } from './schemas.js';

/** Garbage collection runs: bodies, answers and parameters (see schemas.ts for how they are used). */

export const CollectionSummary = named(
  'CollectionSummary',
  'What a garbage collection run deleted, or for a dry run would delete. `spared`: planned but kept, because ' +
    'a push, tag or mount relied on them after the plan was made.',
  z.object({
    dryRun: z.boolean(),
    cutoff: z.string().describe('the grace window starts here: anything newer was left alone'),
    manifests: z
      .number()
      .int()
      .describe('untagged manifests no index or referrer keeps, and orphaned referrers'),
    links: z.number().int().describe('blob links into repositories that no manifest there references'),
    blobs: z.number().int().describe('blobs no repository links any more'),
    bytes: z.number().int().describe('bytes freed (blobs and orphaned objects)'),
    orphans: z
      .object({ objects: z.number().int(), bytes: z.number().int() })
      .describe('stored bytes without metadata'),
    uploads: z.number().int().describe('expired upload sessions'),
    spared: z.object({ manifests: z.number().int(), links: z.number().int(), blobs: z.number().int() }),
    durationMs: z.number().int(),
    phases: z.record(z.string(), z.number().int()).describe('milliseconds per phase'),
  }),
);

export const CollectionRun = named(
  'CollectionRun',
  'A garbage collection run.',
  z.object({
    ...jobRunFields,
    progress: z
      .unknown()
      .describe(
        'while running: `phase` (mark, manifests, links, blobs, orphans, uploads) and `done` of `total`',
      ),
    summary: CollectionSummary.nullable(),
  }),
);

export const CollectionRunList = newestFirstPage('CollectionRunList', 'runs', CollectionRun);

export const StartCollectionBody = named(
  'StartCollection',
  'A run to start now.',
  z.strictObject({
    dryRun: z.boolean().default(false).describe('only report what would be deleted and the bytes it frees'),
  }),
);

export const CollectionRunParams = z.object({ id: RunId });
