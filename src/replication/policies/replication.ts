import { createHash, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Invalidation } from '../../cluster/index.js';
import { SIGNATURE_HEADER, verifySignature } from '../../events/webhooks/signature.js';
import { compileGlob, dueAt, type JobRunner, nextAfter, type Scheduled } from '../../lifecycle/index.js';
import type { Database, JobRunRow } from '../../metadata/index.js';
import { type PutEvent, type Registry, RegistryError } from '../../registry/index.js';
import {
  type Credentials,
  RegistryClient,
  type RegistryClientOptions,
  RemoteRegistryError,
} from '../client/index.js';
import { decryptSecret, encryptSecret, SecretKeyError, secretKeyring } from '../secrets.js';
import { runTasks } from './execution.js';
import { LocalRegistry } from './local-registry.js';
import { rewriteName } from './name-rewrite.js';
import { planTasks } from './planner.js';
import {
  type PolicyChange,
  PolicyChangeSchema,
  type PolicyInput,
  PolicyInputSchema,
  type RegistryChange,
  RegistryChangeSchema,
  type RegistryInput,
  RegistryInputSchema,
  type RemoteRegistry,
  type ReplicationPolicy,
} from './policy.js';
import { parseRemoteEvents, type RemoteEvent } from './remote-events.js';
import {
  type NewTask,
  type PolicyRow,
  ReplicationStore,
  type ReplicationTask,
  type StoredRegistry,
  type TaskStatus,
} from './replication-store.js';

export interface ReplicationOptions {
  db: Kysely<Database>;
  registry: Registry;
  runner: JobRunner;
  /** replication.secretKey and previousSecretKeys: seal remote registry passwords. */
  secretKey: string;
  previousSecretKeys?: string[];
  /** How long events gather before an event execution starts; default 500 ms. */
  eventDelayMs?: number;
  /**
   * Timeouts and retries of the clients of remote registries (tests shorten them), and the chunk size of their
   * uploads (replication.uploadChunkBytes: push policies' blobs in resumable PATCH chunks).
   */
  remote?: Pick<RegistryClientOptions, 'timeouts' | 'retry' | 'chunkSize'>;
  onError?: (error: unknown, what: string) => void;
}

/** An execution: a job run of kind `replication` (scope: the policy id) and its progress or summary. */
export interface Execution {
  run: JobRunRow;
  policyId: number;
}

export interface ConnectionCheck {
  ok: boolean;
  /** Why not, without credentials. */
  error?: string;
  latencyMs: number;
}

/** A cosign tag (`sha256-<hex>.sig|att|sbom`) or a referrers tag-schema index (`sha256-<hex>`). */
const REFERRER_TAG = /^sha256-([0-9a-f]{64})(\.(sig|att|sbom))?$/;
/** A busy policy's event batch asks again this long after (another node runs it). */
const BUSY_RETRY_MS = 2000;

/** How long the policy list events are matched against may be reused (see eventPolicies). */
const EVENT_POLICIES_MS = 1000;

/**
 * Replication: remote registries, policies (push or pull, filters, name rewriting, triggers) and their
 * executions, which are job runs (one at a time per policy across nodes) whose tasks copy one artifact each
 * with the copy engine. Event policies hear this process's pushes (ManifestService.onPut) and deletes
 * (onChange) and run within about a second; scheduled ones are started by the Scheduler (runDue).
 */
export class Replication implements Scheduled {
  readonly store: ReplicationStore;
  private readonly local: LocalRegistry;
  private readonly pending = new Map<number, Map<string, NewTask>>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly active = new Set<number>();
  private readonly eventDelayMs: number;
  private closed = false;
  /** The policies as events see them, read at most once per EVENT_POLICIES_MS (see eventPolicies). */
  private eventPoliciesRead: { at: number; policies: Promise<ReplicationPolicy[]> } | undefined;

  constructor(private readonly options: ReplicationOptions) {
    this.store = new ReplicationStore(options.db);
    this.local = new LocalRegistry(options.registry);
    this.eventDelayMs = options.eventDelayMs ?? 500;
  }

