import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { envelope, type Invalidation, type InvalidationBus, isEnvelope } from './invalidation.js';

/**
 * Invalidations between the workers of one `berth serve --workers N` on an embedded database: each worker
 * sends to the primary over the cluster IPC channel, and the primary relays to every other worker
 * (see relayInvalidations in workers.ts).
 */
export class WorkerBus implements InvalidationBus {
  readonly shared = true;
  /** Identifies this bus's own messages, which it skips. */
  private readonly id = randomUUID();
  private readonly handlers: ((event: Invalidation) => void)[] = [];
  private readonly onMessage = (message: unknown) => {
    if (!isEnvelope(message) || message.from === this.id) return;
    for (const handler of this.handlers) handler(message.event);
  };

  constructor() {
    process.on('message', this.onMessage);
  }

  static available(): boolean {
    return cluster.isWorker && typeof process.send === 'function';
  }

  async publish(event: Invalidation): Promise<void> {
    process.send?.(envelope(this.id, event));
  }

  async publishAll(events: Invalidation[]): Promise<void> {
    for (const event of events) process.send?.(envelope(this.id, event));
  }

  subscribe(handler: (event: Invalidation) => void): void {
    this.handlers.push(handler);
  }

  async close(): Promise<void> {
    process.off('message', this.onMessage);
  }
}
