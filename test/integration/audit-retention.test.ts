// Audit retention (`audit.retentionDays`) against a real Berth (SQLite, and PostgreSQL in the postgres project):
// the periodic purge removes anomaly findings older than the retention (with the audit events), and keeps newer ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from '../helpers/server.js';

const DAY = 86_400_000;

describe('audit retention', () => {
  let berth: TestBerth;

  beforeAll(async () => {
    // The purge runs with the upload purge, here every second.
    berth = await startBerth({ config: { 'audit.retentionDays': 1, 'uploads.purgeIntervalSeconds': 1 } });
  });

  afterAll(async () => {
    await berth?.close();
  });

  it('removes anomaly findings older than the retention, and only those', async () => {
    const store = berth.berth.anomalies.store;
    const finding = (time: number, subject: string) =>
      store.insert({
        time,
        kind: 'failed-logins-account',
        subject,
        project: null,
        windowStart: time - 60_000,
        count: 10,
        summary: `10 failed logins of ${subject}`,
        details: {},
      });
    const now = Date.now();
    await finding(now - 3 * DAY, 'old-account');
    await finding(now, 'new-account');

    const deadline = Date.now() + 60_000;
    let subjects: string[] = [];
    while (Date.now() < deadline) {
      subjects = (await store.list({ limit: 10 })).map((a) => a.subject);
      if (!subjects.includes('old-account')) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(subjects).toEqual(['new-account']);
  });
});