  // ------------------------------------------------------------------------------------------- registries

  async registries(): Promise<RemoteRegistry[]> {
    return (await this.store.registries()).map(publicView);
  }

  async registry(name: string): Promise<RemoteRegistry> {
    return publicView(await this.storedRegistry(name));
  }

  async createRegistry(input: RegistryInput, actor: string | null): Promise<RemoteRegistry> {
    const parsed = parse(RegistryInputSchema, input);
    const now = Date.now();
    const row = { ...parsed, sealedPassword: null, createdBy: actor, createdAt: now, updatedAt: now };
    const id = await this.store.addRegistry(row);
    if (id === undefined) throw conflict(`a registry named '${parsed.name}' exists already`);
    // Sealed under the row's id, so that a sealed password cannot be moved to another registry's row.
    if (parsed.password !== null) {
      await this.store.updateRegistry(id, { ...row, sealedPassword: this.seal(parsed.password, id) });
    }
    return this.registry(parsed.name);
  }

  async updateRegistry(name: string, change: RegistryChange): Promise<RemoteRegistry> {
    const parsed = parse(RegistryChangeSchema, change);
    const current = await this.storedRegistry(name);
    const sealedPassword =
      parsed.password === undefined
        ? current.sealedPassword
        : parsed.password === null
          ? null
          : this.seal(parsed.password, current.id);
    const row = {
      name: parsed.name ?? current.name,
      url: parsed.url ?? current.url,
      username: parsed.username === undefined ? current.username : parsed.username,
      description: parsed.description ?? current.description,
      sealedPassword,
      createdBy: current.createdBy,
      createdAt: current.createdAt,
      updatedAt: Date.now(),
    };
    if (!(await this.store.updateRegistry(current.id, row))) {
      throw conflict(`a registry named '${row.name}' exists already`);
    }
    return this.registry(row.name);
  }

  async removeRegistry(name: string): Promise<void> {
    const current = await this.storedRegistry(name);
    const outcome = await this.store.removeRegistry(current.id);
    if (outcome === 'unknown') throw notFound(`no registry named '${name}'`);
    if (Array.isArray(outcome)) {
      throw conflict(
        `registry '${name}' is used by policies ${outcome.join(', ')}: delete or change them first`,
      );
    }
  }

  /** GET /v2/ with the stored credentials: whether the registry answers and lets them in. */
  async testRegistry(name: string): Promise<ConnectionCheck> {
    const started = Date.now();
    try {
      const client = this.client(await this.storedRegistry(name), 'pull');
      await client.ping(AbortSignal.timeout(30_000));
      return { ok: true, latencyMs: Date.now() - started };
    } catch (error) {
      if (error instanceof RegistryError) throw error;
      return { ok: false, error: describe(error), latencyMs: Date.now() - started };
    }
  }

  // --------------------------------------------------------------------------------------------- policies

  policies(): Promise<ReplicationPolicy[]> {
    return this.store.policies();
  }

  async policy(id: number): Promise<ReplicationPolicy> {
    const policy = await this.store.policy({ id });
    if (!policy) throw notFound(`no replication policy ${id}`);
    return policy;
  }

  async createPolicy(input: PolicyInput, actor: string | null): Promise<ReplicationPolicy> {
    const { eventSecret, ...parsed } = parse(PolicyInputSchema, input);
    const registry = await this.storedRegistry(parsed.registry);
    const now = Date.now();
    const row: PolicyRow = {
      ...parsed,
      registryId: registry.id,
      createdBy: actor,
      createdAt: now,
      updatedAt: now,
    };
    checkPolicy(row, eventSecret !== null);
    // Before the row exists: a missing key refuses the policy rather than leaving it without its secret.
    if (eventSecret !== null) this.keyringOrRefuse();
    const id = await this.store.addPolicy(row);
    if (id === undefined) throw conflict(`a replication policy named '${parsed.name}' exists already`);
    // Sealed under the row's id, as registry passwords are: a sealed secret cannot be moved to another policy.
    if (eventSecret !== null) await this.store.setEventSecret(id, this.sealEventSecret(eventSecret, id));
    this.eventPoliciesRead = undefined;
    return this.policy(id);
  }

