// Scheduled garbage collection: a run starts when the cron schedule says it is due, once per due time across
// every node (the run history decides), and the history records the trigger.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { JobRunStore } from '../../src/metadata/index.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

let server: TestBerth;

beforeAll(async () => {
  server = await startBerth({ config: { 'gc.schedule': '*/5 * * * *' } });
});

afterAll(async () => {
  await server?.close();
});

it('starts a scheduled run when due, and only once per due time even from two callers at once', async () => {
  const gc = server.berth.gc;
  const now = Date.now();
  // Not due yet at start-up (the schedule counts from the server's start).
  expect(await gc.runDue(now)).toBeUndefined();
  const later = now + 6 * 60_000;
  const [a, b] = await Promise.all([gc.runDue(later), gc.runDue(later)]);
  const started = [a, b].filter((run) => run !== undefined);
  expect(started).toHaveLength(1);
  const run = await gc.wait(started[0]?.id as number);
  expect(run).toMatchObject({ status: 'succeeded', trigger: 'schedule', dryRun: false });
  // After a scheduled run, the next one is due at the schedule's next time after it: not now.
  expect(await gc.runDue(Date.now())).toBeUndefined();
  expect((await gc.runs({ limit: 10 })).filter((r) => r.trigger === 'schedule')).toHaveLength(1);
});

it('a scheduled insert is skipped when a scheduled run started at or after its due time', async () => {
  const runs = new JobRunStore(server.berth.registry.meta.db);
  const due = Date.now() + 3_600_000;
  const first = await runs.start(
    { kind: 'gc', scope: 'schedule-test', trigger: 'schedule', dryRun: true, dueAt: due },
    30_000,
    due + 10,
  );
  expect(first).toBeDefined();
  await runs.finish(first?.id as number, { status: 'succeeded', summary: {} });
  const second = await runs.start(
    { kind: 'gc', scope: 'schedule-test', trigger: 'schedule', dryRun: true, dueAt: due },
    30_000,
    due + 20,
  );
  expect(second).toBeUndefined();
  // A manual run is never held back by the schedule.
  const manual = await runs.start(
    { kind: 'gc', scope: 'schedule-test', trigger: 'manual', dryRun: true },
    30_000,
  );
  expect(manual).toMatchObject({ trigger: 'manual', status: 'running' });
  await runs.finish(manual?.id as number, { status: 'succeeded' });
});

it('refuses a schedule that is not a cron expression, naming the key', () => {
  expect(() => loadConfig({ overrides: { 'gc.schedule': 'every day' } })).toThrow(/gc\.schedule/);
});
