// The logic behind the console's operations pages: what forms send (replication policies, registries, project
// settings, a vulnerability database upload) and what lists say in words (webhook status, replication and scrub
// progress, scan reports, many tags).
import { describe, expect, it } from 'vitest';
import type { Schemas } from '../src/api/client';
import { bySeverity, reportText } from '../src/pages/artifact-assurance';
import { TAGS_SHOWN, tagsText } from '../src/pages/artifacts';
import { parseAllowlist, proxyChange, proxyInput } from '../src/pages/project-settings';
import { connectionText, credentials } from '../src/pages/registries';
import { eventsUrl, policyBody, triggerText } from '../src/pages/replication';
import { progressText } from '../src/pages/replication-executions';
import { databaseUpload } from '../src/pages/scanner';
import { scrubText } from '../src/pages/scrub';
import { webhookStatus } from '../src/pages/webhooks';

const formOf = (fields: Record<string, string>) => {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.set(key, value);
  return form;
};

describe('replication policy form', () => {
  const base = {
    name: 'to-dr',
    registry: 'dr',
    direction: 'push',
    repositories: 'team/**',
    trigger: 'manual',
  };

  it('sends the API defaults for what is left empty', () => {
    expect(policyBody(formOf({ ...base, referrers: 'on', enabled: 'on' }))).toEqual({
      name: 'to-dr',
      description: '',
      registry: 'dr',
      direction: 'push',
      repositories: 'team/**',
      tags: '**',
      artifactType: '',
      rewrite: null,
      trigger: 'manual',
      schedule: null,
      replicateDeletes: false,
      referrers: true,
      bytesPerSecond: null,
      enabled: true,
      eventSecret: null,
    });
  });

  it('keeps a schedule only for scheduled policies, and reads a bandwidth with units', () => {
    const scheduled = policyBody(
      formOf({ ...base, trigger: 'schedule', schedule: '0 3 * * *', bytesPerSecond: '10MB' }),
    );
    expect([scheduled.schedule, scheduled.bytesPerSecond]).toEqual(['0 3 * * *', 10_000_000]);
    expect(policyBody(formOf({ ...base, schedule: '0 3 * * *' })).schedule).toBeNull();
    expect(() => policyBody(formOf({ ...base, bytesPerSecond: 'fast' }))).toThrow(/Bandwidth.*"fast"/);
  });

  it('sends a rename and an event secret when given', () => {
    const body = policyBody(
      formOf({
        ...base,
        trigger: 'event',
        rewriteFrom: 'team/',
        rewriteTo: 'dr/team/',
        eventSecret: 's3cret',
      }),
    );
    expect([body.rewrite, body.eventSecret]).toEqual([{ from: 'team/', to: 'dr/team/' }, 's3cret']);
  });

  it('says what starts a policy and where a remote sends events', () => {
    const policy = {
      trigger: 'schedule',
      schedule: '0 3 * * *',
      nextRunAt: null,
      direction: 'push',
    } as const;
    expect(triggerText(policy)).toBe('schedule 0 3 * * *');
    expect(triggerText({ ...policy, trigger: 'event', direction: 'pull' })).toBe('events the remote sends');
    expect(triggerText({ ...policy, trigger: 'manual' })).toBe('by hand');
    expect(eventsUrl('https://berth.example', 7)).toBe(
      'https://berth.example/api/v1/replication/policies/7/events',
    );
  });
});

describe('registry form and connection test', () => {
  it('sends anonymous as nulls, and keeps a stored password when an edit leaves it empty', () => {
    expect(credentials(formOf({ username: '' }), false)).toEqual({ username: null, password: null });
    expect(credentials(formOf({ username: 'bot', password: 'pw' }), false)).toEqual({
      username: 'bot',
      password: 'pw',
    });
    expect(credentials(formOf({ username: 'bot', password: '' }), true)).toEqual({ username: 'bot' });
  });

  it('says what the connection test found', () => {
    expect(connectionText({ ok: true, latencyMs: 12 })).toBe(
      'answers and lets the stored credentials in (12 ms)',
    );
    expect(connectionText({ ok: false, error: '401 Unauthorized', latencyMs: 3 })).toBe(
      'failed: 401 Unauthorized (3 ms)',
    );
  });
});

describe('progress and status in words', () => {
  it('says how far a replication is', () => {
    expect(progressText(null)).toBe('starting');
    expect(
      progressText({
        total: 10,
        done: 4,
        succeeded: 2,
        failed: 1,
        immutable: 1,
        skipped: 0,
        bytes: 4 * 1024 * 1024,
      }),
    ).toBe('4 of 10 done: 2 copied, 1 failed, 1 refused (immutable at the target); 4.0 MiB');
  });

  it("says what a webhook endpoint's state means", () => {
    expect(webhookStatus({ status: 'enabled', disabledReason: null, consecutiveFailures: 0 })).toBe('on');
    expect(webhookStatus({ status: 'enabled', disabledReason: null, consecutiveFailures: 3 })).toBe(
      'on (3 failures in a row)',
    );
    expect(
      webhookStatus({ status: 'failing', disabledReason: '10 failures: 503', consecutiveFailures: 10 }),
    ).toBe('turned off by Berth: 10 failures: 503');
  });

  const state = {
    phase: 'done',
    blobs: { checked: 3, total: 3, bytes: 2048 },
    manifests: { checked: 2, total: 2 },
    corrupt: [],
    missing: [],
    badManifests: [],
    unlisted: 0,
  };

  it('says what a scrub is doing and what it found', () => {
    expect(scrubText({ status: 'running', progress: null, summary: null, error: null })).toBe('starting');
    expect(
      scrubText({ status: 'running', progress: { ...state, phase: 'blobs' }, summary: null, error: null }),
    ).toBe('blobs: 3 of 3 blobs (2.0 KiB), 2 of 2 manifests checked');
    expect(scrubText({ status: 'succeeded', progress: null, summary: state, error: null })).toMatch(
      /^everything is intact; /,
    );
    const corrupt = { digest: 'sha256:a', problem: 'corrupt', detail: '', quarantined: true, affected: [] };
    expect(
      scrubText({
        status: 'succeeded',
        progress: null,
        summary: { ...state, corrupt: [corrupt], unlisted: 4 },
        error: null,
      }),
    ).toMatch(/^1 corrupt, 0 missing, 0 bad manifests, 4 more; /);
  });

  it('shows ten tags of an artifact and counts the rest', () => {
    expect(tagsText(['1', 'latest'])).toBe('1, latest');
    const many = Array.from({ length: 100_000 }, (_, i) => `t${i}`);
    expect(tagsText(many)).toBe(`${many.slice(0, TAGS_SHOWN).join(', ')} and 99,990 more`);
  });
});