  async updatePolicy(id: number, change: PolicyChange): Promise<ReplicationPolicy> {
    const parsed = parse(PolicyChangeSchema, change);
    const current = await this.policy(id);
    const registryId =
      parsed.registry === undefined ? current.registryId : (await this.storedRegistry(parsed.registry)).id;
    const { registry: _name, eventSecret, ...fields } = parsed;
    const merged = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
    const { hasEventSecret: _has, ...kept } = current;
    const row: PolicyRow = { ...kept, ...merged, registryId, updatedAt: Date.now() };
    checkPolicy(row, eventSecret === undefined ? current.hasEventSecret : eventSecret !== null);
    const sealed =
      eventSecret === undefined || eventSecret === null ? eventSecret : this.sealEventSecret(eventSecret, id);
    if (!(await this.store.updatePolicy(id, row))) {
      throw conflict(`a replication policy named '${row.name}' exists already`);
    }
    if (sealed !== undefined) await this.store.setEventSecret(id, sealed);
    this.eventPoliciesRead = undefined;
    return this.policy(id);
  }

  async removePolicy(id: number): Promise<void> {
    if (!(await this.store.removePolicy(id))) throw notFound(`no replication policy ${id}`);
    this.eventPoliciesRead = undefined;
    this.pending.delete(id);
  }

  /** When the schedule next starts an execution (in the past: due now); null without a schedule. */
  async nextRunAt(policy: ReplicationPolicy): Promise<number | null> {
    if (policy.trigger !== 'schedule' || policy.schedule === null || !policy.enabled) return null;
    const last = await this.options.runner.runs.lastStarted('replication', String(policy.id), 'schedule');
    return nextAfter(policy.schedule, Math.max(last ?? policy.updatedAt, policy.updatedAt)) ?? null;
  }

  // ------------------------------------------------------------------------------------------- executions

  /** Starts an execution of every artifact the policy selects now; CONFLICT while one runs. */
  async run(id: number, requestedBy: string | null): Promise<JobRunRow> {
    return this.start(await this.policy(id), { trigger: 'manual', requestedBy });
  }

  /** Starts an execution of the tasks an ended execution did not finish (failed, or cut off by a crash). */
  async retry(id: number, executionId: number, requestedBy: string | null): Promise<JobRunRow> {
    const policy = await this.policy(id);
    const { run } = await this.execution(id, executionId);
    if (run.status === 'running') throw conflict(`execution ${executionId} is still running`);
    const unfinished: TaskStatus[] = ['failed', 'pending', 'running'];
    const tasks = (await this.store.tasks(executionId)).filter((task) => unfinished.includes(task.status));
    if (tasks.length === 0) {
      throw new RegistryError('INVALID_REQUEST', {
        message: `execution ${executionId} has no failed task to retry`,
      });
    }
    return this.start(policy, { trigger: 'manual', requestedBy, tasks: tasks.map(newTask) });
  }

  /** A policy's executions, newest first. */
  async executions(id: number, page: { limit: number; before?: number }): Promise<Execution[]> {
    await this.policy(id);
    const runs = await this.options.runner.runs.list('replication', { scope: String(id), ...page });
    return runs.map((run) => ({ run, policyId: id }));
  }

  async execution(id: number, executionId: number): Promise<Execution> {
    const run = await this.options.runner.runs.get(executionId);
    if (run?.kind !== 'replication' || run.scope !== String(id)) {
      throw notFound(`no execution ${executionId} of replication policy ${id}`);
    }
    return { run, policyId: id };
  }

  async tasks(
    id: number,
    executionId: number,
    options: { status?: TaskStatus; limit?: number; after?: number } = {},
  ): Promise<ReplicationTask[]> {
    await this.execution(id, executionId);
    return this.store.tasks(executionId, options);
  }

  /** Resolves once an execution started by this process has ended. */
  wait(executionId: number): Promise<JobRunRow | undefined> {
    return this.options.runner.wait(executionId);
  }

