import type { z } from 'zod';
import type { JobRunRow } from '../metadata/index.js';
import { RegistryError } from '../registry/index.js';
import { loginOf, SYSTEM_ADMINS } from './access.js';
import { jobRunView, systemRunRoutes } from './job-runs.js';
import { type ApiRoute, preamble, route } from './route.js';
import {
  QuarantineList,
  QuarantineParams,
  ScrubRun,
  ScrubRunList,
  ScrubRunParams,
  StartScrubBody,
} from './scrub-schemas.js';

const tag = 'integrity scrub';
const FOR_SYSTEM_ADMINS = preamble({ tag, gate: 'systemAdmin', access: SYSTEM_ADMINS });

function runOf(row: JobRunRow): z.input<typeof ScrubRun> {
  return {
    ...jobRunView(row),
    progress: row.status === 'running' ? row.progress : null,
    summary: row.status === 'running' ? null : row.summary,
  };
}

export const scrubRoutes: ApiRoute[] = [
  route({
    method: 'POST',
    path: '/scrub/runs',
    operationId: 'startScrub',
    summary:
      'Start an integrity scrub now (carries on from an interrupted one); pushes and pulls go on meanwhile',
    task: 'starting an integrity scrub',
    ...FOR_SYSTEM_ADMINS,
    body: StartScrubBody,
    success: {
      status: 202,
      description: 'Started; poll the run for its progress and findings',
      schema: ScrubRun,
    },
    errors: [409],
    audit: { action: 'scrub.run', resource: () => 'registry' },
    async handler(call) {
      const run = await call.options.scrub.start({
        quarantine: call.body.quarantine,
        rateBytesPerSecond: call.body.rateBytesPerSecond,
        trigger: 'manual',
        requestedBy: loginOf(call.identity),
      });
      call.auditDetail = { id: run.id, quarantine: call.body.quarantine };
      return runOf(run);
    },
  }),
  ...systemRunRoutes({
    path: '/scrub/runs',
    tag,
    job: 'integrity scrub',
    list: { operationId: 'listScrubs', summary: 'Integrity scrub runs, newest first', schema: ScrubRunList },
    get: {
      operationId: 'getScrub',
      summary: 'One integrity scrub run: its progress, or its findings once ended',
      schema: ScrubRun,
    },
    params: ScrubRunParams,
    history: (options) => options.scrub,
    view: runOf,
  }),
  route({
    method: 'GET',
    path: '/scrub/quarantine',
    operationId: 'listQuarantinedBlobs',
    summary: 'Blobs quarantined as corrupt',
    task: 'reading the quarantine',
    ...FOR_SYSTEM_ADMINS,
    success: { status: 200, description: 'The quarantined blobs', schema: QuarantineList },
    async handler(call) {
      return { items: await call.options.scrub.quarantine().list() };
    },
  }),
  route({
    method: 'DELETE',
    path: '/scrub/quarantine/{digest}',
    operationId: 'releaseQuarantinedBlob',
    summary: 'Release a blob from quarantine (its bytes were repaired): it is served again',
    task: 'releasing a quarantined blob',
    ...FOR_SYSTEM_ADMINS,
    params: QuarantineParams,
    success: { status: 204, description: 'Released' },
    errors: [404],
    audit: { action: 'scrub.release', resource: (params) => params.digest ?? '?' },
    async handler(call) {
      if (!(await call.options.scrub.quarantine().remove(call.params.digest))) {
        throw new RegistryError('NOT_FOUND', { message: `blob ${call.params.digest} is not quarantined` });
      }
    },
  }),
];
