// `berth gc` and `berth gc history` (the real command through tsx) against a running Berth: a dry run, then a
// run that collects an untagged image, a refusal while another node runs one, --no-wait, the history, and a
// run that fails. The progress bar (a terminal only) and the wording are checked without a server.
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CollectionRun,
  describeCollection,
  formatDuration,
  progressLine,
} from '../../src/cli/gc-commands.js';
import { formatBytes } from '../../src/lifecycle/index.js';
import { JobRunStore, openDatabase } from '../../src/metadata/index.js';
import { runCli } from '../helpers/cli.js';
import { type BuiltImage, OciClient } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const berth = (args: string[], env: Record<string, string>) => runCli(args, { env });

const SUMMARY = {
  dryRun: false,
  cutoff: '2025-03-01T02:00:00.000Z',
  manifests: 3,
  links: 10,
  blobs: 1,
  bytes: 12_345_678,
  orphans: { objects: 1, bytes: 2048 },
  uploads: 0,
  spared: { manifests: 1, links: 0, blobs: 0 },
  durationMs: 4200,
  phases: { mark: 200, manifests: 1000, links: 500, blobs: 1500, orphans: 900, uploads: 100 },
};

function finished(overrides: Partial<CollectionRun>): CollectionRun {
  return {
    id: 7,
    trigger: 'manual',
    dryRun: false,
    status: 'succeeded',
    requestedBy: 'admin',
    startedAt: 1_740_794_400_000,
    finishedAt: 1_740_794_404_200,
    progress: null,
    summary: SUMMARY,
    error: null,
    ...overrides,
  };
}

describe('what berth gc prints', () => {
  it('draws a bar for a phase with a total, a count without one, the phase alone without counts', () => {
    expect(progressLine({ phase: 'blobs', done: 3, total: 12 }, 12)).toBe('blobs     [###---------] 3/12');
    expect(progressLine({ phase: 'manifests', done: 0, total: 0 }, 4)).toBe('manifests [####] 0/0');
    expect(progressLine({ phase: 'orphans', done: 4096 })).toBe('orphans   4096 so far');
    expect(progressLine({ phase: 'mark' })).toBe('mark      …');
    expect(progressLine(undefined)).toBe('starting  …');
  });

  it.each([
    [850, '850 ms'],
    [4200, '4.2 s'],
    [12_000, '12 s'],
    [200_000, '3 min 20 s'],
    [3_900_000, '1 h 05 min'],
  ])('formats %d ms as %s', (ms, text) => expect(formatDuration(ms)).toBe(text));

  it('says what a run deleted and spared', () => {
    expect(describeCollection(finished({}))).toBe(
      [
        'garbage collection run 7 succeeded in 4.2 s',
        'deleted 3 manifests, 10 blob links, 1 blob, 1 orphaned object (2 kB) and 0 expired uploads',
        'freed 12.3 MB',
        'spared 1 manifest, 0 blob links and 0 blobs: used again after the run marked them',
        'grace window: anything newer than 2025-03-01T02:00:00.000Z was left alone',
      ].join('\n'),
    );
  });

  it('says what a dry run would delete, and the error of a run that failed', () => {
    const dry = finished({
      dryRun: true,
      summary: { ...SUMMARY, dryRun: true, orphans: { objects: 0, bytes: 0 } },
    });
    expect(describeCollection(dry).split('\n').slice(0, 3)).toEqual([
      'garbage collection dry run 7 succeeded in 4.2 s',
      'would delete 3 manifests, 10 blob links, 1 blob, 0 orphaned objects and 0 expired uploads',
      'would free 12.3 MB',
    ]);
    expect(describeCollection(finished({ status: 'failed', summary: null, error: 'disk on fire' }))).toBe(
      'garbage collection run 7 failed in 4.2 s: disk on fire',
    );
  });
});

