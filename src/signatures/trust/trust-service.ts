import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { LRUCache } from 'lru-cache';
import { BoundedLru } from '../../cache/bounded-lru.js';
import type { Invalidation, InvalidationBus } from '../../cluster/index.js';
import { compileGlob, type GlobMatcher } from '../../lifecycle/index.js';
import {
  type Database,
  DuplicateTrustName,
  type NotationStoreRow,
  type ProjectTrustRow,
  SignatureStore,
  type TrustedKeyRow,
} from '../../metadata/index.js';
import { RegistryError } from '../../registry/index.js';
import type { TrustConfig } from '../types.js';
import {
  checkRepositoryGlobs,
  checkTrustedIdentities,
  checkTrustName,
  isSignatureMode,
  MAX_KEYS,
  normalizeCertificates,
  normalizePublicKey,
  type SignatureMode,
} from './trust-validation.js';

/** A trusted key as the API shows it: with its SHA-256 fingerprint (of the DER SubjectPublicKeyInfo). */
export interface TrustedKeyView extends TrustedKeyRow {
  fingerprint: string;
}

/** A trust store as the API shows it: with its certificates' subjects and expiry. */
export interface NotationStoreView extends NotationStoreRow {
  certificates: { subject: string; notAfter: string; fingerprint: string }[];
}

export interface SignaturePolicyView {
  required: SignatureMode;
  /** Repository globs the policy covers; null: every repository of the project. */
  repositories: string[] | null;
  updatedAt: number | null;
}

/** `GET /api/v1/projects/{name}/trust`. */
export interface ProjectTrustView {
  project: string;
  /** Changes with every change below (verification results are cached per version). */
  version: number;
  policy: SignaturePolicyView;
  keys: TrustedKeyView[];
  notation: NotationStoreView[];
}

/** What the pull-time policy needs of a project, compiled once per trust version. */
export interface ProjectSignaturePolicy {
  project: string;
  mode: SignatureMode;
  /** The policy's repository globs, or null for every repository. */
  repositories: readonly string[] | null;
  /** Whether the policy covers a repository of the project. */
  covers: (repository: string) => boolean;
  trust: TrustConfig;
}

/** The trust administration the management API and the CLI use. */
export interface TrustAdmin {
  view(project: string): Promise<ProjectTrustView>;
  addKey(project: string, key: { name: string; publicKeyPem: string }): Promise<TrustedKeyView>;
  removeKey(project: string, id: number): Promise<TrustedKeyView>;
  addNotation(
    project: string,
    store: { name: string; rootCertificatesPem: string[]; trustedIdentities: string[] },
  ): Promise<NotationStoreView>;
  removeNotation(project: string, id: number): Promise<NotationStoreView>;
  setPolicy(
    project: string,
    policy: { required: SignatureMode; repositories?: string[] | null },
  ): Promise<SignaturePolicyView>;
}

const OFF: Omit<ProjectSignaturePolicy, 'project'> = {
  mode: 'off',
  repositories: null,
  covers: () => false,
  trust: { version: 0, keys: [], notation: [] },
};

function notFound(project: string): RegistryError {
  return new RegistryError('NOT_FOUND', { message: `project '${project}' not found` });
}

