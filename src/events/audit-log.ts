import type { AuditStore } from '../metadata/audit-store.js';
import type { AuditEvent, AuditInput, AuditQuery, AuditSink } from './types.js';

export interface AuditLogOptions {
  /** Buffered events are written at least this often. */
  flushIntervalMs?: number;
  /** …or as soon as this many are waiting. */
  batchSize?: number;
  /** Reports a failed write (the events are kept for the next attempt, up to maxBuffered). */
  onError?: (error: Error) => void;
  /** Beyond this many unwritten events (database down), the oldest are dropped and counted. */
  maxBuffered?: number;
}

/**
 * The audit log. `record` only appends to a buffer, so a pull costs no database write; the buffer goes to
 * the database in one multi-row insert per interval or batch. A crash loses at most the last interval's
 * events, which is the price of not slowing every pull down.
 */
export class AuditLog implements AuditSink {
  private buffer: (AuditInput & { time: number })[] = [];
  private readonly listeners: ((event: AuditInput & { time: number }) => void)[] = [];
  /** Stamps each event; injectable so that tests can record traffic at any time of any week. */
  clock: () => number = Date.now;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  /** Events dropped because the database could not take them in time. */
  dropped = 0;

  constructor(
    private readonly store: AuditStore,
    private readonly options: AuditLogOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.maxBuffered = options.maxBuffered ?? 100_000;
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /**
   * Hears every event as it is recorded (webhooks, the audit stream). A listener must not throw or wait:
   * record runs after the request has been answered, but on its event loop turn.
   */
  onRecord(listener: (event: AuditInput & { time: number }) => void): void {
    this.listeners.push(listener);
  }

  record(event: AuditInput): void {
    const timed = { ...event, time: this.clock() };
    for (const listener of this.listeners) listener(timed);
    this.buffer.push(timed);
    const excess = this.buffer.length - this.maxBuffered;
    if (excess > 0) {
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
    if (this.buffer.length >= this.batchSize) void this.flush();
  }

  /** Writes what is buffered; resolves when it is stored (or the attempt failed and was reported). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.store.insert(batch).then(
      () => {},
      (error: Error) => {
        this.buffer = [...batch, ...this.buffer];
        this.options.onError?.(error);
      },
    );
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }

  /** Newest first. Flushes first, so what was just recorded is found. */
  async query(q: AuditQuery): Promise<AuditEvent[]> {
    await this.flush();
    return this.store.query(q);
  }

  async purgeOlderThan(time: number): Promise<number> {
    return this.store.deleteBefore(time);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
