import { type BulkheadPolicy, bulkhead } from 'cockatiel';
import type { JobContext } from '../../lifecycle/index.js';
import { type Manifest, type RegistryClient, RemoteRegistryError } from '../client/index.js';
import { ByteRate, copyArtifact } from '../copy/index.js';
import type { ReplicationPolicy } from './policy.js';
import type { ReplicationStore, ReplicationTask, TaskStatus } from './replication-store.js';

/** What an execution shows while it runs, and what it did once done. */
export interface ExecutionProgress {
  total: number;
  done: number;
  succeeded: number;
  failed: number;
  /** Refused by the target's tag immutability: reported, not retried. */
  immutable: number;
  /** Left alone: the artifact type does not match, or the source no longer has it. */
  skipped: number;
  /** Blob bytes uploaded to the target so far. */
  bytes: number;
}

export interface ExecutionEnds {
  source: RegistryClient;
  target: RegistryClient;
}

/**
 * Tasks in flight at once, and blob copies in flight at once across them. Small artifacts are mostly round
 * trips (HEAD, POST, PUT, manifest PUT): many tasks at once hide them. Large ones are bytes: the blob slots,
 * shared by the whole execution, keep their streams (and memory) bounded however many tasks run.
 */
const TASKS_AT_ONCE = 8;
const BLOBS_AT_ONCE = 8;

/**
 * Runs an execution's pending tasks: each copies one artifact (with its referrers when the policy says so)
 * or deletes one at the target, and records its outcome. A failed task does not stop the others; the
 * execution fails when any did, and a retry runs those again.
 */
export async function runTasks(
  context: JobContext,
  store: ReplicationStore,
  policy: ReplicationPolicy,
  ends: ExecutionEnds,
): Promise<ExecutionProgress> {
  const executionId = context.run.id;
  const tasks = await store.tasks(executionId, { status: 'pending' });
  const progress: ExecutionProgress = {
    total: tasks.length,
    done: 0,
    succeeded: 0,
    failed: 0,
    immutable: 0,
    skipped: 0,
    bytes: 0,
  };
  context.progress({ ...progress });
  const queue = [...tasks];
  // One bandwidth budget for the whole execution, whatever the number of tasks.
  const rate = policy.bytesPerSecond === null ? undefined : new ByteRate(policy.bytesPerSecond);
  const slots = bulkhead(BLOBS_AT_ONCE, Number.MAX_SAFE_INTEGER);
  const lane = async () => {
    for (let task = queue.shift(); task; task = queue.shift()) {
      if (context.signal.aborted) return;
      await store.taskStarted(task.id);
      const outcome = await runTask(task, policy, ends, { rate, slots }, context.signal, (bytes) => {
        progress.bytes += bytes;
        context.progress({ ...progress });
      });
      await store.taskFinished(task.id, outcome);
      progress.done++;
      progress[outcomeCounter(outcome.status)]++;
      context.progress({ ...progress });
    }
  };
  await Promise.all(Array.from({ length: Math.min(TASKS_AT_ONCE, tasks.length) }, lane));
  if (context.signal.aborted) {
    await store.abandonTasks(executionId, 'stopped: the server shut down');
    throw new Error('stopped: the server shut down');
  }
  if (progress.failed > 0) {
    // The run's summary is then its last progress (JobRunner keeps it).
    throw new Error(`${progress.failed} of ${progress.total} tasks failed; retry them`);
  }
  return progress;
}

interface TaskOutcome {
  status: TaskStatus;
  digest?: string | null;
  bytes?: number;
  error?: string | null;
}

async function runTask(
  task: ReplicationTask,
  policy: ReplicationPolicy,
  ends: ExecutionEnds,
  shared: { rate: ByteRate | undefined; slots: BulkheadPolicy },
  signal: AbortSignal,
  onBytes: (bytes: number) => void,
): Promise<TaskOutcome> {
  try {
    if (task.operation === 'delete') {
      const deleted = await ends.target.deleteManifest(task.targetRepository, task.sourceReference, signal);
      return deleted ? { status: 'succeeded' } : { status: 'skipped', error: 'not at the target' };
    }
    if (policy.artifactType !== '') {
      const manifest = await ends.source.getManifest(task.sourceRepository, task.sourceReference, signal);
      if (!manifest) return { status: 'skipped', error: 'no longer at the source' };
      const type = artifactTypeOf(manifest);
      if (!matchesArtifactType(policy.artifactType, type)) {
        return { status: 'skipped', digest: manifest.digest, error: `artifact type ${type} is not selected` };
      }
    }
    let uploaded = 0;
    const summary = await copyArtifact({
      source: { client: ends.source, repository: task.sourceRepository, reference: task.sourceReference },
      target: { client: ends.target, repository: task.targetRepository },
      referrers: policy.referrers,
      rate: shared.rate,
      slots: shared.slots,
      signal,
      onProgress(event) {
        if (event.kind === 'blob' && event.outcome === 'copied') {
          uploaded += event.size;
          onBytes(event.size);
        }
      },
    });
    return { status: 'succeeded', digest: summary.digest, bytes: uploaded };
  } catch (error) {
    if (isImmutableRefusal(error)) {
      return { status: 'immutable', error: `immutable on target: ${(error as Error).message}` };
    }
    if (error instanceof RemoteRegistryError && error.status === 404 && sourceGone(error, ends)) {
      return { status: 'skipped', error: 'no longer at the source' };
    }
    return { status: 'failed', error: error instanceof Error ? error.message : String(error) };
  }
}

function outcomeCounter(status: TaskStatus): 'succeeded' | 'failed' | 'immutable' | 'skipped' {
  return status === 'succeeded' || status === 'immutable' || status === 'skipped' ? status : 'failed';
}

/** A target that refuses to move (or delete) a tag its immutability rules protect: Berth, Harbor. */
function isImmutableRefusal(error: unknown): boolean {
  return (
    error instanceof RemoteRegistryError &&
    error.code === 'DENIED' &&
    error.errors.some((entry) => /immutable/i.test(entry.message ?? ''))
  );
}

/** The copy's first read: the source reference itself is unknown (deleted since the task was planned). */
function sourceGone(error: RemoteRegistryError, ends: ExecutionEnds): boolean {
  return (
    error.method === 'GET' &&
    error.url.startsWith(String(ends.source.base)) &&
    (error.code === 'MANIFEST_UNKNOWN' || error.code === 'NAME_UNKNOWN')
  );
}

/** An artifact's type: its `artifactType`, else its config's media type; an index is `index`. */
export function artifactTypeOf(manifest: Manifest): string {
  try {
    const parsed = JSON.parse(manifest.bytes.toString('utf8')) as {
      artifactType?: string;
      config?: { mediaType?: string };
      manifests?: unknown[];
    };
    if (parsed.artifactType) return parsed.artifactType;
    if (parsed.config?.mediaType) return parsed.config.mediaType;
    if (parsed.manifests) return 'index';
  } catch {
    // not JSON: the media type will do
  }
  return manifest.mediaType;
}

const IMAGE_CONFIG_TYPES = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

/** '' selects every type; 'image', container images and indexes (of images); else the exact type. */
export function matchesArtifactType(wanted: string, type: string): boolean {
  if (wanted === '') return true;
  if (wanted === 'image') return IMAGE_CONFIG_TYPES.has(type) || type === 'index';
  return wanted === type;
}