  /** The Scheduler's tick: starts the executions of scheduled policies that are due. */
  async runDue(now = Date.now()): Promise<JobRunRow[]> {
    const started: JobRunRow[] = [];
    const failures: unknown[] = [];
    for (const policy of await this.store.policies()) {
      if (!policy.enabled || policy.trigger !== 'schedule' || policy.schedule === null) continue;
      try {
        const scope = String(policy.id);
        const last = await this.options.runner.runs.lastStarted('replication', scope, 'schedule');
        const due = dueAt(policy.schedule, Math.max(last ?? policy.updatedAt, policy.updatedAt), 0, now);
        if (due === undefined) continue;
        started.push(await this.start(policy, { trigger: 'schedule', requestedBy: null, dueAt: due }));
      } catch (error) {
        if (error instanceof RegistryError && error.code === 'CONFLICT') continue;
        failures.push(error);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, 'scheduled replications failed to start');
    return started;
  }

  private async start(
    policy: ReplicationPolicy,
    how: {
      trigger: 'manual' | 'schedule' | 'event';
      requestedBy: string | null;
      dueAt?: number;
      tasks?: NewTask[];
    },
  ): Promise<JobRunRow> {
    const registry = await this.storedRegistry({ id: policy.registryId });
    const remote = this.client(registry, policy.direction === 'push' ? 'push' : 'pull');
    const ends =
      policy.direction === 'push'
        ? { source: this.local as RegistryClient, target: remote }
        : { source: remote, target: this.local as RegistryClient };
    return this.options.runner.start(
      {
        kind: 'replication',
        scope: String(policy.id),
        trigger: how.trigger,
        dryRun: false,
        requestedBy: how.requestedBy ?? undefined,
        dueAt: how.dueAt,
      },
      async (context) => {
        const tasks = how.tasks ?? (await planTasks(policy, ends.source, context.signal));
        await this.store.addTasks(context.run.id, policy.id, tasks);
        return runTasks(context, this.store, policy, ends);
      },
    );
  }

  // ---------------------------------------------------------------------------------------------- events

  /** ManifestService.onPut: a push here. Push policies on events copy its tags (or, for a referrer, its subject's). */
  onPut(event: PutEvent): void {
    void this.heardPut(event).catch((error) => this.options.onError?.(error, 'replication event'));
  }

  /** ManifestService.onChange: deletes (a tag gone, a manifest deleted) for policies that replicate them. */
  onChange(event: Invalidation): void {
    if (event.kind !== 'tag-changed' && event.kind !== 'manifest-deleted') return;
    void this.heardChange(event).catch((error) => this.options.onError?.(error, 'replication event'));
  }

  /**
   * The enabled push policies on events that cover `repository`. The policy list is read at most once per
   * EVENT_POLICIES_MS and shared: a garbage collection deleting 100,000 manifests tells of each one, and a
   * query per event queued 100,000 queries. A change made through this node is seen at once, one made through
   * another node within EVENT_POLICIES_MS.
   */
  private async eventPolicies(repository: string): Promise<ReplicationPolicy[]> {
    const now = Date.now();
    let read = this.eventPoliciesRead;
    if (!read || now - read.at > EVENT_POLICIES_MS) {
      const policies = this.store.policies();
      read = { at: now, policies };
      this.eventPoliciesRead = read;
      const current = read;
      policies.catch(() => {
        if (this.eventPoliciesRead === current) this.eventPoliciesRead = undefined;
      });
    }
    const all = await read.policies;
    return all.filter(
      (p) =>
        p.enabled &&
        p.trigger === 'event' &&
        p.direction === 'push' &&
        compileGlob(p.repositories)(repository),
    );
  }

  private async heardPut(event: PutEvent): Promise<void> {
    const policies = await this.eventPolicies(event.repository);
    if (policies.length === 0) return;
    const tags = await this.store.tagsOf(event.repository, event.digest);
    const plain = tags.filter((tag) => !REFERRER_TAG.test(tag));
    // A signature (cosign's tag) or a referrer: its subject goes again, now with it.
    const subjects = new Set<string>(event.subject ? [event.subject] : []);
    for (const tag of tags) {
      const hex = REFERRER_TAG.exec(tag)?.[1];
      if (hex) subjects.add(`sha256:${hex}`);
    }
    const subjectTags = new Map<string, string[]>();
    for (const subject of subjects) {
      subjectTags.set(subject, await this.store.tagsOf(event.repository, subject));
    }
    for (const policy of policies) {
      const matches = compileGlob(policy.tags);
      const copy = (reference: string) =>
        this.enqueue(policy, {
          operation: 'copy',
          sourceRepository: event.repository,
          sourceReference: reference,
          targetRepository: rewriteName(policy.rewrite, event.repository),
        });
      for (const tag of plain) if (matches(tag)) copy(tag);
      for (const [subject, ofSubject] of subjectTags) {
        if (ofSubject.length === 0) copy(subject);
        for (const tag of ofSubject) if (matches(tag)) copy(tag);
      }
    }
  }

  private async heardChange(
    event: Extract<Invalidation, { kind: 'tag-changed' | 'manifest-deleted' }>,
  ): Promise<void> {
    const policies = (await this.eventPolicies(event.repository)).filter((p) => p.replicateDeletes);
    if (policies.length === 0) return;
    let reference: string;
    if (event.kind === 'tag-changed') {
      // A tag that still exists was pushed (onPut has it); one that is gone was deleted.
      if (REFERRER_TAG.test(event.tag) || (await this.local.headManifest(event.repository, event.tag)))
        return;
      reference = event.tag;
    } else {
      reference = event.digest;
    }
    for (const policy of policies) {
      if (event.kind === 'tag-changed' && !compileGlob(policy.tags)(event.tag)) continue;
      this.enqueue(policy, {
        operation: 'delete',
        sourceRepository: event.repository,
        sourceReference: reference,
        targetRepository: rewriteName(policy.rewrite, event.repository),
      });
    }
  }

  /**
   * Events a pull policy's remote sends it (POST /api/v1/replication/policies/{id}/events): proven with the
   * policy's event secret (an `X-Berth-Signature: sha256=<HMAC-SHA256 of the body>` header, as Berth's webhooks
   * sign, or `Authorization: Bearer <secret>`, which Distribution and Harbor can send), in Berth's, Harbor's or
   * Distribution's format. Pushes the filters select become copy tasks of the policy's next event execution
   * (within about a second, batched as push policies' are); deletes only with replicateDeletes. NOT_FOUND,
   * UNAUTHORIZED (no secret, or not proven), CONFLICT (not an event-triggered pull policy), INVALID_REQUEST.
   */
  async receiveEvents(
    id: number,
    body: Buffer,
    proof: { signature?: string | undefined; authorization?: string | undefined },
  ): Promise<{ accepted: number; ignored: number }> {
    const policy = await this.store.policy({ id });
    if (!policy) throw notFound(`no replication policy ${id}`);
    const sealed = await this.store.eventSecret(id);
    if (sealed === undefined) {
      throw unauthorized(`replication policy ${id} takes no events: it has no eventSecret`);
    }
    const secret = this.guard(() => decryptSecret(this.keyring(), sealed, eventSecretContext(id)));
    if (!provesSecret(body, secret, proof)) {
      throw unauthorized(
        `the events are not signed with replication policy ${id}'s eventSecret (${SIGNATURE_HEADER}: sha256=<HMAC-SHA256 of the body>, or Authorization: Bearer <secret>)`,
      );
    }
    if (policy.direction !== 'pull' || policy.trigger !== 'event') {
      throw conflict(
        `replication policy ${id} is not an event-triggered pull policy (direction pull, trigger event)`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw new RegistryError('INVALID_REQUEST', {
        message: `replication events: the body is not JSON: ${(error as Error).message}`,
      });
    }
    const { events, ignored } = parseRemoteEvents(json);
    if (!policy.enabled) return { accepted: 0, ignored: ignored + events.length };
    const repositories = compileGlob(policy.repositories);
    const tags = compileGlob(policy.tags);
    let accepted = 0;
    for (const event of events) {
      const task = remoteEventTask(policy, event, repositories, tags);
      if (!task) continue;
      this.enqueue(policy, task);
      accepted++;
    }
    return { accepted, ignored: ignored + events.length - accepted };
  }

  /** Adds a task to the policy's next event execution; the latest operation on a reference wins. */
  private enqueue(policy: ReplicationPolicy, task: NewTask): void {
    let batch = this.pending.get(policy.id);
    if (!batch) {
      batch = new Map();
      this.pending.set(policy.id, batch);
    }
    const key = `${task.sourceRepository}\0${task.sourceReference}`;
    batch.delete(key);
    batch.set(key, task);
    this.schedulePump(policy.id, this.eventDelayMs);
  }

  private schedulePump(id: number, delayMs: number): void {
    if (this.closed || this.timers.has(id)) return;
    const timer = setTimeout(() => {
      this.timers.delete(id);
      void this.pump(id);
    }, delayMs);
    timer.unref();
    this.timers.set(id, timer);
  }

  /** Runs a policy's gathered events as one execution, after the one this process runs, or another node's. */
  private async pump(id: number): Promise<void> {
    const batch = this.pending.get(id);
    if (this.closed || this.active.has(id) || !batch || batch.size === 0) return;
    this.pending.delete(id);
    this.active.add(id);
    let retryIn = 0;
    try {
      const policy = await this.store.policy({ id });
      if (!policy?.enabled) return;
      const run = await this.start(policy, {
        trigger: 'event',
        requestedBy: null,
        tasks: [...batch.values()],
      });
      await this.options.runner.wait(run.id);
    } catch (error) {
      // Busy elsewhere (or the database hiccuped): the events wait for the next try, newer ones first.
      const newer = this.pending.get(id) ?? new Map<string, NewTask>();
      this.pending.set(id, new Map([...batch, ...newer]));
      retryIn = BUSY_RETRY_MS;
      if (!(error instanceof RegistryError && error.code === 'CONFLICT')) {
        this.options.onError?.(error, `replication policy ${id}: event execution`);
      }
    } finally {
      this.active.delete(id);
      if (this.pending.get(id)?.size) this.schedulePump(id, retryIn);
    }
  }

  /** Stops taking events; running executions are stopped by the job runner's close. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  // --------------------------------------------------------------------------------------------- helpers

  private async storedRegistry(by: string | { id: number }): Promise<StoredRegistry> {
    const found = await this.store.registry(typeof by === 'string' ? { name: by } : by);
    if (!found) throw notFound(`no registry named '${typeof by === 'string' ? by : by.id}'`);
    return found;
  }

  private client(registry: StoredRegistry, access: 'pull' | 'push'): RegistryClient {
    let credentials: Credentials | undefined;
    if (registry.sealedPassword !== null) {
      const password = this.guard(() =>
        decryptSecret(this.keyring(), registry.sealedPassword as string, String(registry.id)),
      );
      credentials = { username: registry.username ?? '', password };
    }
    return new RegistryClient({
      url: registry.url,
      access,
      credentials,
      userAgent: 'berth-replication',
      ...this.options.remote,
    });
  }

  private sealEventSecret(secret: string, id: number): string {
    return this.guard(() => encryptSecret(this.keyring(), secret, eventSecretContext(id)));
  }

  private keyringOrRefuse(): void {
    this.guard(() => this.keyring());
  }

  private seal(password: string, id: number): string {
    return this.guard(() => encryptSecret(this.keyring(), password, String(id)));
  }

  private keyring() {
    return secretKeyring(this.options.secretKey || undefined, this.options.previousSecretKeys ?? []);
  }

  /** A missing or wrong key is the operator's to fix: a clear refusal, not a 500. */
  private guard<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      if (error instanceof SecretKeyError) {
        throw new RegistryError('INVALID_REQUEST', { message: `registry credentials: ${error.message}` });
      }
      throw error;
    }
  }
}

