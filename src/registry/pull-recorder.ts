import type { MetadataStore } from '../metadata/index.js';

/**
 * Remembers which manifests were pulled and writes their last pull time in batches: one UPDATE per
 * repository every `intervalMs`, whatever the number of pulls, so the pull path stays free of writes.
 * The time written is the flush's (at most `intervalMs` late); a crash loses at most one interval of pulls,
 * which only matters to "keep what was pulled within D days" retention rules.
 */
export class PullRecorder {
  private pending = new Map<string, Set<string>>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly meta: MetadataStore,
    intervalMs = 5000,
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  record(repository: string, digest: string): void {
    let digests = this.pending.get(repository);
    if (!digests) {
      digests = new Set();
      this.pending.set(repository, digests);
    }
    digests.add(digest);
  }

  /** Writes what was recorded so far. */
  flush(): Promise<void> {
    const batch = this.pending;
    if (batch.size === 0) return this.flushing;
    this.pending = new Map();
    const at = Date.now();
    this.flushing = this.flushing.then(async () => {
      for (const [repository, digests] of batch) {
        await this.meta.recordPulls(repository, [...digests], at).catch(this.onError);
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
