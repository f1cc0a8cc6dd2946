import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { projectOf } from '../auth/index.js';
import { BoundedLru } from '../cache/bounded-lru.js';
import type { Invalidation, InvalidationBus } from '../cluster/index.js';
import type { AuditSink } from '../events/index.js';
import type { JobRunner } from '../lifecycle/index.js';
import {
  type Database,
  type JobRunRow,
  type ManifestRow,
  type ScanClaim,
  type ScanOutcome,
  type ScanReportRow,
  type ScanSettingsRow,
  ScanStore,
} from '../metadata/index.js';
import type { PutEvent, Reader, Registry, RegistryPolicy } from '../registry/index.js';
import { parseDigest, RegistryError } from '../registry/index.js';
import { type HarborVulnerabilityReport, toHarborReport } from './adapter/index.js';
import type { DatabaseInfo, ScanEngines } from './engines.js';
import { ScanEnforcement, scanState } from './policy/scan-enforcement.js';
import { decideScanPull, type ScanPolicy } from './policy/scan-policy.js';
import { rematchAll } from './rescan.js';
import { type ImageScan, type StoredSbom, scanImage } from './scan-image.js';
import { ScanWorker } from './scan-worker.js';
import { describeStored, isScannableImage } from './scannable.js';
import { bySeverity, isSeverity, type SeveritySummary, summarize } from './severity.js';
import type { Finding, ImageFacts } from './types.js';
import { BERTH_VERSION } from './version.js';
import type { ImportReport, OsvSource } from './vulndb/index.js';

export interface ScanningOptions {
  db: Kysely<Database>;
  registry: Registry;
  bus: InvalidationBus;
  runner: JobRunner;
  engines: ScanEngines;
  audit: AuditSink;
  /** Imports OSV records (vulndb/); absent: imports are refused. */
  database?: { importFrom(source: OsvSource): Promise<ImportReport> };
  /** Scans an image through a project's plug-in scanner instead of the built-in one (adapter/). */
  adapterScan?(
    settings: ScanSettingsRow,
    image: { repository: string; digest: string; mediaType: string },
    signal: AbortSignal,
  ): Promise<Finding[]>;
  concurrency?: number;
  pollMs?: number;
  leaseMs?: number;
  /** A database whose data is older than this shows as stale in every report; default 7 days. */
  staleAfterMs?: number;
  /** How often each node checks for reports matched against an older database; default 60 s. */
  rescanCheckMs?: number;
  onDecision?(outcome: 'refuse' | 'bypass', policy: string, project: string): void;
  onError?(error: unknown, what: string): void;
  /** Hears each scan once its report is recorded (webhooks); must not throw or wait. */
  onScanned?(scan: ScannedEvent): void;
}

/** A scan whose report was just recorded. */
export interface ScannedEvent {
  repository: string;
  digest: string;
  status: 'done' | 'failed';
  scanner: string;
  /** Counts per severity (done scans). */
  summary: SeveritySummary | null;
  error: string | null;
}

/** What the API and CLI show of an image's scan. */
export interface ScanReportView {
  repository: string;
  digest: string;
  mediaType: string;
  status: 'not-scanned' | 'queued' | 'running' | 'done' | 'failed' | 'not-applicable';
  scanner?: string;
  requestedAt?: string;
  finishedAt?: string;
  error?: string;
  database?: { version: number; updated: string | null; stale: boolean; current: boolean };
  summary?: SeveritySummary;
  packages?: number;
  complete?: boolean;
  problems?: string[];
  facts?: ImageFacts;
  vulnerabilities?: Finding[];
  sboms?: StoredSbom[];
  /** What the project's pull policy decides for this image now. */
  policy: { decision: 'allow' | 'refuse'; policy?: string; message?: string };
  /** An index: its images' reports. */
  manifests?: ScanReportView[];
}

/** The settings as the API shows and takes them (the adapter's credentials are write-only). */
export interface ScanSettingsView {
  scanOnPush: boolean;
  blockSeverity: string | null;
  allowlist: { id: string; expiresAt?: string; reason?: string }[];
  blockRoot: boolean;
  blockSsh: boolean;
  blockUnscanned: boolean;
  adapter: { url: string; authorization: boolean } | null;
}

