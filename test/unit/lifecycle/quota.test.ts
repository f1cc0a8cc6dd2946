// Quota arithmetic: byte formatting, what fits, the refusal's message, and the per-project usage counters
// kept by the link transactions (each blob once per project) checked against a recount from the links.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CapacityLog,
  CapacityWatch,
  fits,
  formatBytes,
  overQuotaError,
} from '../../../src/lifecycle/index.js';
import { digestOf, openStores, type Stores } from './support.js';

describe('formatBytes', () => {
  const CASES: [number, string][] = [
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1 kB'],
    [1500, '1.5 kB'],
    [9_800_000, '9.8 MB'],
    [10_000_000, '10 MB'],
    [1_200_000, '1.2 MB'],
    [123_456_789, '123 MB'],
    [99_960_000, '100 MB'],
    [5_000_000_000_000, '5 TB'],
  ];
  for (const [bytes, text] of CASES) it(`${bytes} → ${text}`, () => expect(formatBytes(bytes)).toBe(text));
});

describe('fits', () => {
  const CASES: [used: number, limit: number | null, bytes: number | undefined, fits: boolean][] = [
    [0, null, 1e15, true],
    [0, 100, 100, true],
    [0, 100, 101, false],
    [60, 100, 40, true],
    [60, 100, 41, false],
    [100, 100, 0, true],
    [100, 100, 1, false],
    [120, 100, 0, false],
    // size unknown: is there any room left?
    [99, 100, undefined, true],
    [100, 100, undefined, false],
    [0, 0, undefined, false],
    [5, null, undefined, true],
  ];
  for (const [used, limit, bytes, expected] of CASES) {
    it(`${bytes ?? '?'} more on ${used} of ${limit ?? '∞'} → ${expected}`, () => {
      expect(fits(used, limit, bytes)).toBe(expected);
    });
  }
});

describe('overQuotaError', () => {
  it('gives usage, limit and what the blob needs', () => {
    const error = overQuotaError('team', 9_800_000, 10_000_000, 1_200_000);
    expect(error.toBody()).toEqual({
      errors: [
        {
          code: 'DENIED',
          message: 'project team is over its quota: 9.8 MB used of 10 MB; this blob needs 1.2 MB',
          detail: { project: 'team', usedBytes: 9_800_000, limitBytes: 10_000_000, neededBytes: 1_200_000 },
        },
      ],
    });
    expect(error.status).toBe(403);
  });

  it('leaves the blob out when its size is not known', () => {
    expect(overQuotaError('team', 10_000_000, 10_000_000).message).toBe(
      'project team is over its quota: 10 MB used of 10 MB',
    );
  });
});