describe('scan reports', () => {
  type Vulnerability = NonNullable<Schemas['VulnerabilityReport']['vulnerabilities']>[number];
  const vuln = (id: string, severity: Vulnerability['severity'], score?: number): Vulnerability => ({
    id,
    aliases: [],
    package: { type: 'apk', name: 'openssl', version: '1', purl: `pkg:apk/alpine/openssl@1#${id}` },
    severity,
    links: [],
    ...(score !== undefined && { score }),
  });

  it('lists the worst first, then by score, then by id', () => {
    const sorted = bySeverity([
      vuln('B', 'Low'),
      vuln('C', 'High', 7),
      vuln('A', 'High', 8.1),
      vuln('D', 'Critical'),
    ]);
    expect(sorted.map((v) => v.id)).toEqual(['D', 'A', 'C', 'B']);
  });

  it('says what a report holds', () => {
    const report = {
      repository: 'team/app',
      digest: 'sha256:a',
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      policy: { decision: 'allow' },
    } as const;
    expect(reportText({ ...report, status: 'not-scanned' })).toBe('Not scanned yet.');
    expect(reportText({ ...report, status: 'failed', error: 'layer unreadable' })).toBe(
      'The scan failed: layer unreadable.',
    );
    const summary = { total: 1, critical: 0, high: 0, medium: 1, low: 0, unknown: 0, fixable: 1 };
    const database = { version: 2, updated: '2024-03-01', stale: false, current: true };
    expect(reportText({ ...report, status: 'done', summary, packages: 5, database })).toBe(
      '1 vulnerability: 0 critical, 0 high, 1 medium, 0 low, 0 unknown (1 fixable) in 5 packages; database 2 of 2024-03-01.',
    );
    expect(
      reportText({ ...report, status: 'done', summary: { ...summary, total: 0, medium: 0 }, packages: 5 }),
    ).toBe('No known vulnerabilities in 5 packages.');
  });
});

describe('vulnerability database upload', () => {
  it('sends one zip as it is', async () => {
    const zip = new File([new Uint8Array([0x50, 0x4b])], 'all.zip');
    expect(await databaseUpload([zip])).toEqual({ body: zip, type: 'application/zip' });
  });

  it('sends OSV .json records and NDJSON files as NDJSON, one record per line', async () => {
    const record = new File([JSON.stringify({ id: 'A' }, null, 2)], 'A.json');
    const lines = new File(['{"id":"B"}\n{"id":"C"}\n'], 'more.ndjson');
    const { body, type } = await databaseUpload([record, lines]);
    expect(type).toBe('application/x-ndjson');
    expect(await body.text()).toBe('{"id":"A"}\n{"id":"B"}\n{"id":"C"}\n');
  });

  it('refuses nothing chosen and a zip among other files, in words', async () => {
    await expect(databaseUpload([])).rejects.toThrow(/Choose a file/);
    await expect(databaseUpload([new File([''], 'a.zip'), new File([''], 'b.json')])).rejects.toThrow(
      /one zip at a time/,
    );
  });
});

describe('project settings', () => {
  it('reads a push allowlist; empty is anywhere', () => {
    expect(parseAllowlist('10.0.0.0/8, 192.168.1.7\n fd00::/8')).toEqual([
      '10.0.0.0/8',
      '192.168.1.7',
      'fd00::/8',
    ]);
    expect(parseAllowlist('  ')).toBeNull();
  });

  it('sends a proxy upstream only when it changes', () => {
    const current = { url: 'https://hub.example', username: 'bot', credentials: true };
    const form = formOf({ proxyUrl: 'https://hub.example', proxyUsername: 'bot' });
    expect(proxyInput(form)).toEqual({ url: 'https://hub.example', username: 'bot' });
    // Same URL and user, no new password: unchanged (the stored password stays).
    expect(proxyChange(current, proxyInput(form))).toBeUndefined();
    expect(proxyChange(current, { url: 'https://hub.example', username: 'bot', password: 'new' })).toEqual({
      url: 'https://hub.example',
      username: 'bot',
      password: 'new',
    });
    // URL emptied: no longer a cache; never one: nothing to send.
    expect(proxyChange(current, proxyInput(formOf({ proxyUrl: '' })))).toBeNull();
    expect(proxyChange(null, undefined)).toBeUndefined();
  });
});