describe('berth gc against a running server', () => {
  let server: TestBerth;
  let admin: Record<string, string>;
  let dropped: BuiltImage;

  beforeAll(async () => {
    // No grace window: whatever exists when a run starts may go.
    server = await startBerth({ config: { 'gc.graceSeconds': 0 } });
    await server.berth.accounts.setPassword('admin', 'admin cli password');
    admin = { BERTH_SERVER: server.url, BERTH_USER: 'admin', BERTH_PASSWORD: 'admin cli password' };
    const client = new OciClient(server.url);
    await client.pushRandomImage('library/app', 'v1', { layers: 1, layerSize: 64 });
    dropped = await client.pushRandomImage('library/app', undefined, { layers: 1, layerSize: 1000 });
  });
  afterAll(() => server.close());

  /** Progress lines, one per phase, on stderr when it is not a terminal. */
  const PROGRESS = /^(gc run \d+: (mark|manifests|links|blobs|orphans|uploads)( \(\d+\/\d+\))?\n)*$/;

  it('previews a collection with --dry-run, then collects the untagged image', async () => {
    const freed = formatBytes(dropped.config.length + (dropped.layers[0] as Buffer).length);
    const dry = await berth(['gc', '--dry-run'], admin);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toMatch(PROGRESS);
    expect(dry.stdout).toMatch(
      new RegExp(
        '^garbage collection dry run \\d+ succeeded in \\d+(\\.\\d)? m?s\\n' +
          'would delete 1 manifest, 2 blob links, 2 blobs, 0 orphaned objects and 0 expired uploads\\n' +
          `would free ${freed}\\n` +
          'grace window: anything newer than \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z was left alone\\n$',
      ),
    );
    const manifest = `/v2/library/app/manifests/${dropped.digest}`;
    expect((await fetch(`${server.url}${manifest}`, { method: 'HEAD' })).status).toBe(200);

    const run = await berth(['gc'], admin);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^garbage collection run \d+ succeeded in [^\n]+\ndeleted 1 manifest, 2 blob links, 2 blobs, 0 orphaned objects and 0 expired uploads\n/,
    );
    expect(run.stdout).toContain(`\nfreed ${freed}\n`);
    expect((await fetch(`${server.url}${manifest}`, { method: 'HEAD' })).status).toBe(404);
    expect((await fetch(`${server.url}/v2/library/app/manifests/v1`, { method: 'HEAD' })).status).toBe(200);
  });

  it('refuses while another node runs one, with the API’s message; --no-wait returns at once', async () => {
    // Another process on the same database holds the one-run lock.
    const { db } = await openDatabase(`sqlite:${join(server.dataDir, 'berth.db')}`);
    const runs = new JobRunStore(db);
    try {
      const other = await runs.start(
        { kind: 'gc', scope: '', trigger: 'manual', dryRun: false, requestedBy: 'elsewhere' },
        30_000,
      );
      expect(other).toBeDefined();
      const refused = await berth(['gc'], admin);
      expect(refused).toMatchObject({
        code: 1,
        stdout: '',
        stderr: 'berth: garbage collection is running already (see berth gc history)\n',
      });
      await runs.finish(other?.id as number, { status: 'failed', error: 'stopped by the test' });
    } finally {
      await db.destroy();
    }

    const started = await berth(['gc', '--dry-run', '--no-wait', '--json'], admin);
    expect(started.code, started.stderr).toBe(0);
    const run = JSON.parse(started.stdout) as CollectionRun;
    expect(run).toMatchObject({ status: 'running', dryRun: true, requestedBy: 'admin', summary: null });
    expect(await server.berth.gc.run(run.id)).toBeDefined();
    while ((await server.berth.gc.run(run.id))?.status === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  it('lists the runs, newest first, as a table and as JSON', async () => {
    const table = await berth(['gc', 'history'], admin);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +TRIGGER +DRY RUN +STATUS +STARTED +DURATION +FREED$/);
    // The --no-wait dry run, the other node's run, the run, the dry run.
    expect(lines.slice(1).map((line) => line.split(/ {2,}/).slice(1, 4))).toEqual([
      ['manual', 'yes', 'succeeded'],
      ['manual', 'no', 'failed'],
      ['manual', 'no', 'succeeded'],
      ['manual', 'yes', 'succeeded'],
    ]);
    expect(lines[3]).toMatch(/ \d{4}-\d\d-\d\dT[\d:.]+Z +\d+(\.\d)? m?s +\d+(\.\d)? k?B$/);
    expect(lines[4]).toMatch(/ \((\d+(\.\d)? k?B)\)$/);

    const json = await berth(['gc', 'history', '--limit', '2', '--json'], admin);
    expect(json.code, json.stderr).toBe(0);
    const items = JSON.parse(json.stdout) as CollectionRun[];
    expect(items.map((r) => [r.dryRun, r.status, r.requestedBy])).toEqual([
      [true, 'succeeded', 'admin'],
      [false, 'failed', 'elsewhere'],
    ]);
  });

  it('exits 1 with the error of a run that failed', async () => {
    // The mark phase reads manifest_references: hidden for a moment, it makes the run fail.
    const { db } = await openDatabase(`sqlite:${join(server.dataDir, 'berth.db')}`);
    await sql`alter table manifest_references rename to hidden_references`.execute(db);
    try {
      const failed = await berth(['gc'], admin);
      expect(failed.code, failed.stderr).toBe(1);
      expect(failed.stdout).toBe('');
      expect(failed.stderr).toMatch(
        /^berth: garbage collection run \d+ failed: .*no such table: manifest_references\n$/m,
      );
    } finally {
      await sql`alter table hidden_references rename to manifest_references`.execute(db);
      await db.destroy();
    }
  });
});
