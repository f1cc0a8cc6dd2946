import { randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  envelope,
  type Invalidation,
  type InvalidationBus,
  isEnvelope,
  type Notification,
} from './invalidation.js';

const CHANNEL = 'berth_invalidate';

/** Sends each payload as a notification on the channel, in order, in one statement (pg_notify per row). */
export type Notify = (channel: string, payloads: string[]) => Promise<void>;

/** A Notify through a pg pool: one statement, `pg_notify` for each element of the array, in its order. */
export function notifyThrough(pool: Pick<pg.Pool, 'query'>): Notify {
  return async (channel, payloads) => {
    if (payloads.length === 0) return;
    await pool.query('select pg_notify($1, p) from unnest($2::text[]) as p', [channel, payloads]);
  };
}

/**
 * Invalidations between nodes over PostgreSQL LISTEN/NOTIFY: no extra service. A dedicated connection
 * listens; NOTIFY goes through the pool, several events in one statement when they come together (a garbage
 * collection's batch of deleted manifests: a round trip per event queued thousands of queries). If the
 * listening connection drops, events may have been missed, so the node forgets everything ('all') and
 * reconnects with backoff.
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
    private readonly notify: (payloads: string[]) => Promise<void>,
    private readonly onError: (error: Error) => void,
  ) {}

  static async start(url: string, notify: Notify, onError: (error: Error) => void): Promise<PostgresBus> {
    const bus = new PostgresBus(url, (payloads) => notify(CHANNEL, payloads), onError);
    await bus.connect();
    return bus;
  }

  /** No listening connection: events sent now are lost to this process. */
  get deaf(): boolean {
    return this.listener === undefined && !this.closed;
  }

  async publish(event: Invalidation): Promise<void> {
    await this.publishAll([event]);
  }

  async publishAll(events: Invalidation[]): Promise<void> {
    await this.notify(events.map((event) => JSON.stringify(envelope(this.id, event))));
  }

  notification(event: Invalidation): Notification {
    return { channel: CHANNEL, payload: JSON.stringify(envelope(this.id, event)) };
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