function fingerprintOf(pem: string): string {
  const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('hex')}`;
}

function keyView(row: TrustedKeyRow): TrustedKeyView {
  return { ...row, fingerprint: fingerprintOf(row.publicKeyPem) };
}

function notationView(row: NotationStoreRow): NotationStoreView {
  return {
    ...row,
    certificates: row.rootCertificatesPem.map((pem) => {
      const certificate = new X509Certificate(pem);
      return {
        subject: certificate.subject.replace(/\n/g, ', '),
        notAfter: new Date(certificate.validTo).toISOString(),
        fingerprint: `SHA256:${certificate.fingerprint256.replace(/:/g, '').toLowerCase()}`,
      };
    }),
  };
}

function policyView(row: ProjectTrustRow): SignaturePolicyView {
  const required = isSignatureMode(row.policy.required) ? row.policy.required : 'enforce';
  return { required, repositories: row.policy.repositories, updatedAt: row.policy.updatedAt };
}

function compile(row: ProjectTrustRow): ProjectSignaturePolicy {
  const policy = policyView(row);
  let covers: (repository: string) => boolean = () => true;
  if (policy.repositories !== null) {
    const matchers: GlobMatcher[] = policy.repositories.map(compileGlob);
    covers = (repository) => matchers.some((matches) => matches(repository));
  }
  return {
    project: row.project,
    mode: policy.required,
    repositories: policy.repositories,
    covers: policy.required === 'off' ? () => false : covers,
    trust: {
      version: row.version,
      keys: row.keys.map(({ id, name, publicKeyPem }) => ({ id, name, publicKeyPem })),
      notation: row.notation.map(({ id, name, rootCertificatesPem, trustedIdentities }) => ({
        id,
        name,
        rootCertificatesPem,
        trustedIdentities,
      })),
    },
  };
}

export interface TrustServiceOptions {
  /** Tells the other processes sharing the database that a project's trust changed, and hears theirs. */
  bus: InvalidationBus;
  /** Projects whose compiled policy is kept in memory. */
  maxProjects?: number;
  /** How long a compiled policy is kept at most; default 60 s. */
  maxAgeMs?: number;
}

/**
 * Per-project trust (public keys, Notary Project trust stores) and the `signatures.required` policy: their
 * administration, and the compiled policy every pull asks for, cached in memory until a change (here, or on
 * another process through the invalidation bus) makes it forget.
 */
export class TrustService implements TrustAdmin {
  readonly store: SignatureStore;
  private readonly cache: LRUCache<string, Promise<ProjectSignaturePolicy>>;
  private readonly listeners: ((project: string | undefined) => void)[] = [];

  constructor(
    db: Kysely<Database>,
    private readonly options: TrustServiceOptions,
  ) {
    this.store = new SignatureStore(db);
    // Changes are announced (here and over the bus); the time limit only bounds what is never announced,
    // such as a project deleted and created again under the same name.
    this.cache = new BoundedLru({ max: options.maxProjects ?? 10_000, ttl: options.maxAgeMs ?? 60_000 });
    options.bus.subscribe((event) => this.apply(event));
  }

  /** Called with the project whose trust changed (undefined: any may have). */
  onChange(listener: (project: string | undefined) => void): void {
    this.listeners.push(listener);
  }

  /** The project's compiled policy; `off` for a repository namespace that is no project. */
  policy(project: string): Promise<ProjectSignaturePolicy> {
    const cached = this.cache.get(project);
    if (cached) return cached;
    // Cached before it resolves, so that concurrent pulls share one read; a change that lands meanwhile
    // deletes the entry, so what this read returns is never kept past it.
    const loading = this.store.trust(project).then((row) => (row ? compile(row) : { project, ...OFF }));
    this.cache.set(project, loading);
    loading.catch(() => {
      if (this.cache.get(project) === loading) this.cache.delete(project);
    });
    return loading;
  }

  async view(project: string): Promise<ProjectTrustView> {
    const row = await this.store.trust(project);
    if (!row) throw notFound(project);
    return {
      project,
      version: row.version,
      policy: policyView(row),
      keys: row.keys.map(keyView),
      notation: row.notation.map(notationView),
    };
  }

  async addKey(project: string, key: { name: string; publicKeyPem: string }): Promise<TrustedKeyView> {
    const name = checkTrustName(key.name);
    const pem = normalizePublicKey(key.publicKeyPem);
    const existing = await this.store.trust(project);
    if (!existing) throw notFound(project);
    if (existing.keys.length >= MAX_KEYS) {
      throw new RegistryError('INVALID_REQUEST', { message: `a project trusts at most ${MAX_KEYS} keys` });
    }
    const added = await this.conflictAware(name, () => this.store.addKey(project, name, pem));
    if (!added) throw notFound(project);
    await this.changed(project);
    return keyView(added);
  }

  async removeKey(project: string, id: number): Promise<TrustedKeyView> {
    const row = await this.store.trust(project);
    if (!row) throw notFound(project);
    const key = row.keys.find((candidate) => candidate.id === id);
    if (!key || !(await this.store.removeKey(project, id))) {
      throw new RegistryError('NOT_FOUND', { message: `project '${project}' trusts no key ${id}` });
    }
    await this.changed(project);
    return keyView(key);
  }

  async addNotation(
    project: string,
    store: { name: string; rootCertificatesPem: string[]; trustedIdentities: string[] },
  ): Promise<NotationStoreView> {
    const name = checkTrustName(store.name);
    const rootCertificatesPem = normalizeCertificates(store.rootCertificatesPem);
    const trustedIdentities = checkTrustedIdentities(store.trustedIdentities);
    const added = await this.conflictAware(name, () =>
      this.store.addNotation(project, { name, rootCertificatesPem, trustedIdentities }),
    );
    if (!added) throw notFound(project);
    await this.changed(project);
    return notationView(added);
  }

  async removeNotation(project: string, id: number): Promise<NotationStoreView> {
    const row = await this.store.trust(project);
    if (!row) throw notFound(project);
    const store = row.notation.find((candidate) => candidate.id === id);
    if (!store || !(await this.store.removeNotation(project, id))) {
      throw new RegistryError('NOT_FOUND', {
        message: `project '${project}' has no notation trust store ${id}`,
      });
    }
    await this.changed(project);
    return notationView(store);
  }

  async setPolicy(
    project: string,
    policy: { required: SignatureMode; repositories?: string[] | null },
  ): Promise<SignaturePolicyView> {
    if (!isSignatureMode(policy.required)) {
      throw new RegistryError('INVALID_REQUEST', { message: 'required is one of off, warn, enforce' });
    }
    const repositories =
      policy.repositories === undefined || policy.repositories === null
        ? null
        : checkRepositoryGlobs(policy.repositories);
    if (!(await this.store.setPolicy(project, policy.required, repositories))) throw notFound(project);
    await this.changed(project);
    return (await this.view(project)).policy;
  }

  /** Forgets a project's compiled policy here and, when the database is shared, on the other processes. */
  private async changed(project: string): Promise<void> {
    this.apply({ kind: 'trust-changed', project });
    if (this.options.bus.shared) await this.options.bus.publish({ kind: 'trust-changed', project });
  }

  private apply(event: Invalidation): void {
    if (event.kind === 'trust-changed') {
      this.cache.delete(event.project);
      for (const listener of this.listeners) listener(event.project);
    } else if (event.kind === 'all') {
      this.cache.clear();
      for (const listener of this.listeners) listener(undefined);
    }
  }

  private async conflictAware<T>(name: string, add: () => Promise<T>): Promise<T> {
    try {
      return await add();
    } catch (error) {
      if (error instanceof DuplicateTrustName) {
        throw new RegistryError('CONFLICT', {
          message: `the project already trusts something named '${name}'`,
        });
      }
      throw error;
    }
  }
}