describe('usage counters', () => {
  let stores: Stores;
  const used = async (project: string) => (await stores.lifecycle.store.storage(project)).usedBytes;
  const consistent = async () => {
    const recount = await stores.lifecycle.store.recount();
    for (const row of await stores.lifecycle.store.allStorage()) {
      expect(row.usedBytes, row.project).toBe(recount.get(row.project) ?? 0);
    }
  };

  beforeAll(async () => {
    stores = await openStores();
    await stores.accounts.bootstrap('admin password 1');
    await stores.accounts.createProject({ name: 'team' });
  });
  afterAll(() => stores.close());

  it('count a blob once per project, and in each project that links it', async () => {
    const { meta } = stores;
    await meta.linkBlob('team/a', digestOf(1), 1000);
    expect(await used('team')).toBe(1000);
    await meta.linkBlob('team/b', digestOf(1), 1000);
    await meta.linkBlob('team/a', digestOf(1), 1000);
    expect(await used('team')).toBe(1000);
    await meta.linkBlob('team/a/deep', digestOf(2), 300);
    expect(await used('team')).toBe(1300);
    await meta.linkBlob('other/x', digestOf(1), 1000);
    expect(await used('other')).toBe(1000);
    // teamwork/… is another project, whatever its name starts with.
    await meta.linkBlob('teamwork/x', digestOf(2), 300);
    expect(await used('team')).toBe(1300);
    expect(await used('teamwork')).toBe(300);
    await consistent();
  });

  it('give the bytes back only when the last link in the project goes', async () => {
    const { meta } = stores;
    expect(await meta.unlinkBlob('team/a', digestOf(1))).toBe(true);
    expect(await used('team')).toBe(1300);
    expect(await meta.unlinkBlob('team/a', digestOf(1))).toBe(false);
    expect(await used('team')).toBe(1300);
    expect(await meta.unlinkBlob('team/b', digestOf(1))).toBe(true);
    expect(await used('team')).toBe(300);
    expect(await used('other')).toBe(1000);
    expect(await meta.unlinkBlob('nowhere/x', digestOf(1))).toBe(false);
    await consistent();
  });

  it('put single-segment repositories in the default project with library/…', async () => {
    const { meta } = stores;
    await meta.linkBlob('busybox', digestOf(3), 70);
    await meta.linkBlob('library/busybox', digestOf(3), 70);
    await meta.linkBlob('library/alpine', digestOf(4), 30);
    expect(await used('library')).toBe(100);
    await meta.unlinkBlob('busybox', digestOf(3));
    expect(await used('library')).toBe(100);
    await meta.unlinkBlob('library/busybox', digestOf(3));
    expect(await used('library')).toBe(30);
    await consistent();
  });

  it('admit a blob new to the project against the locked usage and the limit, and undo a refusal', async () => {
    const { meta, lifecycle } = stores;
    await lifecycle.setQuota('team', 1000);
    const admit = lifecycle.quotas.admitLink;
    await meta.linkBlob('team/q', digestOf(10), 700, undefined, admit);
    expect(await used('team')).toBe(1000);
    await expect(meta.linkBlob('team/q', digestOf(11), 1, undefined, admit)).rejects.toMatchObject({
      code: 'DENIED',
      message: 'project team is over its quota: 1 kB used of 1 kB; this blob needs 1 B',
    });
    // Nothing of the refused link stayed: no blob row, no link, no repository made for it.
    expect(await meta.blobSize(digestOf(11))).toBeUndefined();
    await expect(meta.linkBlob('team/new-repo', digestOf(11), 1, undefined, admit)).rejects.toMatchObject({
      code: 'DENIED',
    });
    expect(await meta.repositoryId('team/new-repo')).toBeUndefined();
    // A blob the project holds never counts twice, so it never fails; an empty one never does either.
    await meta.linkBlob('team/other', digestOf(10), 700, undefined, admit);
    await meta.linkBlob('team/q', digestOf(12), 0, undefined, admit);
    expect(await used('team')).toBe(1000);
    await lifecycle.setQuota('team', null);
    await meta.linkBlob('team/q', digestOf(11), 1, undefined, admit);
    expect(await used('team')).toBe(1001);
    await consistent();
  });

  it('report usage and quotas of every project, and refuse quotas on unknown projects', async () => {
    const { lifecycle } = stores;
    await lifecycle.setQuota('team', 5000);
    expect(await lifecycle.quota('team')).toEqual({ project: 'team', usedBytes: 1001, limitBytes: 5000 });
    const usage = await lifecycle.usage();
    expect(usage.projects).toEqual([
      { project: 'library', usedBytes: 30, limitBytes: null },
      { project: 'other', usedBytes: 1000, limitBytes: null },
      { project: 'team', usedBytes: 1001, limitBytes: 5000 },
      { project: 'teamwork', usedBytes: 300, limitBytes: null },
    ]);
    // Each stored blob once: 1 (1000), 2 (300), 3 (70), 4 (30), 10 (700), 11 (1), 12 (0).
    expect(usage.storedBytes).toBe(2101);
    expect(usage.capacityBytes).toBeNull();
    await expect(lifecycle.setQuota('nope', 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(lifecycle.quota('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(lifecycle.setQuota('team', -1)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });
});

describe('CapacityWatch', () => {
  it('warns once per crossing of warnPercent, and says when storage is back under', async () => {
    const lines: string[] = [];
    const log: CapacityLog = {
      warn: (_fields, message) => lines.push(`warn ${message}`),
      info: (_fields, message) => lines.push(`info ${message}`),
    };
    let capacity: number | undefined = 1000;
    const watch = new CapacityWatch({ warnPercent: 85, capacityBytes: async () => capacity, log });
    expect((await watch.check(849)).above).toBe(false);
    expect(lines).toEqual([]);
    expect((await watch.check(850)).above).toBe(true);
    await watch.check(900);
    await watch.check(1200);
    expect(lines).toEqual(['warn storage is over 85% of its capacity']);
    await watch.check(100);
    expect(lines).toEqual([
      'warn storage is over 85% of its capacity',
      'info storage is back under 85% of its capacity',
    ]);
    await watch.check(990);
    expect(lines).toHaveLength(3);
    // Unknown capacity (object storage without storage.capacityBytes): never above.
    capacity = undefined;
    expect(await watch.check(10_000)).toEqual({
      storedBytes: 10_000,
      capacityBytes: undefined,
      warnPercent: 85,
      above: false,
    });
  });
});