export interface ScanSettingsChange {
  scanOnPush?: boolean;
  blockSeverity?: string | null;
  allowlist?: { id: string; expiresAt?: string; reason?: string }[];
  blockRoot?: boolean;
  blockSsh?: boolean;
  blockUnscanned?: boolean;
  /** null removes the adapter; an empty authorization keeps the stored one. */
  adapter?: { url: string; authorization?: string } | null;
}

const ISO = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : undefined);

/**
 * scanning/ as the server wires it: scan on push (the push path only enqueues), the background scan worker,
 * re-matching when the database changes, per-project settings and pull policies (the admitManifestRead hook),
 * and reports for the API.
 */
export class Scanning {
  readonly store: ScanStore;
  readonly hooks: Pick<RegistryPolicy, 'admitManifestRead'>;
  private readonly worker: ScanWorker;
  private readonly enforcement: ScanEnforcement;
  private readonly settingsCache = new BoundedLru<string, Promise<ScanSettingsRow | undefined>>({
    max: 10_000,
  });
  private rescanTimer: NodeJS.Timeout | undefined;
  /** Reports of deleted manifests heard in this turn of the event loop, forgotten at its end. */
  private forgetting: { repository: string; digest: string }[] = [];

  constructor(private readonly options: ScanningOptions) {
    this.store = new ScanStore(options.db);
    const leaseMs = options.leaseMs ?? 60_000;
    this.worker = new ScanWorker(this.store, {
      concurrency: options.concurrency ?? 1,
      pollMs: options.pollMs ?? 5000,
      leaseMs,
      maxAttempts: 3,
      scan: (claim, signal) => this.scan(claim, signal),
      onFinished: (claim, outcome) => {
        this.changed(claim.repository, claim.digest);
        this.options.onScanned?.({
          repository: claim.repository,
          digest: claim.digest,
          status: outcome.status,
          scanner: outcome.scanner,
          summary: outcome.summary === null ? null : (JSON.parse(outcome.summary) as SeveritySummary),
          error: outcome.error,
        });
      },
      onError: (error) => this.error(error, 'scan worker'),
    });
    this.enforcement = new ScanEnforcement({
      policy: async (project) => {
        const settings = await this.settings(project);
        return settings && toPolicy(project, settings);
      },
      report: (repository, digest) => this.store.report(repository, digest),
      audit: options.audit,
      ...(options.onDecision && { onDecision: options.onDecision }),
    });
    this.hooks = {
      admitManifestRead: (repository: string, manifest: ManifestRow, reader: Reader) =>
        this.enforcement.admit(repository, manifest, reader, projectOf(repository)),
    };
  }

  /** Starts the worker and the periodic check for reports matched against an older database. */
  start(): void {
    this.worker.start();
    const check = () => void this.rescanIfOutdated().catch((error) => this.error(error, 'rescan check'));
    this.rescanTimer = setInterval(check, this.options.rescanCheckMs ?? 60_000);
    this.rescanTimer.unref();
  }

  async close(): Promise<void> {
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    await this.worker.close();
  }

  private error(error: unknown, what: string): void {
    this.options.onError?.(error, what);
  }

  /** A manifest stored by this process: queue its scan when its project scans on push. */
  onPut(event: PutEvent): void {
    if (!isScannableImage(event)) return;
    void (async () => {
      const settings = await this.settings(projectOf(event.repository));
      if (!settings?.scanOnPush) return;
      await this.store.enqueue(event.repository, event.digest, false);
      this.changed(event.repository, event.digest);
      this.worker.wake();
    })().catch((error) => this.error(error, 'scan on push'));
  }

  /** A change from this process or another (ManifestService.onChange hears both). */
  apply(event: Invalidation): void {
    if (event.kind === 'all') {
      this.settingsCache.clear();
      this.enforcement.clear();
    } else if (event.kind === 'scanning-changed') {
      this.settingsCache.delete(event.project);
    } else if (event.kind === 'scan-changed') {
      this.enforcement.forget(event.repository, event.digest);
    } else if (event.kind === 'manifest-deleted') {
      this.enforcement.forget(event.repository, event.digest);
      this.forgetReport(event.repository, event.digest);
    }
  }

