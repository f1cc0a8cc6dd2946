// The Retention service on a real (SQLite) database: setting and reading policies, their validation, and
// which schedules are due. Runs over pushed images are tested over HTTP (test/integration/lifecycle-retention).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBus } from '../../../src/cluster/index.js';
import { JobRunner, nextAfter, Retention } from '../../../src/lifecycle/index.js';
import { JobRunStore } from '../../../src/metadata/index.js';
import { RegistryError } from '../../../src/registry/index.js';
import { ManifestService } from '../../../src/registry/manifest-service.js';
import { openStores, type Stores } from './support.js';

const DAY = 86_400_000;

let stores: Stores;
let runner: JobRunner;
let retention: Retention;

beforeAll(async () => {
  stores = await openStores();
  runner = new JobRunner(new JobRunStore(stores.meta.db));
  const manifests = new ManifestService(stores.meta, {
    maxManifestBytes: 1 << 20,
    cacheBytes: 0,
    bus: new LocalBus(),
    policy: stores.lifecycle.policy,
  });
  retention = new Retention({ db: stores.meta.db, manifests, runner });
  for (const name of ['team', 'sched', 'busy', 'fresh']) await stores.accounts.createProject({ name });
});
afterAll(async () => {
  await runner.close();
  await stores.close();
});

async function refusal(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

/** Makes the policy look as if it was saved `days` ago. */
async function ageThePolicy(project: string, days: number): Promise<void> {
  const owner = await stores.meta.db
    .selectFrom('projects')
    .select('id')
    .where('name', '=', project)
    .executeTakeFirstOrThrow();
  await stores.meta.db
    .updateTable('retention_policies')
    .set({ updated_at: Date.now() - days * DAY })
    .where('project_id', '=', owner.id)
    .execute();
}

describe('policies', () => {
  it('shows an empty policy for a project without one', async () => {
    expect(await retention.policy('team')).toEqual({
      project: 'team',
      rules: [],
      schedule: null,
      updatedAt: null,
      nextRunAt: null,
    });
  });

  it('stores a policy with its defaults filled in, and its next scheduled run', async () => {
    const before = Date.now();
    const set = await retention.setPolicy('team', {
      rules: [
        { keep: 'latestPushed', count: 10 },
        { keep: 'pulledWithin', days: 30, untagged: true },
      ],
      schedule: '0 3 * * *',
    });
    expect(set.rules).toEqual([
      {
        keep: 'latestPushed',
        count: 10,
        repositories: '**',
        tags: { pattern: '**', match: 'matching' },
        untagged: false,
      },
      {
        keep: 'pulledWithin',
        days: 30,
        repositories: '**',
        tags: { pattern: '**', match: 'matching' },
        untagged: true,
      },
    ]);
    expect(set.updatedAt).toBeGreaterThanOrEqual(before);
    expect(set.nextRunAt).toBe(nextAfter('0 3 * * *', set.updatedAt as number));
    expect(new Date(set.nextRunAt as number).toISOString()).toMatch(/T03:00:00\.000Z$/);
    expect(await retention.policy('team')).toEqual(set);
  });

  it('replaces the policy as a whole', async () => {
    const set = await retention.setPolicy('team', { rules: [{ keep: 'always' }] });
    expect(set).toMatchObject({ schedule: null, nextRunAt: null, rules: [{ keep: 'always' }] });
  });

  it('refuses a project that does not exist (NOT_FOUND)', async () => {
    for (const call of [
      retention.policy('nope'),
      retention.setPolicy('nope', { rules: [] }),
      retention.run('nope', { dryRun: true, trigger: 'manual' }),
      retention.runs('nope', { limit: 10 }),
      retention.getRun('nope', 1),
    ]) {
      const error = await refusal(call);
      expect(error.code).toBe('NOT_FOUND');
      expect(error.message).toBe("project 'nope' not found");
    }
  });

  it('refuses a bad cron expression, naming it (INVALID_REQUEST)', async () => {
    const error = await refusal(retention.setPolicy('team', { rules: [], schedule: 'every day' }));
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.message).toMatch(/^invalid retention policy: schedule: invalid cron expression 'every day'/);
  });

  it('refuses a repository pattern that can match nothing in the project', async () => {
    const error = await refusal(
      retention.setPolicy('team', { rules: [{ keep: 'always' }, { keep: 'always', repositories: 'app' }] }),
    );
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.message).toBe(
      'invalid retention policy: rules.1.repositories: repositories "app" can match no repository of project \'team\': patterns are whole names, such as "team/app" or "team/**"',
    );
  });

  it('refuses what the schema refuses (a caller that skipped the API)', async () => {
    const error = await refusal(
      retention.setPolicy('team', { rules: [{ keep: 'latestPushed', count: 0 }] } as never),
    );
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.message).toMatch(/^invalid retention policy: rules\.0\.count: /);
  });

  it('finds a run only under its own project', async () => {
    const run = await retention.run('team', { dryRun: true, trigger: 'manual', requestedBy: 'alice' });
    expect(run).toMatchObject({ kind: 'retention', scope: 'team', dryRun: true, requestedBy: 'alice' });
    await runner.wait(run.id);
    expect((await retention.getRun('team', run.id)).status).toBe('succeeded');
    const error = await refusal(retention.getRun('sched', run.id));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toBe(`project 'sched' has no retention run ${run.id}`);
  });
});

