import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { z } from 'zod';
import type { JobRunRow } from '../metadata/index.js';
import { RegistryError } from '../registry/index.js';
import type { DatabaseInfo } from '../scanning/engines.js';
import { loginOf, MEMBERS, PROJECT_ADMINS, SYSTEM_ADMINS } from './access.js';
import { jobRunView, systemRunRoutes } from './job-runs.js';
import { inRepository } from './repository-path.js';
import { type ApiRoute, type Call, preamble, route } from './route.js';
import {
  ChangeScanSettingsBody,
  DatabaseImport,
  ReportQuery,
  RescanRun,
  RescanRunList,
  RescanRunParams,
  SbomQuery,
  ScanningProjectParams,
  ScanSettings,
  VulnerabilityDatabase,
  VulnerabilityReport,
} from './scanning-schemas.js';
import { ArtifactParams } from './signature-schemas.js';

const tag = 'scanning';
const FOR_PULLERS = preamble({
  tag,
  gate: 'public',
  access: 'whoever may pull from the project',
  project: 'pull',
});
const FOR_SYSTEM_ADMINS = preamble({ tag, gate: 'systemAdmin', access: SYSTEM_ADMINS });
const NDJSON = 'application/x-ndjson';
const ZIP = 'application/zip';
/** The Harbor scanner-adapter report format (its v1.1 vulnerability report). */
const HARBOR_REPORT = 'application/vnd.security.vulnerability.report; version=1.1';

function databaseView(info: DatabaseInfo | undefined, stale: (info: DatabaseInfo) => boolean) {
  if (!info) return { imported: false };
  return {
    imported: true,
    version: info.version,
    updated: info.dataDate === null ? null : new Date(info.dataDate).toISOString(),
    importedAt: new Date(info.importedAt).toISOString(),
    records: info.records,
    stale: stale(info),
  };
}

function rescanOf(row: JobRunRow): z.input<typeof RescanRun> {
  return {
    ...jobRunView(row),
    progress: row.status === 'running' ? row.progress : null,
    summary: row.status === 'succeeded' ? (row.summary as z.input<typeof RescanRun>['summary']) : null,
  };
}

/** Streams an upload to a private temporary file (a zip is read by random access). */
async function spool(body: Readable): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-osv-'));
  const path = join(dir, 'records.zip');
  await pipeline(body, createWriteStream(path, { mode: 0o600 }));
  return { path, remove: () => rm(dir, { recursive: true, force: true }) };
}