function publicView(registry: StoredRegistry): RemoteRegistry {
  const { sealedPassword: _sealed, ...rest } = registry;
  return rest;
}

function newTask(task: ReplicationTask): NewTask {
  return {
    operation: task.operation,
    sourceRepository: task.sourceRepository,
    sourceReference: task.sourceReference,
    targetRepository: task.targetRepository,
  };
}

/** The task a remote's event makes for a pull policy, or undefined when its filters leave it out. */
function remoteEventTask(
  policy: ReplicationPolicy,
  event: RemoteEvent,
  repositories: (name: string) => boolean,
  tags: (tag: string) => boolean,
): NewTask | undefined {
  if (!repositories(event.repository)) return undefined;
  const task = (operation: 'copy' | 'delete', reference: string): NewTask => ({
    operation,
    sourceRepository: event.repository,
    sourceReference: reference,
    targetRepository: rewriteName(policy.rewrite, event.repository),
  });
  const referrerOf = event.tag === undefined ? undefined : REFERRER_TAG.exec(event.tag)?.[1];
  if (event.action === 'push') {
    // A signature or another referrer tagged after its subject: the subject goes again, now with it.
    if (referrerOf) return policy.referrers ? task('copy', `sha256:${referrerOf}`) : undefined;
    // Pushed by digest only (an index's children, a referrer): it arrives with what names it.
    if (event.tag === undefined || !tags(event.tag)) return undefined;
    return task('copy', event.tag);
  }
  if (!policy.replicateDeletes || referrerOf) return undefined;
  if (event.tag !== undefined) return tags(event.tag) ? task('delete', event.tag) : undefined;
  return event.digest === undefined ? undefined : task('delete', event.digest);
}

