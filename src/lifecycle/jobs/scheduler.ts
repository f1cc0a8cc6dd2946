/** Something with a schedule: starts its runs that are due (and ignores those running already). */
export interface Scheduled {
  runDue(now: number): Promise<unknown>;
}

/**
 * Asks every scheduled job, on every node, every `intervalMs` whether a run is due. The job decides from the
 * shared run history, and the one-running-run lock makes sure only one node starts it.
 */
export class Scheduler {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly jobs: Scheduled[],
    intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  async tick(now = Date.now()): Promise<void> {
    for (const job of this.jobs) await job.runDue(now).catch(this.onError);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