  /**
   * Deletes a deleted manifest's report, with the others heard in the same turn of the event loop: a garbage
   * collection tells of a batch of deleted manifests at once, forgotten in one statement, not a query each.
   */
  private forgetReport(repository: string, digest: string): void {
    this.forgetting.push({ repository, digest });
    if (this.forgetting.length > 1) return;
    setImmediate(() => {
      const items = this.forgetting;
      this.forgetting = [];
      void this.store.forgetAll(items).catch((error) => this.error(error, 'forget report'));
    });
  }

  /** Tells this process and the others that an image's report changed. */
  private changed(repository: string, digest: string): void {
    const event: Invalidation = { kind: 'scan-changed', repository, digest };
    this.apply(event);
    void this.options.bus.publish(event).catch((error) => this.error(error, 'publish'));
  }

  private settings(project: string): Promise<ScanSettingsRow | undefined> {
    let cached = this.settingsCache.get(project);
    if (!cached) {
      cached = this.store.settings(project);
      this.settingsCache.set(project, cached);
      cached.catch(() => this.settingsCache.delete(project));
    }
    return cached;
  }

  private async scan(claim: ScanClaim, signal: AbortSignal): Promise<ScanOutcome> {
    const settings = await this.store.settings(projectOf(claim.repository));
    if (settings?.adapterUrl && this.options.adapterScan) {
      const manifest = await this.options.registry.meta.manifestByDigest(claim.repository, claim.digest);
      if (!manifest) throw new Error('the manifest no longer exists');
      const image = { repository: claim.repository, digest: claim.digest, mediaType: manifest.mediaType };
      const findings = await this.options.adapterScan(settings, image, signal);
      findings.sort(bySeverity);
      return {
        status: 'done',
        scanner: `adapter ${settings.adapterUrl}`,
        dbVersion: null,
        inventory: null,
        findings: JSON.stringify(findings),
        summary: JSON.stringify(summarize(findings)),
        error: null,
        sboms: null,
      };
    }
    const previous = await this.store.report(claim.repository, claim.digest);
    const previousSboms = previous?.sboms ? (JSON.parse(previous.sboms) as StoredSbom[]) : [];
    const result: ImageScan = await scanImage(
      this.options.registry,
      this.options.engines,
      claim.repository,
      claim.digest,
      previousSboms,
    );
    const inventory = {
      ...result.inventory,
      problems: [...result.inventory.problems, ...result.sbomProblems],
    };
    return {
      status: 'done',
      scanner: 'berth',
      dbVersion: result.dbVersion,
      inventory: JSON.stringify(inventory),
      findings: JSON.stringify(result.findings),
      summary: JSON.stringify(result.summary),
      error: null,
      sboms: JSON.stringify(result.sboms),
    };
  }

  // --- the vulnerability database and rescans ---

  async databaseInfo(): Promise<DatabaseInfo | undefined> {
    return this.options.engines.vulnerabilities.info();
  }

  private async rescanIfOutdated(): Promise<void> {
    const info = await this.databaseInfo();
    if (!info) return;
    if ((await this.store.countOutdated(info.version)) === 0) return;
    await this.startRescan('schedule').catch((error) => {
      if (!(error instanceof RegistryError && error.code === 'CONFLICT')) throw error;
    });
  }

  /** Re-matches every report against the current database, in the background (one run across nodes). */
  startRescan(trigger: 'manual' | 'schedule', requestedBy?: string): Promise<JobRunRow> {
    return this.options.runner.start(
      { kind: 'rescan', scope: '', trigger, dryRun: false, requestedBy },
      (context) =>
        rematchAll(this.store, this.options.engines.vulnerabilities, context, (repository, digest) =>
          this.changed(repository, digest),
        ),
    );
  }