/** The HMAC signature Berth's webhooks send, or a bearer secret; compared in constant time either way. */
function provesSecret(
  body: Buffer,
  secret: string,
  proof: { signature?: string | undefined; authorization?: string | undefined },
): boolean {
  if (proof.signature !== undefined) return verifySignature(body, secret, proof.signature);
  const bearer = /^Bearer\s+(.+)$/i.exec(proof.authorization ?? '')?.[1]?.trim();
  if (bearer === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(bearer), digest(secret));
}

function unauthorized(message: string): RegistryError {
  return new RegistryError('UNAUTHORIZED', { message });
}

/** Authenticated with each sealed event secret: it opens only for its own policy. */
function eventSecretContext(id: number): string {
  return `replication-events:${id}`;
}

/**
 * What the schema cannot say alone: a pull policy's events come from its remote, which must prove itself with
 * the policy's event secret.
 */
function checkPolicy(row: PolicyRow, hasEventSecret: boolean): void {
  if (row.trigger === 'event' && row.direction === 'pull' && !hasEventSecret) {
    throw new RegistryError('INVALID_REQUEST', {
      message:
        'trigger event on a pull policy needs an eventSecret: the remote sends its events to ' +
        '/api/v1/replication/policies/{id}/events signed (or authorized) with it',
    });
  }
  if (row.trigger === 'schedule' && !row.schedule) {
    throw new RegistryError('INVALID_REQUEST', { message: 'trigger schedule needs a schedule' });
  }
}

function parse<T>(
  schema: { safeParse(value: unknown): { success: boolean; data?: T; error?: unknown } },
  value: unknown,
): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = (result.error as { issues: { path: PropertyKey[]; message: string }[] }).issues;
    throw new RegistryError('INVALID_REQUEST', {
      message: issues.map((i) => `${i.path.map(String).join('.') || 'body'}: ${i.message}`).join('; '),
    });
  }
  return result.data as T;
}

function describe(error: unknown): string {
  if (error instanceof RemoteRegistryError && error.status === 401) {
    return `${error.message}: the credentials were refused`;
  }
  return error instanceof Error ? error.message : String(error);
}

function notFound(message: string): RegistryError {
  return new RegistryError('NOT_FOUND', { message });
}

function conflict(message: string): RegistryError {
  return new RegistryError('CONFLICT', { message });
}
