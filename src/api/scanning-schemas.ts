import { z } from 'zod';
import { jobRunFields, named, ProjectName, RunId } from './schemas.js';

/** Vulnerability scanning: project settings and policies, reports, SBOMs, the database and rescans. */

const SeverityName = z.enum(['Unknown', 'Low', 'Medium', 'High', 'Critical']);
const BlockSeverity = z.enum(['Low', 'Medium', 'High', 'Critical']);

const AllowlistEntry = z.object({
  id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._:-]+$/, 'an advisory id: letters, digits, . _ : -')
    .describe('a CVE or advisory id; it covers findings with this id or alias'),
  expiresAt: z.string().max(64).optional().describe('ISO 8601; the entry stops counting after it'),
  reason: z.string().max(1024).optional(),
});

export const ScanSettings = named(
  'ScanSettings',
  "A project's scanning: scan on push, the pull-time policies and an optional plug-in scanner.",
  z.object({
    scanOnPush: z.boolean(),
    blockSeverity: BlockSeverity.nullable().describe(
      'refuse pulls of images with a vulnerability of this severity or above (null: off)',
    ),
    allowlist: z.array(AllowlistEntry),
    blockRoot: z.boolean().describe('refuse pulls of images whose config runs as root'),
    blockSsh: z.boolean().describe('refuse pulls of images with an SSH server installed'),
    blockUnscanned: z.boolean().describe('refuse pulls of images without a finished scan'),
    adapter: z
      .object({
        url: z.string(),
        authorization: z.boolean().describe('whether credentials for it are stored (never shown)'),
      })
      .nullable()
      .describe('a Harbor-compatible scanner adapter (Trivy, Clair…) used instead of the built-in scanner'),
  }),
);

export const ChangeScanSettingsBody = z
  .object({
    scanOnPush: z.boolean().optional(),
    blockSeverity: BlockSeverity.nullable().optional(),
    allowlist: z.array(AllowlistEntry).max(1000).optional(),
    blockRoot: z.boolean().optional(),
    blockSsh: z.boolean().optional(),
    blockUnscanned: z.boolean().optional(),
    adapter: z
      .object({
        url: z
          .string()
          .max(2048)
          .regex(/^https?:\/\/[^\s]+$/, 'an http(s) URL'),
        authorization: z
          .string()
          .max(4096)
          .optional()
          .describe('the Authorization header value the adapter expects; omitted: keep the stored one'),
      })
      .nullable()
      .optional(),
  })
  .strict();

const Finding = z.object({
  id: z.string(),
  aliases: z.array(z.string()),
  package: z.object({ type: z.string(), name: z.string(), version: z.string(), purl: z.string() }),
  fixedVersion: z.string().optional(),
  severity: SeverityName,
  score: z.number().optional(),
  vector: z.string().optional(),
  summary: z.string().optional(),
  links: z.array(z.string()),
});

const Summary = z.object({
  total: z.number().int(),
  critical: z.number().int(),
  high: z.number().int(),
  medium: z.number().int(),
  low: z.number().int(),
  unknown: z.number().int(),
  fixable: z.number().int(),
});

const reportFields = {
  repository: z.string(),
  digest: z.string(),
  mediaType: z.string(),
  status: z
    .enum(['not-scanned', 'queued', 'running', 'done', 'failed', 'not-applicable'])
    .describe('not-applicable: an index (see manifests) or an artifact that is not an image'),
  scanner: z.string().optional(),
  requestedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  error: z.string().optional(),
  database: z
    .object({
      version: z.number().int(),
      updated: z.string().nullable().describe("the data's own date (its newest record)"),
      stale: z.boolean(),
      current: z.boolean().describe('matched against the database imported last'),
    })
    .optional(),
  summary: Summary.optional(),
  packages: z.number().int().optional(),
  complete: z.boolean().optional(),
  problems: z.array(z.string()).optional(),
  facts: z.record(z.string(), z.unknown()).optional(),
  vulnerabilities: z.array(Finding).optional(),
  sboms: z.array(z.object({ mediaType: z.string(), digest: z.string() })).optional(),
  policy: z.object({
    decision: z.enum(['allow', 'refuse']),
    policy: z.string().optional(),
    message: z.string().optional(),
  }),
};

export const VulnerabilityReport = named(
  'VulnerabilityReport',
  "An image's scan: status, counts per severity, the vulnerabilities, the facts policies judge, its SBOMs.",
  z.object({ ...reportFields, manifests: z.array(z.object(reportFields)).optional() }),
);

export const ReportQuery = z.object({
  format: z
    .enum(['berth', 'harbor'])
    .optional()
    .describe(
      'harbor: the Harbor scanner-adapter report (application/vnd.security.vulnerability.report; version=1.1)',
    ),
});

export const SbomQuery = z.object({
  format: z.enum(['spdx', 'cyclonedx']).optional().describe('default spdx'),
});

export const VulnerabilityDatabase = named(
  'VulnerabilityDatabase',
  'The offline vulnerability database (OSV records) the built-in scanner matches against.',
  z.object({
    imported: z.boolean(),
    version: z.number().int().optional(),
    updated: z.string().nullable().optional().describe("the data's own date (its newest record)"),
    importedAt: z.string().optional(),
    records: z.number().int().optional(),
    stale: z.boolean().optional(),
  }),
);

export const DatabaseImport = named(
  'VulnerabilityDatabaseImport',
  'What an import read, and the rescan it started.',
  z.object({
    imported: z.number().int(),
    rejected: z.number().int(),
    problems: z.array(z.string()),
    database: VulnerabilityDatabase,
    rescan: z.number().int().nullable().describe('the rescan run started, if any report needs it'),
  }),
);

export const RescanRun = named(
  'RescanRun',
  'A rescan: every stored inventory matched again against the current database.',
  z.object({
    ...jobRunFields,
    progress: z.unknown().nullable(),
    summary: z
      .object({
        dbVersion: z.number().int(),
        rematched: z.number().int(),
        changed: z.number().int(),
        skipped: z.number().int(),
      })
      .nullable(),
  }),
);

export const RescanRunList = z.object({ items: z.array(RescanRun), next: z.string().optional() });

export const RescanRunParams = z.object({ id: RunId });

export const ScanningProjectParams = z.object({ name: ProjectName });