describe('runDue', () => {
  it('starts nothing when no schedule is due, nor at once after a policy is saved', async () => {
    await retention.setPolicy('fresh', { rules: [{ keep: 'always' }], schedule: '0 0 1 1 *' });
    // Yearly: saved just now, the first scheduled time after saving is months away...
    expect((await retention.runDue(Date.now())).map((run) => run.scope)).not.toContain('fresh');
    // ...even with an old scheduled run on record: saving restarts the schedule.
    await stores.meta.db
      .insertInto('job_runs')
      .values({
        kind: 'retention',
        scope: 'fresh',
        trigger: 'schedule',
        dry_run: 0,
        status: 'succeeded',
        started_at: Date.now() - 800 * DAY,
        heartbeat_at: Date.now() - 800 * DAY,
      })
      .execute();
    expect((await retention.runDue(Date.now())).map((run) => run.scope)).not.toContain('fresh');
    await ageThePolicy('fresh', 400);
    const started = await retention.runDue(Date.now());
    expect(started.map((run) => run.scope)).toContain('fresh');
    for (const run of started) await runner.wait(run.id);
  });

  it('starts a scheduled run once its time has come, then not again until the next time', async () => {
    await retention.setPolicy('sched', { rules: [{ keep: 'always' }], schedule: '0 3 * * *' });
    await ageThePolicy('sched', 3);
    const started = await retention.runDue(Date.now());
    const run = started.find((r) => r.scope === 'sched');
    expect(run).toMatchObject({ kind: 'retention', trigger: 'schedule', dryRun: false, requestedBy: null });
    await runner.wait(run?.id as number);
    // Three missed days collapse into one run; the next is tomorrow at 03:00.
    expect((await retention.runDue(Date.now())).map((r) => r.scope)).not.toContain('sched');
    const policy = await retention.policy('sched');
    expect(policy.nextRunAt).toBeGreaterThan(Date.now());
    expect(policy.nextRunAt).toBe(nextAfter('0 3 * * *', run?.startedAt as number));
    expect(await retention.runs('sched', { limit: 10 })).toMatchObject([
      { id: run?.id, status: 'succeeded' },
    ]);
  });

  it('skips a project whose run is still going (it stays due), without an error', async () => {
    await retention.setPolicy('busy', { rules: [{ keep: 'always' }], schedule: '0 3 * * *' });
    await ageThePolicy('busy', 3);
    // Another process's run, alive (fresh heartbeat).
    const other = await runner.runs.start(
      { kind: 'retention', scope: 'busy', trigger: 'manual', dryRun: false },
      30_000,
    );
    const started = await retention.runDue(Date.now());
    expect(started.map((r) => r.scope)).not.toContain('busy');
    await runner.runs.finish(other?.id as number, { status: 'succeeded' });
    const later = await retention.runDue(Date.now());
    const run = later.find((r) => r.scope === 'busy');
    expect(run?.trigger).toBe('schedule');
    await runner.wait(run?.id as number);
  });

  it('refuses a second run of the same project while one runs (CONFLICT)', async () => {
    const other = await runner.runs.start(
      { kind: 'retention', scope: 'team', trigger: 'manual', dryRun: true },
      30_000,
    );
    const error = await refusal(retention.run('team', { dryRun: false, trigger: 'manual' }));
    expect(error.code).toBe('CONFLICT');
    expect(error.status).toBe(409);
    expect(error.message).toBe("retention of project 'team' is running already");
    await runner.runs.finish(other?.id as number, { status: 'succeeded' });
  });
});
