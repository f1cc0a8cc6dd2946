// One memory budget for the buffers of many concurrent writers, so that memory stays flat however many
// uploads run at once: beyond the budget a writer waits, which in turn stops it reading its client's socket.
//
// Waiting for memory while holding memory is how such budgets deadlock: writers that each hold part of the
// budget, in buffers they let go of only once granted more, wait for each other forever. The writers keep one
// rule: ask only while all you hold is on its way out (uploads in flight, which end whatever the budget
// does), that is ask for a buffer before filling it, never while holding a filled one. Then every wait ends,
// as long as the writers filling buffers get their bytes.
//
// A client that stalls mid-buffer holds its grant until it times out, though, and a few such clients could
// take the whole budget and stop every upload. So a budget that has released nothing for `stallMs` while
// requests wait grants the requests of writers that hold nothing, beyond the budget: every writer can always
// take its next step, at the cost of one buffer per writer over the budget, but only while it is stuck. (The
// simpler rule of always granting a writer that holds nothing guarantees the same, but lets each writer's one
// buffer bypass the budget all the time: 32 uploads then hold 32 buffers whatever the budget.)

/** One writer's share of a budget: it asks for bytes one request at a time and gives them back. */
export interface BudgetHolder {
  /** Bytes granted and not yet released. */
  readonly held: number;
  /**
   * Resolves once `bytes` more are granted: when they fit in the budget (or nothing else is granted), after
   * the requests made before; or, when nothing is held, once the budget has been stuck for its `stallMs`.
   */
  acquire(bytes: number): Promise<void>;
  /** Gives back `bytes` of what is held (all of it, when more). */
  release(bytes: number): void;
  /** Gives back everything held and withdraws a pending request (which then rejects); no requests after. */
  end(): void;
}

interface HolderState {
  held: number;
  ended: boolean;
  pending: Request | undefined;
}

interface Request {
  holder: HolderState;
  bytes: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** How long a budget may release nothing while requests wait before it counts as stuck. */
export const DEFAULT_STALL_MS = 2000;

/** A budget of bytes shared by any number of holders. */
export class ByteBudget {
  private used = 0;
  private highWater = 0;
  /** Requests that did not fit, first come first served. */
  private readonly waiting: Request[] = [];
  private lastRelease = 0;
  private stallCheck: NodeJS.Timeout | undefined;

  constructor(
    readonly limit: number,
    readonly stallMs = DEFAULT_STALL_MS,
  ) {
    if (!Number.isSafeInteger(limit) || limit <= 0) {
      throw new RangeError(`a byte budget must be a positive number of bytes, not ${limit}`);
    }
  }

  /** Bytes granted and not yet released, over all holders. */
  get inUse(): number {
    return this.used;
  }

  /** The most bytes granted at once so far. */
  get peak(): number {
    return this.highWater;
  }

  /** Requests waiting for a grant. */
  get waiters(): number {
    return this.waiting.length;
  }

  /** A new holder, holding nothing. End it when its writer is done, however that ends. */
  holder(): BudgetHolder {
    const state: HolderState = { held: 0, ended: false, pending: undefined };
    return {
      get held() {
        return state.held;
      },
      acquire: (bytes) => this.acquire(state, bytes),
      release: (bytes) => this.release(state, bytes),
      end: () => this.end(state),
    };
  }

  private acquire(holder: HolderState, bytes: number): Promise<void> {
    if (holder.ended) return Promise.reject(new Error('this budget holder has ended'));
    if (holder.pending) return Promise.reject(new Error('a budget holder asks for one grant at a time'));
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      return Promise.reject(new RangeError(`cannot acquire ${bytes} bytes`));
    }
    return new Promise<void>((resolve, reject) => {
      const request: Request = { holder, bytes, resolve, reject };
      if (this.waiting.length === 0 && this.fits(request)) this.grant(request);
      else {
        holder.pending = request;
        this.waiting.push(request);
        this.watchForStall();
      }
    });
  }

  private release(holder: HolderState, bytes: number): void {
    const returned = Math.min(Math.max(bytes, 0), holder.held);
    holder.held -= returned;
    this.used -= returned;
    if (returned > 0) this.lastRelease = performance.now();
    this.grantWaiting();
  }

  private end(holder: HolderState): void {
    holder.ended = true;
    const pending = holder.pending;
    if (pending) {
      this.dequeue(pending);
      pending.reject(new Error('the budget holder ended while waiting'));
    }
    this.release(holder, holder.held);
  }

  /** Grants queued requests in order, as long as the first one fits. */
  private grantWaiting(): void {
    for (let next = this.waiting[0]; next && this.fits(next); next = this.waiting[0]) {
      this.grant(this.dequeue(next));
    }
    if (this.waiting.length === 0 && this.stallCheck) {
      clearTimeout(this.stallCheck);
      this.stallCheck = undefined;
    }
  }

  /** While requests wait, checks whether the budget has released anything in `stallMs` since `since`. */
  private watchForStall(since = performance.now()): void {
    if (this.stallCheck) return;
    const check = () => {
      this.stallCheck = undefined;
      if (this.waiting.length === 0) return;
      if (this.lastRelease > since) return this.watchForStall(this.lastRelease);
      // Stuck: let every writer that holds nothing take its next step.
      for (const request of this.waiting.filter((r) => r.holder.held === 0)) {
        this.grant(this.dequeue(request));
      }
      if (this.waiting.length > 0) this.watchForStall();
    };
    // The check alone must not keep a process alive.
    this.stallCheck = setTimeout(check, Math.max(1, since + this.stallMs - performance.now())).unref();
  }

  private dequeue(request: Request): Request {
    const at = this.waiting.indexOf(request);
    if (at >= 0) this.waiting.splice(at, 1);
    request.holder.pending = undefined;
    return request;
  }

  private grant(request: Request): void {
    request.holder.held += request.bytes;
    this.used += request.bytes;
    this.highWater = Math.max(this.highWater, this.used);
    request.resolve();
  }

  private fits(request: Request): boolean {
    // With nothing granted, any request fits, even one bigger than the whole budget.
    return this.used === 0 || this.used + request.bytes <= this.limit;
  }
}
