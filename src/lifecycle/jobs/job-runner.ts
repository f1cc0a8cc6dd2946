import type { JobRunRow, JobRunStore, NewJobRun } from '../../metadata/index.js';
import { RegistryError } from '../../registry/index.js';

/** What a running job sees: where to report progress, and whether it should stop (the server is closing). */
export interface JobContext {
  readonly run: JobRunRow;
  /** Records progress (written at most every second, and kept alive by a heartbeat meanwhile). */
  progress(progress: unknown): void;
  /** Aborted when the server shuts down: stop at the next safe point by throwing. */
  readonly signal: AbortSignal;
}

/** A job's work: resolves to its summary (what it did, or for a dry run what it would do). */
export type JobWork = (context: JobContext) => Promise<unknown>;

export interface JobRunnerOptions {
  /** How often a running job proves itself alive; default 2 s. */
  heartbeatMs?: number;
  /** A running job silent for this long is taken for dead; default 30 s. */
  staleMs?: number;
  onError?: (run: JobRunRow, error: unknown) => void;
  /** Hears each run this process ran once its outcome is recorded (webhooks: garbage collection finished). */
  onFinished?: (run: JobRunRow, outcome: { status: 'succeeded' | 'failed'; summary: unknown }) => void;
}

/**
 * Starts garbage collection and retention runs in the background and keeps their history row current: a
 * heartbeat while they run, their summary or error when they end. A second run of the same kind and scope
 * is refused (CONFLICT) while one runs anywhere on the same database.
 */
export class JobRunner {
  private readonly running = new Map<number, Promise<void>>();
  private readonly abort = new AbortController();
  private readonly heartbeatMs: number;
  private readonly staleMs: number;

  constructor(
    readonly runs: JobRunStore,
    private readonly options: JobRunnerOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? 2000;
    this.staleMs = options.staleMs ?? 30_000;
  }

  /** Starts `work` as a new run and returns its row at once; CONFLICT when one is running already. */
  async start(spec: NewJobRun, work: JobWork): Promise<JobRunRow> {
    if (this.abort.signal.aborted) throw new RegistryError('UNAVAILABLE', { message: 'shutting down' });
    const run = await this.runs.start(spec, this.staleMs);
    if (!run) {
      const what =
        spec.kind === 'gc'
          ? 'garbage collection'
          : spec.kind === 'rescan'
            ? 'a rescan of every image'
            : spec.kind === 'scrub'
              ? 'an integrity scrub'
              : spec.kind === 'replication'
                ? `an execution of replication policy ${spec.scope}`
                : `retention of project '${spec.scope}'`;
      throw new RegistryError('CONFLICT', { message: `${what} is running already` });
    }
    const done = this.execute(run, work).finally(() => this.running.delete(run.id));
    this.running.set(run.id, done);
    return run;
  }

  /** Resolves when the run (started by this process) has ended; at once for others. */
  async wait(id: number): Promise<JobRunRow | undefined> {
    await this.running.get(id);
    return this.runs.get(id);
  }

  /** Asks running jobs to stop and waits for them to record how they ended. */
  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.running.values());
  }

  private async execute(run: JobRunRow, work: JobWork): Promise<void> {
    let latest: unknown = null;
    let written = 0;
    const beat = () => {
      written = Date.now();
      return this.runs.heartbeat(run.id, latest).catch(() => {});
    };
    const timer = setInterval(beat, this.heartbeatMs);
    timer.unref();
    const context: JobContext = {
      run,
      signal: this.abort.signal,
      progress(progress) {
        latest = progress;
        if (Date.now() - written >= 1000) void beat();
      },
    };
    try {
      const summary = await work(context);
      clearInterval(timer);
      await this.runs.finish(run.id, { status: 'succeeded', summary });
      this.options.onFinished?.(run, { status: 'succeeded', summary });
    } catch (error) {
      clearInterval(timer);
      this.options.onError?.(run, error);
      const message = this.abort.signal.aborted
        ? 'stopped: the server shut down'
        : error instanceof Error
          ? error.message
          : String(error);
      await this.runs.finish(run.id, { status: 'failed', summary: latest, error: message }).catch(() => {});
      this.options.onFinished?.(run, { status: 'failed', summary: latest });
    }
  }
}
