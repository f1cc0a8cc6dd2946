/**
 * One run of `work` per key at a time in this process: callers arriving while it runs share its promise.
 * Other processes have their own (see docs/proxy-cache.md, "Several nodes").
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  /** Whether work for `key` is running now. */
  has(key: string): boolean {
    return this.running.has(key);
  }

  /** The running work's promise for `key`, or a new run of `work`; `started` tells which. */
  run(key: string, work: () => Promise<T>): { promise: Promise<T>; started: boolean } {
    const current = this.running.get(key);
    if (current) return { promise: current, started: false };
    const promise = work().finally(() => this.running.delete(key));
    this.running.set(key, promise);
    return { promise, started: true };
  }

  get size(): number {
    return this.running.size;
  }
}