  /**
   * Imports OSV records, then starts re-matching every report against the new data (in the background; its
   * run id is returned, or null when no report needs it or a rescan runs already, which picks the data up).
   */
  async importDatabase(
    source: OsvSource,
    requestedBy?: string,
  ): Promise<{ report: ImportReport; rescan: number | null }> {
    if (!this.options.database) {
      throw new RegistryError('UNSUPPORTED', {
        status: 400,
        message: 'this server has no vulnerability database',
      });
    }
    const report = await this.options.database.importFrom(source);
    let rescan: number | null = null;
    if ((await this.store.countOutdated(report.version)) > 0) {
      try {
        rescan = (await this.startRescan('manual', requestedBy)).id;
      } catch (error) {
        if (!(error instanceof RegistryError && error.code === 'CONFLICT')) throw error;
      }
    }
    return { report, rescan };
  }

  rescans(page: { limit: number; before?: number }): Promise<JobRunRow[]> {
    return this.options.runner.runs.list('rescan', page);
  }

  rescan(id: number): Promise<JobRunRow | undefined> {
    return this.options.runner.runs.get(id);
  }

  /** The run once it has ended, for a run this process started (any other: as it is now). */
  waitRescan(id: number): Promise<JobRunRow | undefined> {
    return this.options.runner.wait(id);
  }

  /** Whether the data is older than staleAfterMs. */
  isStale(info: DatabaseInfo): boolean {
    const staleAfter = this.options.staleAfterMs ?? 7 * 86_400_000;
    return info.dataDate === null || Date.now() - info.dataDate > staleAfter;
  }

  /**
   * The stored SBOM of an image (the referrer the scan wrote): its media type and the digest of the document
   * blob. NAME/MANIFEST_UNKNOWN as on /v2; MANIFEST_UNKNOWN also when the image has no such SBOM (not scanned).
   */
  async sbom(
    repository: string,
    reference: string,
    mediaType: string,
  ): Promise<{ digest: string; size: number }> {
    const manifest = await this.options.registry.manifests.get(repository, reference, undefined);
    const report = await this.store.report(repository, manifest.digest);
    const stored = (report?.sboms ? (JSON.parse(report.sboms) as StoredSbom[]) : []).find(
      (sbom) => sbom.mediaType === mediaType,
    );
    const referrer = stored && (await this.options.registry.meta.manifestByDigest(repository, stored.digest));
    if (!referrer) {
      throw new RegistryError('MANIFEST_UNKNOWN', {
        message: `${repository}@${manifest.digest} has no ${mediaType} SBOM (it has not been scanned by Berth)`,
      });
    }
    const layer = (parseJson(referrer.content).layers as { digest: string; size: number }[] | undefined)?.[0];
    if (!layer) throw new RegistryError('MANIFEST_UNKNOWN', { message: 'the SBOM artifact has no document' });
    return { digest: layer.digest, size: layer.size };
  }

  /** A stored blob's bytes (an SBOM document). */
  openBlob(digest: string): Promise<Readable> {
    return this.options.registry.blobs.open(parseDigest(digest));
  }

  /** A report in the Harbor scanner-adapter format (v1.1); an index's images' findings together. */
  harborReport(view: ScanReportView): HarborVulnerabilityReport {
    const findings = view.manifests
      ? view.manifests.flatMap((child) => child.vulnerabilities ?? [])
      : (view.vulnerabilities ?? []);
    const finished = view.finishedAt ?? view.manifests?.find((child) => child.finishedAt)?.finishedAt;
    return toHarborReport(findings, {
      scanner: { name: 'Berth', vendor: 'Berth', version: BERTH_VERSION },
      generatedAt: finished ? new Date(finished) : new Date(),
      artifact: { repository: view.repository, digest: view.digest, mime_type: view.mediaType },
    });
  }

  // --- the API's views ---

