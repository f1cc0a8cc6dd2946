import type { LRUCache } from 'lru-cache';
import { projectOf } from '../../auth/index.js';
import { BoundedLru } from '../../cache/bounded-lru.js';
import type { Invalidation } from '../../cluster/index.js';
import type { AuditSink } from '../../events/index.js';
import type { ManifestRow } from '../../metadata/index.js';
import { type Reader, RegistryError, type RegistryPolicy } from '../../registry/index.js';
import type { SignatureSource } from '../signature-source.js';
import type { ProjectSignaturePolicy } from '../trust/trust-service.js';
import type { SignatureVerdict, TrustConfig } from '../types.js';
import { exemption, type SignatureArtifactTest } from './artifact-kinds.js';
import { type Assessment, type BlobAssessment, decidePull, type PullDecision } from './pull-policy.js';

/** signatures/verify-artifact.ts's verifyArtifact, handed in (tests pass a stub). */
export type ArtifactVerifier = (
  source: SignatureSource,
  repository: string,
  subject: { digest: string; mediaType: string; size: number },
  trust: TrustConfig,
  now?: Date,
) => Promise<SignatureVerdict>;

export interface PullEnforcementOptions {
  /** The project's compiled policy and trust (cached by the trust service). */
  policy(project: string): Promise<ProjectSignaturePolicy>;
  source: SignatureSource;
  /** Manifests of a repository by digest, and those referencing a blob or child manifest. */
  manifests: {
    manifestByDigest(repository: string, digest: string): Promise<ManifestRow | undefined>;
    manifestsReferencing(
      repository: string,
      child: string,
      kind: 'blob' | 'manifest',
      limit: number,
    ): Promise<string[]>;
  };
  verify: ArtifactVerifier;
  isSignatureArtifact: SignatureArtifactTest;
  audit: AuditSink;
  /** Every refusal, warning and bypass (metrics). */
  onDecision?(decision: Exclude<PullDecision, { outcome: 'allow' }>, project: string): void;
  /** A bypass or warning by one actor of one artifact is audited once per this window; default 10 min. */
  auditWindowMs?: number;
  /** Assessments kept in memory; default 100,000. */
  maxEntries?: number;
}

/** At most this many manifests are asked whether they make a blob or child manifest pullable. */
const MAX_HOLDERS = 50;
/** Index of index of image: deeper nesting does not make a child pullable. */
const MAX_INDEX_DEPTH = 2;

interface Cached<T> {
  stamp: string;
  value: Promise<T>;
}

/**
 * The promise cached under `key` when its stamp is `stamp`, else `compute()`'s, cached. Kept before it
 * resolves, so that concurrent pulls share one verification; a change meanwhile moves the stamp, so this answer
 * is not used past it. A rejected one is dropped, so the next call tries again.
 */
function stamped<T>(
  cache: LRUCache<string, Cached<T>>,
  key: string,
  stamp: string,
  compute: () => Promise<T>,
): Promise<T> {
  const cached = cache.get(key);
  if (cached?.stamp === stamp) return cached.value;
  const value = compute();
  cache.set(key, { stamp, value });
  value.catch(() => {
    if (cache.get(key)?.value === value) cache.delete(key);
  });
  return value;
}

/**
 * The pull-time signature policy, enforced: the registry's admitManifestRead and admitBlobRead hooks.
 *
 * Cost: a pull of a repository the policy does not cover costs one in-memory lookup of the project's
 * policy. Otherwise the artifact's assessment (its verdict, or that of an index listing it) is cached per
 * (repository, digest) under a stamp of (the project's trust version, the repository's generation): a
 * changed trust configuration gives a new version, and any change to the repository's tags or referrers,
 * or a deleted manifest (here, or on another node through the invalidation bus), a new generation. So an
 * enforced pull verifies nothing until something that could change the answer happened.
 */
export class PullEnforcement {
  private readonly assessments: LRUCache<string, Cached<Assessment>>;
  private readonly verdicts: LRUCache<string, Cached<SignatureVerdict>>;
  /** Blobs found pullable; refusals are not cached (they are the rare path and must see new images). */
  private readonly coveredBlobs: LRUCache<string, string>;
  private readonly generations = new Map<string, number>();
  private epoch = 0;
  private readonly audited: LRUCache<string, true>;

  constructor(private readonly options: PullEnforcementOptions) {
    const max = options.maxEntries ?? 100_000;
    this.assessments = new BoundedLru({ max });
    this.verdicts = new BoundedLru({ max });
    this.coveredBlobs = new BoundedLru({ max });
    this.audited = new BoundedLru({ max: 100_000, ttl: options.auditWindowMs ?? 600_000 });
  }

  /** The hooks the registry core calls. */
  readonly hooks: Required<Pick<RegistryPolicy, 'admitManifestRead' | 'admitBlobRead'>> = {
    admitManifestRead: (repository, manifest, reader) => this.admitManifest(repository, manifest, reader),
    admitBlobRead: (repository, digest, reader) => this.admitBlob(repository, digest, reader),
  };

  /** A change to manifests, tags or trust, from this process or another: forget what it may have changed. */
  apply(event: Invalidation): void {
    if (event.kind === 'all') {
      this.epoch++;
      this.generations.clear();
      this.assessments.clear();
      this.verdicts.clear();
      this.coveredBlobs.clear();
    } else if ('repository' in event) {
      // Tags moved (a `.sig` tag, or an index now tagged), a referrer pushed, a manifest deleted: the
      // repository's assessments are recomputed when next asked (trust changes move the version instead).
      this.generations.set(event.repository, (this.generations.get(event.repository) ?? 0) + 1);
    }
  }