function rawBody(call: Call<unknown, unknown, unknown>): { type: string; stream: Readable } {
  const type = String(call.request.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  const stream = call.request.body as Readable | undefined;
  if ((type !== NDJSON && type !== ZIP) || !stream || typeof stream.pipe !== 'function') {
    throw new RegistryError('UNSUPPORTED', {
      status: 415,
      message: `send OSV records as ${NDJSON} (one record per line) or as ${ZIP} (a zip of *.json records)`,
    });
  }
  return { type, stream };
}

export const scanningRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/projects/{name}/scanning',
    operationId: 'getScanSettings',
    summary: "A project's scanning settings and pull-time policies",
    task: "reading a project's scanning settings",
    tag,
    gate: 'authenticated',
    access: MEMBERS,
    project: 'member',
    params: ScanningProjectParams,
    success: { status: 200, description: 'The settings', schema: ScanSettings },
    errors: [404],
    async handler(call) {
      return call.options.scanning.viewSettings(call.params.name);
    },
  }),
  route({
    method: 'PATCH',
    path: '/projects/{name}/scanning',
    operationId: 'changeScanSettings',
    summary: "Change a project's scanning settings and pull-time policies (fields left out stay as they are)",
    task: "changing a project's scanning settings",
    tag,
    gate: 'authenticated',
    access: PROJECT_ADMINS,
    project: 'project:settings',
    params: ScanningProjectParams,
    body: ChangeScanSettingsBody,
    success: { status: 200, description: 'The settings now', schema: ScanSettings },
    errors: [404],
    audit: { action: 'scanning.settings', resource: (params) => params.name ?? '?' },
    async handler(call) {
      const { name } = call.params;
      const settings = await call.options.scanning.changeSettings(name, call.body);
      call.auditDetail = { ...settings, adapter: settings.adapter?.url ?? null };
      return settings;
    },
  }),
  route({
    method: 'GET',
    path: '/projects/{name}/repositories/{repo}/artifacts/{reference}/vulnerabilities',
    operationId: 'getVulnerabilities',
    summary: "An image's scan report: vulnerabilities by severity, image facts, SBOMs, the policy's answer",
    task: 'reading a vulnerability report',
    ...FOR_PULLERS,
    params: ArtifactParams,
    query: ReportQuery,
    success: { status: 200, description: 'The report', schema: VulnerabilityReport },
    errors: [404],
    async handler(call) {
      const { name, repo, reference } = call.params;
      const report = await inRepository(name, repo, (repository) =>
        call.options.scanning.report(repository, reference),
      );
      if (call.query.format !== 'harbor') return report;
      // Not application/json, so Fastify would not serialise it: sent as text.
      call.reply.header('content-type', HARBOR_REPORT);
      return JSON.stringify(call.options.scanning.harborReport(report));
    },
  }),
  route({
    method: 'POST',
    path: '/projects/{name}/repositories/{repo}/artifacts/{reference}/scan',
    operationId: 'scanArtifact',
    summary: 'Scan an image now (again, if it was scanned); an index: each of its images',
    task: 'scanning an artifact',
    tag,
    gate: 'authenticated',
    access: 'whoever may push to the project',
    project: 'push',
    params: ArtifactParams,
    success: {
      status: 202,
      description: 'Queued; the report shows its progress',
      schema: VulnerabilityReport,
    },
    errors: [400, 404],
    audit: {
      action: 'scanning.scan',
      resource: (params) => `${params.name ?? '?'}/${params.repo ?? '?'}:${params.reference ?? '?'}`,
    },
    async handler(call) {
      const { name, repo, reference } = call.params;
      const report = await inRepository(name, repo, (repository) =>
        call.options.scanning.requestScan(repository, reference),
      );
      call.auditDetail = { digest: report.digest };
      return report;
    },
  }),
  route({
    method: 'GET',
    path: '/projects/{name}/repositories/{repo}/artifacts/{reference}/sbom',
    operationId: 'getSbom',
    summary: "An image's SBOM as the scan stored it (SPDX 2.3 or CycloneDX 1.5 JSON; also an OCI referrer)",
    task: 'reading an SBOM',
    ...FOR_PULLERS,
    params: ArtifactParams,
    query: SbomQuery,
    success: {
      status: 200,
      description: 'The SBOM document',
      contentType: 'application/spdx+json or application/vnd.cyclonedx+json',
    },
    errors: [404],
    async handler(call) {
      const { name, repo, reference } = call.params;
      const mediaType =
        call.query.format === 'cyclonedx' ? 'application/vnd.cyclonedx+json' : 'application/spdx+json';
      const { scanning } = call.options;
      const { stream, size } = await inRepository(name, repo, async (repository) => {
        const blob = await scanning.sbom(repository, reference, mediaType);
        return { stream: await scanning.openBlob(blob.digest), size: blob.size };
      });
      call.reply.header('content-type', mediaType).header('content-length', String(size));
      return stream;
    },
  }),
  route({
    method: 'GET',
    path: '/scanner/database',
    operationId: 'getVulnerabilityDatabase',
    summary: 'The vulnerability database: its version, its data date, whether it is stale',
    task: 'reading the vulnerability database',
    tag,
    gate: 'authenticated',
    access: 'anyone logged in',
    success: { status: 200, description: 'The database', schema: VulnerabilityDatabase },
    async handler(call) {
      const { scanning } = call.options;
      return databaseView(await scanning.databaseInfo(), (info) => scanning.isStale(info));
    },
  }),
  route({
    method: 'PUT',
    path: '/scanner/database',
    operationId: 'importVulnerabilityDatabase',
    summary: `Import OSV records (${NDJSON}, one per line, or ${ZIP} of *.json); then rescan in the background`,
    task: 'importing the vulnerability database',
    ...FOR_SYSTEM_ADMINS,
    success: { status: 200, description: 'What was imported', schema: DatabaseImport },
    errors: [409, 415],
    audit: { action: 'scanning.database', resource: () => 'registry' },
    async handler(call) {
      const { type, stream } = rawBody(call);
      const { scanning } = call.options;
      const requestedBy = loginOf(call.identity);
      let result: Awaited<ReturnType<typeof scanning.importDatabase>>;
      if (type === NDJSON) {
        result = await scanning.importDatabase({ kind: 'ndjson', stream }, requestedBy);
      } else {
        const file = await spool(stream);
        try {
          result = await scanning.importDatabase({ kind: 'zip', path: file.path }, requestedBy);
        } finally {
          await file.remove();
        }
      }
      const { report, rescan } = result;
      call.auditDetail = { version: report.version, written: report.written, invalid: report.invalid };
      return {
        imported: report.written,
        rejected: report.invalid,
        problems: report.problems,
        database: databaseView(report.info, (info) => scanning.isStale(info)),
        rescan,
      };
    },
  }),
  route({
    method: 'POST',
    path: '/scanner/rescans',
    operationId: 'startRescan',
    summary: 'Match every stored inventory against the current database again, in the background',
    task: 'starting a rescan',
    ...FOR_SYSTEM_ADMINS,
    success: { status: 202, description: 'Started (poll the run)', schema: RescanRun },
    errors: [409],
    audit: { action: 'scanning.rescan', resource: () => 'registry' },
    async handler(call) {
      const run = await call.options.scanning.startRescan('manual', loginOf(call.identity));
      call.auditDetail = { id: run.id };
      return rescanOf(run);
    },
  }),
  ...systemRunRoutes({
    path: '/scanner/rescans',
    tag,
    job: 'rescan',
    list: { operationId: 'listRescans', summary: 'Rescan runs, newest first', schema: RescanRunList },
    get: {
      operationId: 'getRescan',
      summary: 'One rescan run: its progress, or its summary once done',
      schema: RescanRun,
    },
    params: RescanRunParams,
    history: ({ scanning }) => ({
      runs: (page) => scanning.rescans(page),
      // Every job's runs share one id space: another job's run is no rescan run (404).
      run: async (id) => {
        const run = await scanning.rescan(id);
        return run?.kind === 'rescan' ? run : undefined;
      },
    }),
    view: rescanOf,
  }),
];