  /** Queues a scan of the image a reference names (again, if it was scanned); NAME/MANIFEST_UNKNOWN as on /v2. */
  async requestScan(repository: string, reference: string): Promise<ScanReportView> {
    const manifest = await this.options.registry.manifests.get(repository, reference, undefined);
    const images = await this.imagesOf(repository, manifest);
    if (images.length === 0) {
      throw new RegistryError('UNSUPPORTED', {
        status: 400,
        message: `${repository}@${manifest.digest} is not an image (an artifact or a referrer): nothing to scan`,
      });
    }
    for (const digest of images) {
      await this.store.enqueue(repository, digest, true);
      this.changed(repository, digest);
    }
    this.worker.wake();
    return this.report(repository, reference);
  }

  /** The images a manifest stands for: itself, or an index's image children present in the repository. */
  private async imagesOf(repository: string, manifest: ManifestRow): Promise<string[]> {
    const json = parseJson(manifest.content);
    if (Array.isArray(json.manifests)) {
      const out: string[] = [];
      for (const child of json.manifests as { digest?: string }[]) {
        if (typeof child.digest !== 'string') continue;
        const row = await this.options.registry.meta.manifestByDigest(repository, child.digest);
        if (row && isScannableImage(describeStored(row))) out.push(child.digest);
      }
      return out;
    }
    return isScannableImage(describeStored(manifest)) ? [manifest.digest] : [];
  }

  async report(repository: string, reference: string): Promise<ScanReportView> {
    const manifest = await this.options.registry.manifests.get(repository, reference, undefined);
    const settings = await this.store.settings(projectOf(repository));
    const database = await this.databaseInfo();
    const json = parseJson(manifest.content);
    if (Array.isArray(json.manifests)) {
      const children: ScanReportView[] = [];
      for (const digest of await this.imagesOf(repository, manifest)) {
        const row = await this.options.registry.meta.manifestByDigest(repository, digest);
        if (row) children.push(await this.view(repository, row, settings, database));
      }
      const refusal = children.find((child) => child.policy.decision === 'refuse');
      return {
        repository,
        digest: manifest.digest,
        mediaType: manifest.mediaType,
        status: 'not-applicable',
        policy: refusal ? refusal.policy : { decision: 'allow' },
        manifests: children,
      };
    }
    return this.view(repository, manifest, settings, database);
  }

  private async view(
    repository: string,
    manifest: ManifestRow,
    settings: ScanSettingsRow | undefined,
    database: DatabaseInfo | undefined,
  ): Promise<ScanReportView> {
    const base = { repository, digest: manifest.digest, mediaType: manifest.mediaType };
    if (!isScannableImage(describeStored(manifest))) {
      return { ...base, status: 'not-applicable', policy: { decision: 'allow' } };
    }
    const report: ScanReportRow | undefined = await this.store.report(repository, manifest.digest);
    const policy = settings ? toPolicy(projectOf(repository), settings) : undefined;
    const decision = policy
      ? decideScanPull(scanState(report), policy, Date.now())
      : { outcome: 'allow' as const };
    const view: ScanReportView = {
      ...base,
      status: report ? report.status : 'not-scanned',
      policy:
        decision.outcome === 'refuse'
          ? { decision: 'refuse', policy: decision.policy, message: decision.message }
          : { decision: 'allow' },
    };
    if (!report) return view;
    if (report.scanner) view.scanner = report.scanner;
    const requested = ISO(report.requestedAt);
    if (requested) view.requestedAt = requested;
    const finished = ISO(report.finishedAt);
    if (finished) view.finishedAt = finished;
    if (report.error) view.error = report.error;
    if (report.status !== 'done') return view;
    if (report.dbVersion !== null && database) {
      view.database = {
        version: report.dbVersion,
        updated: database.dataDate ? new Date(database.dataDate).toISOString() : null,
        stale: this.isStale(database),
        current: report.dbVersion === database.version,
      };
    }
    if (report.summary) view.summary = JSON.parse(report.summary);
    if (report.inventory) {
      const inventory = JSON.parse(report.inventory) as {
        packages: unknown[];
        complete: boolean;
        problems: string[];
        facts: ImageFacts;
      };
      view.packages = inventory.packages.length;
      view.complete = inventory.complete;
      view.problems = inventory.problems;
      view.facts = inventory.facts;
    }
    view.vulnerabilities = report.findings ? JSON.parse(report.findings) : [];
    if (report.sboms) view.sboms = JSON.parse(report.sboms);
    return view;
  }

