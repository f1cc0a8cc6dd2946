import { type Generated, type Kysely, sql } from 'kysely';
import type { Database } from './schema.js';

/** Reports of deleted manifests forgotten per statement (forgetAll). */
const FORGET_BATCH = 256;

/** The tables of migration 0009 (migration-scanning.ts). */
export type ScanTables = {
  scan_settings: {
    project_id: number;
    scan_on_push: number;
    block_severity: string | null;
    /** JSON array of { id, expiresAt?, reason? }. */
    allowlist: string;
    block_root: number;
    block_ssh: number;
    block_unscanned: number;
    adapter_url: string | null;
    adapter_authorization: string | null;
    updated_at: number;
  };
  scan_reports: {
    id: Generated<number>;
    repository_id: number;
    digest: string;
    status: string;
    requested_at: number;
    lease_until: number | null;
    attempts: Generated<number>;
    started_at: number | null;
    finished_at: number | null;
    scanner: string | null;
    db_version: number | null;
    inventory: string | null;
    findings: string | null;
    summary: string | null;
    error: string | null;
    sboms: string | null;
    updated_at: number;
  };
};

type Db = Kysely<Database & ScanTables>;

/** `queued` waits for a scanner; `running` has one (until its lease ends); `done` or `failed` is final. */
export type ScanStatus = 'queued' | 'running' | 'done' | 'failed';

export interface ScanSettingsRow {
  scanOnPush: boolean;
  blockSeverity: string | null;
  allowlist: { id: string; expiresAt?: number; reason?: string }[];
  blockRoot: boolean;
  blockSsh: boolean;
  blockUnscanned: boolean;
  adapterUrl: string | null;
  adapterAuthorization: string | null;
  updatedAt: number | null;
}

/** Scan on push is off until a project turns it on (as in Harbor): a scan costs a full read of every layer. */
export const DEFAULT_SCAN_SETTINGS: ScanSettingsRow = {
  scanOnPush: false,
  blockSeverity: null,
  allowlist: [],
  blockRoot: false,
  blockSsh: false,
  blockUnscanned: false,
  adapterUrl: null,
  adapterAuthorization: null,
  updatedAt: null,
};

export interface ScanReportRow {
  id: number;
  repository: string;
  digest: string;
  status: ScanStatus;
  requestedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  attempts: number;
  scanner: string | null;
  dbVersion: number | null;
  /** JSON texts, parsed by the caller (they can be large; not every reader needs them). */
  inventory: string | null;
  findings: string | null;
  summary: string | null;
  error: string | null;
  sboms: string | null;
  updatedAt: number;
}

/** A claimed scan: the report row to fill, with the lease the claimer holds. */
export interface ScanClaim {
  id: number;
  repository: string;
  digest: string;
  attempts: number;
  leaseUntil: number;
}

/** What a finished scan writes. */
export interface ScanOutcome {
  status: 'done' | 'failed';
  scanner: string;
  dbVersion: number | null;
  inventory: string | null;
  findings: string | null;
  summary: string | null;
  error: string | null;
  sboms: string | null;
}

