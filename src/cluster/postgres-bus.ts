import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { envelope, type Invalidation, type InvalidationBus, isEnvelope } from './invalidation.js';

const CHANNEL = 'berth_invalidate';

/**
 * Invalidations between nodes over PostgreSQL LISTEN/NOTIFY: no extra service. A dedicated connection
 * listens; NOTIFY goes through the pool. If the listening connection drops, events may have been missed,
 * so the node forgets everything ('all') and reconnects with backoff.
 */
export class PostgresBus implements InvalidationBus {
  readonly shared = true;
  /** Identifies this bus's own messages, which it skips. */
  private readonly id = randomUUID();
  private readonly handlers: ((event: Invalidation) => void)[] = [];
  private listener: pg.Client | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  private constructor(
    private readonly url: string,
    private readonly notify: (payload: string) => Promise<void>,
    private readonly onError: (error: Error) => void,
  ) {}

  static async start(
    url: string,
    notify: (channel: string, payload: string) => Promise<void>,
    onError: (error: Error) => void,
  ): Promise<PostgresBus> {
    const bus = new PostgresBus(url, (payload) => notify(CHANNEL, payload), onError);
    await bus.connect();
    return bus;
  }

  /** No listening connection: events sent now are lost to this process. */
  get deaf(): boolean {
    return this.listener === undefined && !this.closed;
  }

  async publish(event: Invalidation): Promise<void> {
    await this.notify(JSON.stringify(envelope(this.id, event)));
  }

  subscribe(handler: (event: Invalidation) => void): void {
    this.handlers.push(handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.listener?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    // Keep-alive: a peer that vanished without closing (a cut network) is noticed, and the feed reconnects.
    const client = new pg.Client({ connectionString: this.url, keepAlive: true });
    client.on('notification', (message) => this.receive(message.payload));
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('change feed connection ended')));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  private receive(payload: string | undefined): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload ?? '');
    } catch {
      return;
    }
    if (!isEnvelope(parsed) || parsed.from === this.id) return;
    for (const handler of this.handlers) handler(parsed.event);
  }

  private lost(client: pg.Client, error: Error): void {
    if (this.closed || this.listener !== client) return;
    this.listener = undefined;
    this.onError(error);
    for (const handler of this.handlers) handler({ kind: 'all' });
    const attempt = (delay: number) => {
      this.retry = setTimeout(() => {
        this.connect()
          .then(() => {
            // Whatever changed while we were deaf is unknown: forget everything once more.
            for (const handler of this.handlers) handler({ kind: 'all' });
          })
          .catch((e: Error) => {
            this.onError(e);
            attempt(Math.min(delay * 2, 10_000));
          });
      }, delay);
      this.retry.unref();
    };
    attempt(200);
  }
}