  /** The stored inventory of a scanned image (SBOM downloads re-render from it). */
  async inventoryOf(repository: string, digest: string): Promise<string | null> {
    return (await this.store.report(repository, digest))?.inventory ?? null;
  }

  // --- settings ---

  async viewSettings(project: string): Promise<ScanSettingsView> {
    const settings = await this.store.settings(project);
    if (!settings)
      throw new RegistryError('NAME_UNKNOWN', { status: 404, message: `no such project: ${project}` });
    return settingsView(settings);
  }

  async changeSettings(project: string, change: ScanSettingsChange): Promise<ScanSettingsView> {
    const current = await this.store.settings(project);
    if (!current)
      throw new RegistryError('NAME_UNKNOWN', { status: 404, message: `no such project: ${project}` });
    const next: ScanSettingsRow = { ...current };
    if (change.scanOnPush !== undefined) next.scanOnPush = change.scanOnPush;
    if (change.blockSeverity !== undefined) {
      if (change.blockSeverity !== null && !isSeverity(change.blockSeverity)) {
        throw new RegistryError('UNSUPPORTED', {
          status: 400,
          message: `blockSeverity must be one of Low, Medium, High, Critical (or null): ${change.blockSeverity}`,
        });
      }
      next.blockSeverity = change.blockSeverity;
    }
    if (change.allowlist !== undefined) {
      next.allowlist = change.allowlist.map((entry) => {
        const out: { id: string; expiresAt?: number; reason?: string } = { id: entry.id };
        if (entry.expiresAt !== undefined) {
          const at = Date.parse(entry.expiresAt);
          if (Number.isNaN(at)) {
            throw new RegistryError('UNSUPPORTED', {
              status: 400,
              message: `allowlist entry ${entry.id}: expiresAt is not a date: ${entry.expiresAt}`,
            });
          }
          out.expiresAt = at;
        }
        if (entry.reason !== undefined) out.reason = entry.reason;
        return out;
      });
    }
    if (change.blockRoot !== undefined) next.blockRoot = change.blockRoot;
    if (change.blockSsh !== undefined) next.blockSsh = change.blockSsh;
    if (change.blockUnscanned !== undefined) next.blockUnscanned = change.blockUnscanned;
    if (change.adapter === null) {
      next.adapterUrl = null;
      next.adapterAuthorization = null;
    } else if (change.adapter !== undefined) {
      next.adapterUrl = change.adapter.url;
      if (change.adapter.authorization) next.adapterAuthorization = change.adapter.authorization;
    }
    await this.store.saveSettings(project, next);
    const event: Invalidation = { kind: 'scanning-changed', project };
    this.apply(event);
    await this.options.bus.publish(event);
    return settingsView(next);
  }
}

function parseJson(content: Buffer): Record<string, unknown> {
  try {
    return JSON.parse(content.toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function toPolicy(project: string, settings: ScanSettingsRow): ScanPolicy {
  return {
    project,
    blockSeverity: isSeverity(settings.blockSeverity) ? settings.blockSeverity : null,
    allowlist: settings.allowlist,
    blockRoot: settings.blockRoot,
    blockSsh: settings.blockSsh,
    blockUnscanned: settings.blockUnscanned,
  };
}

function settingsView(settings: ScanSettingsRow): ScanSettingsView {
  return {
    scanOnPush: settings.scanOnPush,
    blockSeverity: settings.blockSeverity,
    allowlist: settings.allowlist.map((entry) => {
      const out: { id: string; expiresAt?: string; reason?: string } = { id: entry.id };
      if (entry.expiresAt !== undefined) out.expiresAt = new Date(entry.expiresAt).toISOString();
      if (entry.reason !== undefined) out.reason = entry.reason;
      return out;
    }),
    blockRoot: settings.blockRoot,
    blockSsh: settings.blockSsh,
    blockUnscanned: settings.blockUnscanned,
    adapter: settings.adapterUrl
      ? { url: settings.adapterUrl, authorization: settings.adapterAuthorization !== null }
      : null,
  };
}
