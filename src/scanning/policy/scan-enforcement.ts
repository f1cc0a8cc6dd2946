import type { LRUCache } from 'lru-cache';
import { BoundedLru } from '../../cache/bounded-lru.js';
import type { AuditSink } from '../../events/index.js';
import type { ManifestRow, ScanReportRow } from '../../metadata/index.js';
import { type Reader, RegistryError } from '../../registry/index.js';
import { describeStored, isScannableImage } from '../scannable.js';
import type { Finding, ImageFacts } from '../types.js';
import { decideScanPull, isActive, type ScanPolicy, type ScanState } from './scan-policy.js';

export interface ScanEnforcementOptions {
  /** The project's policy (cached by the caller); undefined for an unknown project. */
  policy(project: string): Promise<ScanPolicy | undefined>;
  report(repository: string, digest: string): Promise<ScanReportRow | undefined>;
  audit: AuditSink;
  onDecision?(outcome: 'refuse' | 'bypass', policy: string, project: string): void;
  /** Bypasses audited once per actor and image per this window; default 10 min. */
  auditWindowMs?: number;
}

export function scanState(report: ScanReportRow | undefined): ScanState {
  if (!report) return { kind: 'not-scanned' };
  if (report.status === 'queued' || report.status === 'running')
    return { kind: 'pending', status: report.status };
  if (report.status === 'failed') return { kind: 'failed', error: report.error ?? 'unknown error' };
  const findings = report.findings ? (JSON.parse(report.findings) as Finding[]) : [];
  const inventory = report.inventory ? (JSON.parse(report.inventory) as { facts?: ImageFacts }) : undefined;
  return { kind: 'scanned', findings, facts: inventory?.facts ?? null };
}

/**
 * The pull-time scanning policies, enforced as the registry's admitManifestRead hook. A project without an
 * active policy costs one cached lookup per pull. Otherwise what the scan found is cached per (repository,
 * digest) until a `scan-changed` event (a scan finished or was queued again here or on another node), and
 * decided afresh on every pull (the allowlist expires). Indexes, artifacts and referrers are not judged:
 * clients pull an index's images by digest, and those are.
 */
export class ScanEnforcement {
  private readonly states = new BoundedLru<string, Promise<ScanState | 'exempt'>>({ max: 100_000 });
  private readonly audited: LRUCache<string, true>;

  constructor(private readonly options: ScanEnforcementOptions) {
    this.audited = new BoundedLru({ max: 100_000, ttl: options.auditWindowMs ?? 600_000 });
  }

  forget(repository: string, digest: string): void {
    this.states.delete(`${repository}@${digest}`);
  }

  clear(): void {
    this.states.clear();
  }

  async admit(repository: string, manifest: ManifestRow, reader: Reader, project: string): Promise<void> {
    const policy = await this.options.policy(project);
    if (!policy || !isActive(policy)) return;
    const state = await this.state(repository, manifest);
    if (state === 'exempt') return;
    const decision = decideScanPull(state, policy, Date.now());
    if (decision.outcome === 'allow') return;
    const resource = `${repository}@${manifest.digest}`;
    const event = {
      actor: reader.actor,
      actorKind: reader.actorKind,
      sourceIp: reader.sourceIp,
      userAgent: reader.userAgent,
      resource,
      detail: decision.message,
    };
    if (await reader.mayBypass(repository)) {
      this.options.onDecision?.('bypass', decision.policy, project);
      const key = `${reader.actor}|${resource}|${decision.policy}`;
      if (this.audited.has(key)) return;
      this.audited.set(key, true);
      this.options.audit.record({ ...event, action: 'policy.bypassed', result: 'success' });
      return;
    }
    this.options.onDecision?.('refuse', decision.policy, project);
    this.options.audit.record({ ...event, action: 'policy.refused', result: 'failure' });
    throw new RegistryError('DENIED', {
      message: decision.message,
      detail: { policy: decision.policy, project, repository, manifest: manifest.digest },
    });
  }

  private state(repository: string, manifest: ManifestRow): Promise<ScanState | 'exempt'> {
    const key = `${repository}@${manifest.digest}`;
    let cached = this.states.get(key);
    if (!cached) {
      cached = this.compute(repository, manifest);
      this.states.set(key, cached);
      cached.catch(() => {
        if (this.states.get(key) === cached) this.states.delete(key);
      });
    }
    return cached;
  }

  private async compute(repository: string, manifest: ManifestRow): Promise<ScanState | 'exempt'> {
    if (!isScannableImage(describeStored(manifest))) return 'exempt';
    return scanState(await this.options.report(repository, manifest.digest));
  }
}
