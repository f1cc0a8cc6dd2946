import type { ScanClaim, ScanOutcome, ScanStore } from '../metadata/index.js';

export interface ScanWorkerOptions {
  /** Scans run at once by this process. */
  concurrency: number;
  /** How often the queue is looked at when nothing woke the worker. */
  pollMs: number;
  /** A claim not renewed for this long is taken over by another node (its scanner is presumed dead). */
  leaseMs: number;
  /** A scan claimed this many times without finishing (its node died each time) is given up. */
  maxAttempts: number;
  /** Runs one claimed scan; resolves to what to record. */
  scan(claim: ScanClaim, signal: AbortSignal): Promise<ScanOutcome>;
  /** Told once a scan's outcome is recorded. */
  onFinished(claim: ScanClaim, outcome: ScanOutcome): void;
  onError(error: unknown): void;
}

/**
 * Takes queued scans off the scan_reports table and runs them, a few at a time, in the background: pushes
 * only enqueue. Every node runs one; a claim is exclusive, and its lease is renewed while the scan runs.
 */
export class ScanWorker {
  private readonly abort = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private again = false;

  constructor(
    private readonly store: ScanStore,
    private readonly options: ScanWorkerOptions,
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** Looks at the queue now (a scan was just queued here). */
  wake(): void {
    if (this.abort.signal.aborted) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.abort.signal.aborted) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    this.polling = true;
    try {
      while (!this.abort.signal.aborted && this.running.size < this.options.concurrency) {
        const claim = await this.store.claim(this.options.leaseMs, this.options.maxAttempts);
        if (!claim) break;
        const run = this.run(claim).finally(() => {
          this.running.delete(run);
          this.wake();
        });
        this.running.add(run);
      }
    } catch (error) {
      this.options.onError(error);
    } finally {
      this.polling = false;
    }
    if (this.again) {
      this.again = false;
      this.schedule(0);
    } else {
      this.schedule(this.options.pollMs);
    }
  }

  private async run(claim: ScanClaim): Promise<void> {
    const renew = setInterval(
      () => void this.store.renew(claim, this.options.leaseMs).catch(this.options.onError),
      Math.max(1000, Math.floor(this.options.leaseMs / 3)),
    );
    renew.unref();
    let outcome: ScanOutcome;
    try {
      outcome = await this.options.scan(claim, this.abort.signal);
    } catch (error) {
      // Shutting down: leave the claim to expire, so that another node (or this one, restarted) takes it.
      if (this.abort.signal.aborted) return;
      outcome = {
        status: 'failed',
        scanner: 'berth',
        dbVersion: null,
        inventory: null,
        findings: null,
        summary: null,
        error: (error as Error).message,
        sboms: null,
      };
    } finally {
      clearInterval(renew);
    }
    try {
      if (await this.store.finish(claim, outcome)) this.options.onFinished(claim, outcome);
    } catch (error) {
      this.options.onError(error);
    }
  }

  /** Stops claiming; waits for the scans running here (they stop at their next abort check). */
  async close(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    await Promise.allSettled([...this.running]);
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }
}