function toReport(row: Record<string, unknown>): ScanReportRow {
  return {
    id: Number(row.id),
    repository: String(row.repository),
    digest: String(row.digest),
    status: row.status as ScanStatus,
    requestedAt: Number(row.requested_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    attempts: Number(row.attempts),
    scanner: (row.scanner as string | null) ?? null,
    dbVersion: row.db_version === null ? null : Number(row.db_version),
    inventory: (row.inventory as string | null) ?? null,
    findings: (row.findings as string | null) ?? null,
    summary: (row.summary as string | null) ?? null,
    error: (row.error as string | null) ?? null,
    sboms: (row.sboms as string | null) ?? null,
    updatedAt: Number(row.updated_at),
  };
}

/**
 * Scan settings per project and scan reports per image manifest. The reports table is the scan queue too: a
 * scan is `queued`, claimed (`running`, with a lease), then `done` or `failed`; a claim whose lease ran out
 * (its node died) is claimed again.
 */
export class ScanStore {
  private readonly db: Db;

  constructor(db: Kysely<Database>) {
    this.db = db as unknown as Db;
  }

  async settings(project: string): Promise<ScanSettingsRow | undefined> {
    const row = await this.db
      .selectFrom('projects')
      .leftJoin('scan_settings', 'scan_settings.project_id', 'projects.id')
      .select([
        'projects.id as project_id',
        'scan_settings.scan_on_push',
        'scan_settings.block_severity',
        'scan_settings.allowlist',
        'scan_settings.block_root',
        'scan_settings.block_ssh',
        'scan_settings.block_unscanned',
        'scan_settings.adapter_url',
        'scan_settings.adapter_authorization',
        'scan_settings.updated_at',
      ])
      .where('projects.name', '=', project)
      .executeTakeFirst();
    if (!row) return undefined;
    if (row.updated_at === null) return { ...DEFAULT_SCAN_SETTINGS };
    return {
      scanOnPush: Boolean(row.scan_on_push),
      blockSeverity: row.block_severity,
      allowlist: JSON.parse(row.allowlist ?? '[]'),
      blockRoot: Boolean(row.block_root),
      blockSsh: Boolean(row.block_ssh),
      blockUnscanned: Boolean(row.block_unscanned),
      adapterUrl: row.adapter_url,
      adapterAuthorization: row.adapter_authorization,
      updatedAt: Number(row.updated_at),
    };
  }

  /** Writes a project's whole settings; false when there is no such project. */
  async saveSettings(project: string, settings: ScanSettingsRow, now = Date.now()): Promise<boolean> {
    const projectRow = await this.db
      .selectFrom('projects')
      .select('id')
      .where('name', '=', project)
      .executeTakeFirst();
    if (!projectRow) return false;
    const values = {
      scan_on_push: settings.scanOnPush ? 1 : 0,
      block_severity: settings.blockSeverity,
      allowlist: JSON.stringify(settings.allowlist),
      block_root: settings.blockRoot ? 1 : 0,
      block_ssh: settings.blockSsh ? 1 : 0,
      block_unscanned: settings.blockUnscanned ? 1 : 0,
      adapter_url: settings.adapterUrl,
      adapter_authorization: settings.adapterAuthorization,
      updated_at: now,
    };
    await this.db
      .insertInto('scan_settings')
      .values({ project_id: projectRow.id, ...values })
      .onConflict((oc) => oc.column('project_id').doUpdateSet(values))
      .execute();
    return true;
  }

  private async repositoryId(repository: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('repositories')
      .select('id')
      .where('name', '=', repository)
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.id);
  }

  /**
   * Queues a scan of a manifest. `again`: also when it was scanned already (an on-demand scan); a scan queued
   * or running is left as it is. False when the repository is gone.
   */
  async enqueue(repository: string, digest: string, again: boolean, now = Date.now()): Promise<boolean> {
    const repositoryId = await this.repositoryId(repository);
    if (repositoryId === undefined) return false;
    const query = this.db
      .insertInto('scan_reports')
      .values({ repository_id: repositoryId, digest, status: 'queued', requested_at: now, updated_at: now });
    if (!again) {
      await query.onConflict((oc) => oc.columns(['repository_id', 'digest']).doNothing()).execute();
      return true;
    }
    await query
      .onConflict((oc) =>
        oc
          .columns(['repository_id', 'digest'])
          .doUpdateSet({
            status: 'queued',
            requested_at: now,
            updated_at: now,
            lease_until: null,
            attempts: 0,
          })
          .where('scan_reports.status', 'in', ['done', 'failed']),
      )
      .execute();
    return true;
  }

  /**
   * Claims the oldest queued scan (or one whose lease expired) for `leaseMs`. The conditional update makes
   * the claim exclusive among nodes; a lost race just tries the next candidate.
   */
  async claim(leaseMs: number, maxAttempts: number, now = Date.now()): Promise<ScanClaim | undefined> {
    for (let tries = 0; tries < 5; tries++) {
      const candidate = await this.db
        .selectFrom('scan_reports')
        .innerJoin('repositories', 'repositories.id', 'scan_reports.repository_id')
        .select([
          'scan_reports.id',
          'scan_reports.digest',
          'scan_reports.attempts',
          'scan_reports.status',
          'scan_reports.lease_until',
          'repositories.name as repository',
        ])
        .where((eb) =>
          eb.or([
            eb('scan_reports.status', '=', 'queued'),
            eb.and([eb('scan_reports.status', '=', 'running'), eb('scan_reports.lease_until', '<', now)]),
          ]),
        )
        .orderBy('scan_reports.requested_at')
        .limit(1)
        .executeTakeFirst();
      if (!candidate) return undefined;
      const leaseUntil = now + leaseMs;
      const attempts = Number(candidate.attempts) + 1;
      if (attempts > maxAttempts) {
        await this.db
          .updateTable('scan_reports')
          .set({
            status: 'failed',
            error: `gave up after ${maxAttempts} attempts (the scanner stopped each time)`,
            finished_at: now,
            updated_at: now,
            lease_until: null,
          })
          .where('id', '=', candidate.id)
          .where('status', '=', candidate.status)
          .execute();
        continue;
      }
      const result = await this.db
        .updateTable('scan_reports')
        .set({ status: 'running', lease_until: leaseUntil, attempts, started_at: now, updated_at: now })
        .where('id', '=', candidate.id)
        .where('status', '=', candidate.status)
        .where('attempts', '=', candidate.attempts)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) {
        return {
          id: Number(candidate.id),
          repository: candidate.repository,
          digest: candidate.digest,
          attempts,
          leaseUntil,
        };
      }
    }
    return undefined;
  }

  /** Extends a claim; false when it was lost (taken over, or the report deleted). */
  async renew(claim: ScanClaim, leaseMs: number, now = Date.now()): Promise<boolean> {
    const leaseUntil = now + leaseMs;
    const result = await this.db
      .updateTable('scan_reports')
      .set({ lease_until: leaseUntil })
      .where('id', '=', claim.id)
      .where('status', '=', 'running')
      .where('attempts', '=', claim.attempts)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    claim.leaseUntil = leaseUntil;
    return true;
  }

  /** Records a claimed scan's outcome; false when the claim was lost meanwhile (nothing written). */
  async finish(claim: ScanClaim, outcome: ScanOutcome, now = Date.now()): Promise<boolean> {
    const result = await this.db
      .updateTable('scan_reports')
      .set({
        status: outcome.status,
        scanner: outcome.scanner,
        db_version: outcome.dbVersion,
        inventory: outcome.inventory,
        findings: outcome.findings,
        summary: outcome.summary,
        error: outcome.error,
        sboms: outcome.sboms,
        finished_at: now,
        updated_at: now,
        lease_until: null,
      })
      .where('id', '=', claim.id)
      .where('status', '=', 'running')
      .where('attempts', '=', claim.attempts)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Replaces a done report's findings after matching its inventory against a newer database. */
  async rematched(
    id: number,
    previousUpdatedAt: number,
    change: { findings: string; summary: string; dbVersion: number },
    now = Date.now(),
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('scan_reports')
      .set({
        findings: change.findings,
        summary: change.summary,
        db_version: change.dbVersion,
        updated_at: now,
      })
      .where('id', '=', id)
      .where('status', '=', 'done')
      .where('updated_at', '=', previousUpdatedAt)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  private reports() {
    return this.db
      .selectFrom('scan_reports')
      .innerJoin('repositories', 'repositories.id', 'scan_reports.repository_id')
      .selectAll('scan_reports')
      .select('repositories.name as repository');
  }

  async report(repository: string, digest: string): Promise<ScanReportRow | undefined> {
    const row = await this.reports()
      .where('repositories.name', '=', repository)
      .where('scan_reports.digest', '=', digest)
      .executeTakeFirst();
    return row ? toReport(row) : undefined;
  }

  /** Done reports scanned against an older database than `dbVersion`, after `afterId` (keyset pages). */
  async outdated(dbVersion: number, afterId: number, limit: number): Promise<ScanReportRow[]> {
    const rows = await this.reports()
      .where('scan_reports.status', '=', 'done')
      .where('scan_reports.inventory', 'is not', null)
      .where((eb) =>
        eb.or([eb('scan_reports.db_version', 'is', null), eb('scan_reports.db_version', '<', dbVersion)]),
      )
      .where('scan_reports.id', '>', afterId)
      .orderBy('scan_reports.id')
      .limit(limit)
      .execute();
    return rows.map(toReport);
  }

  async countOutdated(dbVersion: number): Promise<number> {
    const row = await this.db
      .selectFrom('scan_reports')
      .select(sql<number>`count(*)`.as('n'))
      .where('status', '=', 'done')
      .where('inventory', 'is not', null)
      .where((eb) => eb.or([eb('db_version', 'is', null), eb('db_version', '<', dbVersion)]))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Forgets the report of a deleted manifest. */
  async forget(repository: string, digest: string): Promise<void> {
    await this.forgetAll([{ repository, digest }]);
  }

  /**
   * Forgets the reports of deleted manifests: one statement per FORGET_BATCH of them, each repository's
   * digests under its own condition (a garbage collection deletes thousands: a query or two per manifest
   * queued that many).
   */
  async forgetAll(items: { repository: string; digest: string }[]): Promise<void> {
    for (let i = 0; i < items.length; i += FORGET_BATCH) {
      const byRepository = new Map<string, Set<string>>();
      for (const { repository, digest } of items.slice(i, i + FORGET_BATCH)) {
        const digests = byRepository.get(repository) ?? new Set<string>();
        byRepository.set(repository, digests);
        digests.add(digest);
      }
      await this.db
        .deleteFrom('scan_reports')
        .where((eb) =>
          eb.or(
            [...byRepository].map(([repository, digests]) =>
              eb.and([
                eb(
                  'repository_id',
                  '=',
                  eb.selectFrom('repositories').select('id').where('name', '=', repository),
                ),
                eb('digest', 'in', [...digests]),
              ]),
            ),
          ),
        )
        .execute();
    }
  }

  /** How many scans wait or run (metrics, readiness of tests). */
  async backlog(): Promise<number> {
    const row = await this.db
      .selectFrom('scan_reports')
      .select(sql<number>`count(*)`.as('n'))
      .where('status', 'in', ['queued', 'running'])
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
