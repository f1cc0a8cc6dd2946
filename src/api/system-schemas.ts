import { z } from 'zod';
import { AuditExportQuery, named, PageQuery } from './schemas.js';

/** Administration: user search, the audit download's format, system health (see schemas.ts for how they are used). */

/** `GET /users`: a page, and `q` to keep only the users whose username or e-mail address contains it. */
export const UserListQuery = PageQuery.extend({
  q: z
    .string()
    .min(1)
    .max(256)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses.
    .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters')
    .optional()
    .describe('only users whose username or e-mail address contains this (case-insensitive)'),
});

/** `GET /audit/export`: the list's filters, and the format of the download. */
export const AuditDownloadQuery = AuditExportQuery.extend({
  format: z
    .enum(['jsonl', 'csv'])
    .optional()
    .describe(
      'jsonl (default): one AuditEvent JSON object per line; csv: RFC 4180 with a header row, cells that a ' +
        'spreadsheet would read as a formula (=, +, -, @, tab, carriage return) prefixed with an apostrophe',
    ),
});

const Check = z.object({
  name: z.string().describe('metadata (the database) or storage (the blob store)'),
  up: z.boolean(),
  error: z.string().nullable().describe('why it is down'),
  ms: z.number().int().describe('how long the probe took'),
});

export const SystemHealth = named(
  'SystemHealth',
  'What /healthz and /readyz see, with each dependency probed now, and what this node runs.',
  z.object({
    status: z
      .enum(['ready', 'unavailable', 'shutting down'])
      .describe('what /readyz answers: ready (200) when every check is up and the node accepts requests'),
    checks: z.array(Check),
    version: z.string().describe("Berth's version"),
    node: z.string().describe('the Node.js version'),
    startedAt: z.number().int().describe('when this process started, milliseconds since the epoch'),
    metadata: z.enum(['sqlite', 'postgres']).describe('the metadata database'),
    storage: z.enum(['filesystem', 's3']).describe('the blob store'),
  }),
);
