import type { Kysely } from 'kysely';
import { projectOf } from '../auth/index.js';
import type { Invalidation, InvalidationBus } from '../cluster/index.js';
import type { AuditSink } from '../events/index.js';
import type { Database, ManifestRow, MetadataStore } from '../metadata/index.js';
import type { RegistryPolicy } from '../registry/index.js';
import type { BlobStore } from '../storage/index.js';
import { type ArtifactSignatureView, artifactView } from './artifact-status.js';
import type { SignatureArtifactTest } from './policy/artifact-kinds.js';
import { type ArtifactVerifier, PullEnforcement } from './policy/pull-enforcement.js';
import type { PullDecision } from './policy/pull-policy.js';
import { RegistrySignatureSource } from './registry-source.js';
import { type TrustAdmin, TrustService } from './trust/trust-service.js';

/** What the management API and the CLI see of signatures: trust administration and artifact status. */
export interface SignatureAdmin extends TrustAdmin {
  /** NAME_UNKNOWN / MANIFEST_UNKNOWN as on /v2 when there is no such repository or reference. */
  artifact(repository: string, reference: string): Promise<ArtifactSignatureView>;
}

export interface SignaturesOptions {
  db: Kysely<Database>;
  meta: MetadataStore;
  store: BlobStore;
  bus: InvalidationBus;
  audit: AuditSink;
  verify: ArtifactVerifier;
  isSignatureArtifact: SignatureArtifactTest;
  /** The manifest a reference names (the registry core's lookup, as a manifest GET sees it). */
  manifest(repository: string, reference: string): Promise<ManifestRow>;
  /** Every refusal, warning and bypass (metrics). */
  onDecision?(decision: Exclude<PullDecision, { outcome: 'allow' }>, project: string): void;
}

/**
 * signatures/ as the server wires it: per-project trust and the `signatures.required` pull policy, plugged
 * into the registry core through `hooks` (admitManifestRead, admitBlobRead), and the status of an artifact's
 * signatures for the management API. Hand `apply` every manifest and tag change (ManifestService.onChange).
 */
export class Signatures implements SignatureAdmin {
  readonly trust: TrustService;
  readonly enforcement: PullEnforcement;
  readonly hooks: Pick<RegistryPolicy, 'admitManifestRead' | 'admitBlobRead'>;

  constructor(private readonly options: SignaturesOptions) {
    this.trust = new TrustService(options.db, { bus: options.bus });
    const source = new RegistrySignatureSource(options.meta, options.store);
    const manifests = {
      manifestByDigest: (repository: string, digest: string) =>
        options.meta.manifestByDigest(repository, digest),
      manifestsReferencing: (repository: string, child: string, kind: 'blob' | 'manifest', limit: number) =>
        this.trust.store.manifestsReferencing(repository, child, kind, limit),
    };
    this.enforcement = new PullEnforcement({
      policy: (project) => this.trust.policy(project),
      source,
      manifests,
      verify: options.verify,
      isSignatureArtifact: options.isSignatureArtifact,
      audit: options.audit,
      ...(options.onDecision && { onDecision: options.onDecision }),
    });
    this.hooks = this.enforcement.hooks;
  }

  apply(event: Invalidation): void {
    this.enforcement.apply(event);
  }

  async artifact(repository: string, reference: string): Promise<ArtifactSignatureView> {
    const manifest = await this.options.manifest(repository, reference);
    const [policy, verdict, assessment] = await Promise.all([
      this.trust.policy(projectOf(repository)),
      this.enforcement.verdict(repository, manifest),
      this.enforcement.assessment(repository, manifest),
    ]);
    return artifactView(repository, manifest, verdict, assessment, policy);
  }

  view: TrustAdmin['view'] = (project) => this.trust.view(project);
  addKey: TrustAdmin['addKey'] = (project, key) => this.trust.addKey(project, key);
  removeKey: TrustAdmin['removeKey'] = (project, id) => this.trust.removeKey(project, id);
  addNotation: TrustAdmin['addNotation'] = (project, store) => this.trust.addNotation(project, store);
  removeNotation: TrustAdmin['removeNotation'] = (project, id) => this.trust.removeNotation(project, id);
  setPolicy: TrustAdmin['setPolicy'] = (project, policy) => this.trust.setPolicy(project, policy);
}
