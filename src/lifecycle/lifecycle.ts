import type { Kysely } from 'kysely';
import type { InvalidationBus } from '../cluster/index.js';
import { type Database, LifecycleStore, type ProjectStorageRow } from '../metadata/index.js';
import { RegistryError, type RegistryPolicy } from '../registry/index.js';
import { type CapacityLog, type CapacityState, CapacityWatch } from './capacity.js';
import { type ImmutabilityRule, REPOSITORY_PATTERN, TAG_PATTERN, TagImmutability } from './immutability.js';
import { Quotas } from './quota.js';

export interface StorageUsage {
  /** Bytes of every stored blob, each once (what the storage holds). */
  storedBytes: number;
  /** What storage may hold (storage.capacityBytes, or the filesystem's size); null when unknown. */
  capacityBytes: number | null;
  /** The log warns when storedBytes passes this percentage of capacityBytes. */
  warnPercent: number;
  /** Per project: each blob linked into its repositories counted once, and its quota. */
  projects: ProjectStorageRow[];
}

export interface NewImmutabilityRule {
  repositoryPattern: string;
  tagPattern: string;
}

/** Tag immutability rules, quotas and usage as the management API and the CLI see them. */
export interface LifecycleAdmin {
  /** NOT_FOUND for a project that does not exist. */
  quota(project: string): Promise<ProjectStorageRow>;
  /** A limit in bytes, or null for none. */
  setQuota(project: string, limitBytes: number | null): Promise<ProjectStorageRow>;
  usage(): Promise<StorageUsage>;
  rules(project: string): Promise<ImmutabilityRule[]>;
  addRule(project: string, rule: NewImmutabilityRule): Promise<ImmutabilityRule>;
  /** The rule removed; NOT_FOUND when the project has no such rule. */
  removeRule(project: string, id: number): Promise<ImmutabilityRule>;
}

export interface LifecycleOptions {
  /** Tells the other processes sharing the database of rule changes, and this one of theirs. */
  bus?: InvalidationBus;
  /** Default 85. */
  warnPercent?: number;
  /** What storage may hold; undefined: unknown, no warning. */
  capacityBytes?: () => Promise<number | undefined>;
  log?: CapacityLog;
}

/** Stored bytes are summed over every blob row: metrics scrapes within this long share one sum. */
const STORED_BYTES_MAX_AGE_MS = 5000;

/**
 * lifecycle/: tag immutability and storage quotas, plugged into the registry core through `policy`, and
 * their management. Rules and quotas live in the metadata database, so every node applies the same ones.
 */
export class Lifecycle implements LifecycleAdmin {
  readonly store: LifecycleStore;
  readonly immutability: TagImmutability;
  readonly quotas: Quotas;
  /** The hooks the registry core calls. */
  readonly policy: RegistryPolicy;
  private readonly capacity: CapacityWatch;
  private readonly warnPercent: number;
  private readonly capacityBytes: () => Promise<number | undefined>;
  private stored: { at: number; bytes: Promise<number> } | undefined;

  constructor(db: Kysely<Database>, options: LifecycleOptions = {}) {
    this.store = new LifecycleStore(db);
    this.immutability = new TagImmutability(this.store, options.bus, (error) =>
      options.log?.warn({ err: error }, 'could not tell other processes of an immutability rule change'),
    );
    this.quotas = new Quotas(this.store);
    this.policy = {
      tagProtection: (repository) => this.immutability.protection(repository),
      admitUpload: this.quotas.admitUpload,
      admitLink: this.quotas.admitLink,
    };
    this.warnPercent = options.warnPercent ?? 85;
    this.capacityBytes = options.capacityBytes ?? (async () => undefined);
    this.capacity = new CapacityWatch({
      warnPercent: this.warnPercent,
      capacityBytes: this.capacityBytes,
      log: options.log ?? { warn() {}, info() {} },
    });
  }

  async quota(project: string): Promise<ProjectStorageRow> {
    await this.requireProject(project);
    return this.store.storage(project);
  }

  async setQuota(project: string, limitBytes: number | null): Promise<ProjectStorageRow> {
    if (limitBytes !== null && !(Number.isSafeInteger(limitBytes) && limitBytes >= 0)) {
      throw new RegistryError('INVALID_REQUEST', { message: 'a quota is a whole number of bytes, or null' });
    }
    if (!(await this.store.setLimit(project, limitBytes))) throw projectNotFound(project);
    return this.store.storage(project);
  }

  async usage(): Promise<StorageUsage> {
    const [storedBytes, capacityBytes, projects] = await Promise.all([
      this.storedBytes(0),
      this.capacityBytes(),
      this.store.allStorage(),
    ]);
    return { storedBytes, capacityBytes: capacityBytes ?? null, warnPercent: this.warnPercent, projects };
  }

  async rules(project: string): Promise<ImmutabilityRule[]> {
    await this.requireProject(project);
    return this.store.rules(project);
  }

  async addRule(project: string, rule: NewImmutabilityRule): Promise<ImmutabilityRule> {
    if (!REPOSITORY_PATTERN.test(rule.repositoryPattern) || !TAG_PATTERN.test(rule.tagPattern)) {
      throw new RegistryError('INVALID_REQUEST', {
        message: 'patterns are globs of name characters with *, ** and ?',
        detail: rule,
      });
    }
    const added = await this.store.addRule(project, rule.repositoryPattern, rule.tagPattern);
    if (!added) throw projectNotFound(project);
    await this.immutability.changed(project);
    return added;
  }

  async removeRule(project: string, id: number): Promise<ImmutabilityRule> {
    const rule = (await this.rules(project)).find((candidate) => candidate.id === id);
    if (!rule || !(await this.store.removeRule(project, id))) {
      throw new RegistryError('NOT_FOUND', {
        message: `project '${project}' has no immutability rule ${id}`,
      });
    }
    await this.immutability.changed(project);
    return rule;
  }

  /** Every project that stores something or has a quota. */
  projectStorage(): Promise<ProjectStorageRow[]> {
    return this.store.allStorage();
  }

  /** Total stored bytes, summed at most every `maxAgeMs`. */
  storedBytes(maxAgeMs = STORED_BYTES_MAX_AGE_MS): Promise<number> {
    const now = Date.now();
    if (!this.stored || now - this.stored.at > maxAgeMs) {
      const bytes = this.store.storedBytes();
      this.stored = { at: now, bytes };
      bytes.catch(() => {
        if (this.stored?.bytes === bytes) this.stored = undefined;
      });
    }
    return this.stored.bytes;
  }

  /** Compares total storage with the capacity; logs a warning when it crosses storage.warnPercent. */
  async checkCapacity(): Promise<CapacityState> {
    return this.capacity.check(await this.storedBytes(0));
  }

  private async requireProject(project: string): Promise<void> {
    if (!(await this.store.projectExists(project))) throw projectNotFound(project);
  }
}

function projectNotFound(project: string): RegistryError {
  return new RegistryError('NOT_FOUND', { message: `project '${project}' not found` });
}
