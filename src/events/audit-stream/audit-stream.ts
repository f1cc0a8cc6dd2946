import { hostname } from 'node:os';
import { auditJsonLine, type SyslogFacility, syslogMessage, type TimedAuditEvent } from './audit-line.js';
import { FileSink } from './file-sink.js';
import { SyslogSink } from './syslog-sink.js';

/** Where streamed lines go: a batch at a time, in order. */
export interface StreamSink {
  readonly name: string;
  write(lines: string[]): Promise<void>;
  reopen?(): void;
  close(): Promise<void>;
}

export interface AuditStreamOptions {
  /** A file each event is appended to as one JSON line. */
  file?: { path: string; maxBytes?: number; maxFiles?: number } | undefined;
  /** A syslog receiver (RFC 5424 messages). */
  syslog?: { address: string; protocol: 'udp' | 'tcp'; facility: SyslogFacility } | undefined;
  /** Events waiting per sink before new ones are dropped. Default 10 000. */
  bufferEvents?: number;
  /** Lines per write. Default 500. */
  batchSize?: number;
  /** The host name in every line; default os.hostname(). */
  host?: string;
  /** Counts, for the metrics (per sink name). */
  onWritten?(sink: string, count: number): void;
  onDropped?(sink: string, count: number): void;
  /** Every failed write (the batch is retried after a pause). */
  onWriteFailed?(sink: string): void;
  /** A failed write, for the log: at most once a minute per sink. */
  onError?(sink: string, error: Error): void;
}

/** After a failed write, the pause before the next attempt grows from 100 ms to at most this. */
const MAX_BACKOFF_MS = 30_000;
const ERROR_REPORT_INTERVAL_MS = 60_000;

/**
 * One sink's queue and writer. `push` only appends the event to an array (no formatting, no I/O on the
 * request's turn); the writer formats and writes it a batch at a time in the background. When the sink is stuck (a full disk, an unreachable
 * receiver), the queue stops at `limit` events and new events are dropped and counted, never waited for.
 */
class SinkQueue {
  private queue: TimedAuditEvent[] = [];
  /** The batch being written, formatted once (a retry sends the same lines). */
  private batch: string[] | undefined;
  private running: Promise<void> | undefined;
  private backoffMs = 0;
  private lastErrorReport = 0;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly sink: StreamSink,
    private readonly format: (event: TimedAuditEvent) => string,
    private readonly limit: number,
    private readonly batchSize: number,
    private readonly options: AuditStreamOptions,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  push(event: TimedAuditEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.limit) {
      this.options.onDropped?.(this.sink.name, 1);
      return;
    }
    this.queue.push(event);
    if (!this.running) this.running = this.drain().finally(() => (this.running = undefined));
  }

  /** Resolves when everything queued so far has been written (or, after `close`, given up on). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Writes what is queued, trying for at most `graceMs`, then drops the rest (counted) and closes. */
  async close(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
      timer.unref();
    });
    await Promise.race([this.flush(), expired]);
    clearTimeout(timer);
    this.closed = true;
    this.wake?.();
    if (this.queue.length > 0) this.options.onDropped?.(this.sink.name, this.queue.length);
    this.queue = [];
    this.batch = undefined;
    await this.sink.close().catch(() => {});
  }

  private async drain(): Promise<void> {
    // Let the request that recorded the event finish its turn first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queue.length > 0 && !this.closed) {
      this.batch ??= this.queue.slice(0, this.batchSize).map(this.format);
      const batch = this.batch;
      try {
        await this.sink.write(batch);
        this.queue.splice(0, batch.length);
        this.batch = undefined;
        this.backoffMs = 0;
        this.options.onWritten?.(this.sink.name, batch.length);
      } catch (error) {
        this.options.onWriteFailed?.(this.sink.name);
        const now = Date.now();
        if (now - this.lastErrorReport >= ERROR_REPORT_INTERVAL_MS) {
          this.lastErrorReport = now;
          this.options.onError?.(this.sink.name, error as Error);
        }
        this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(100, this.backoffMs * 2));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.backoffMs);
          timer.unref();
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }
}

/**
 * The audit stream: every audit event, as it is recorded, also to a JSON lines file and/or a syslog
 * receiver, for ELK or Loki. Each sink has its own bounded queue, so a stuck receiver neither slows requests
 * nor holds up the file.
 */
export class AuditStream {
  private readonly queues: SinkQueue[] = [];
  private sequenceId = 0;

  constructor(options: AuditStreamOptions, sinks: StreamSink[] = []) {
    const host = options.host ?? hostname();
    const limit = options.bufferEvents ?? 10_000;
    const batchSize = options.batchSize ?? 500;
    const add = (sink: StreamSink, format: (event: TimedAuditEvent) => string) =>
      this.queues.push(new SinkQueue(sink, format, limit, batchSize, options));
    if (options.file) {
      add(new FileSink(options.file.path, options.file), (event) => auditJsonLine(event, host));
    }
    if (options.syslog) {
      const header = {
        facility: options.syslog.facility,
        hostname: host,
        appName: 'berth',
        procId: String(process.pid),
      };
      add(new SyslogSink(options.syslog.address, options.syslog.protocol), (event) => {
        // 1 … 2147483647, then 1 again (RFC 5424 §7.3.1).
        this.sequenceId = (this.sequenceId % 2_147_483_647) + 1;
        return syslogMessage(event, header, this.sequenceId);
      });
    }
    for (const sink of sinks) add(sink, (event) => auditJsonLine(event, host));
  }

  /** Whether any sink is configured. */
  get active(): boolean {
    return this.queues.length > 0;
  }

  /** Events waiting per sink (for the metrics). */
  queued(): Record<string, number> {
    return Object.fromEntries(this.queues.map((queue) => [queue.sink.name, queue.length]));
  }

  /** Queues the event for every sink; never waits, never throws. */
  write(event: TimedAuditEvent): void {
    for (const queue of this.queues) queue.push(event);
  }

  /** Reopens files by their path (SIGHUP, after logrotate moved them). */
  reopen(): void {
    for (const queue of this.queues) queue.sink.reopen?.();
  }

  async flush(): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.flush()));
  }

  /** Writes what is queued (for at most `graceMs`), then closes the sinks. */
  async close(graceMs = 5000): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.close(graceMs)));
  }
}