  /** The signatures of one artifact, verified against its project's trust (cached like assessments). */
  async verdict(repository: string, manifest: ManifestRow): Promise<SignatureVerdict> {
    const policy = await this.options.policy(projectOf(repository));
    return this.cachedVerdict(repository, manifest, policy.trust);
  }

  /** Whether the policy would let the artifact be pulled, and why (for the artifact view). */
  async assessment(repository: string, manifest: ManifestRow): Promise<Assessment> {
    const policy = await this.options.policy(projectOf(repository));
    return this.assess(repository, manifest, policy.trust, 0);
  }

  private async admitManifest(repository: string, manifest: ManifestRow, reader: Reader): Promise<void> {
    const policy = await this.options.policy(projectOf(repository));
    if (!policy.covers(repository)) return;
    const assessment = await this.assess(repository, manifest, policy.trust, 0);
    if (assessment.kind !== 'unverified') return;
    await this.enforce(policy, repository, manifest.digest, assessment, reader, 'manifest');
  }

  private async admitBlob(repository: string, digest: string, reader: Reader): Promise<void> {
    const policy = await this.options.policy(projectOf(repository));
    if (!policy.covers(repository)) return;
    const key = `${repository}@${digest}`;
    const stamp = this.stamp(repository, policy.trust);
    if (this.coveredBlobs.get(key) === stamp) return;
    const holders = await this.options.manifests.manifestsReferencing(
      repository,
      digest,
      'blob',
      MAX_HOLDERS,
    );
    for (const holder of holders) {
      const row = await this.options.manifests.manifestByDigest(repository, holder);
      if (!row) continue;
      const assessment = await this.assess(repository, row, policy.trust, 0);
      if (assessment.kind !== 'unverified') {
        this.coveredBlobs.set(key, stamp);
        return;
      }
    }
    const uncovered: BlobAssessment = { kind: 'uncovered', manifests: holders.length };
    await this.enforce(policy, repository, digest, uncovered, reader, 'blob');
  }

  private async enforce(
    policy: ProjectSignaturePolicy,
    repository: string,
    digest: string,
    assessment: Assessment | BlobAssessment,
    reader: Reader,
    what: 'manifest' | 'blob',
  ): Promise<void> {
    const mayBypass = policy.mode === 'enforce' && (await reader.mayBypass(repository));
    const decision = decidePull(assessment, policy, { mayBypass });
    if (decision.outcome === 'allow') return;
    this.options.onDecision?.(decision, policy.project);
    const resource = `${repository}@${digest}`;
    const detail = what === 'blob' ? `blob ${digest}: ${decision.message}` : decision.message;
    if (decision.outcome === 'refuse') {
      this.record(reader, 'policy.refused', resource, 'failure', detail);
      throw new RegistryError('DENIED', {
        message: decision.message,
        detail: {
          policy: decision.policy,
          mode: policy.mode,
          project: policy.project,
          repository,
          [what === 'blob' ? 'blob' : 'manifest']: digest,
        },
      });
    }
    // A busy pipeline pulling through a bypass (or under warn) would flood the log: once per window.
    const action = decision.outcome === 'bypass' ? 'policy.bypassed' : 'policy.warned';
    const key = `${action}|${reader.actor}|${resource}`;
    if (this.audited.has(key)) return;
    this.audited.set(key, true);
    this.record(reader, action, resource, 'success', detail);
  }

  private record(
    reader: Reader,
    action: string,
    resource: string,
    result: 'success' | 'failure',
    detail: string,
  ): void {
    this.options.audit.record({
      actor: reader.actor,
      actorKind: reader.actorKind,
      sourceIp: reader.sourceIp,
      userAgent: reader.userAgent,
      action,
      resource,
      result,
      detail,
    });
  }

  private stamp(repository: string, trust: TrustConfig): string {
    return `${this.epoch}:${this.generations.get(repository) ?? 0}:${trust.version}`;
  }

  private assess(
    repository: string,
    manifest: ManifestRow,
    trust: TrustConfig,
    depth: number,
  ): Promise<Assessment> {
    return stamped(this.assessments, `${repository}@${manifest.digest}`, this.stamp(repository, trust), () =>
      this.computeAssessment(repository, manifest, trust, depth),
    );
  }

  private async computeAssessment(
    repository: string,
    manifest: ManifestRow,
    trust: TrustConfig,
    depth: number,
  ): Promise<Assessment> {
    const why = exemption(manifest, this.options.isSignatureArtifact);
    if (why) return { kind: 'exempt', why };
    const verdict = await this.cachedVerdict(repository, manifest, trust);
    const own = verdict.signatures.find((result) => result.status === 'verified');
    if (verdict.verified) return { kind: 'verified', signer: own?.signer ?? 'a trusted key' };
    // Multi-arch: cosign signs the index; clients then pull its children by digest.
    if (depth < MAX_INDEX_DEPTH) {
      const parents = await this.options.manifests.manifestsReferencing(
        repository,
        manifest.digest,
        'manifest',
        MAX_HOLDERS,
      );
      for (const parent of parents) {
        const row = await this.options.manifests.manifestByDigest(repository, parent);
        if (!row) continue;
        const assessment = await this.assess(repository, row, trust, depth + 1);
        if (assessment.kind === 'verified') {
          return { kind: 'verified', signer: assessment.signer, via: assessment.via ?? parent };
        }
      }
    }
    return { kind: 'unverified', verdict };
  }

  private cachedVerdict(
    repository: string,
    manifest: ManifestRow,
    trust: TrustConfig,
  ): Promise<SignatureVerdict> {
    const subject = { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.size };
    return stamped(this.verdicts, `${repository}@${manifest.digest}`, this.stamp(repository, trust), () =>
      this.options.verify(this.options.source, repository, subject, trust),
    );
  }
}
