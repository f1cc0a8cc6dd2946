import cluster from 'node:cluster';
import { envelope, type Invalidation, type InvalidationBus, isEnvelope, processId } from './invalidation.js';

/**
 * Invalidations between the workers of one `berth serve --workers N` on an embedded database: each worker
 * sends to the primary over the cluster IPC channel, and the primary relays to every other worker
 * (see relayInvalidations in workers.ts).
 */
export class WorkerBus implements InvalidationBus {
  readonly shared = true;
  private readonly handlers: ((event: Invalidation) => void)[] = [];
  private readonly onMessage = (message: unknown) => {
    if (!isEnvelope(message) || message.from === processId) return;
    for (const handler of this.handlers) handler(message.event);
  };

  constructor() {
    process.on('message', this.onMessage);
  }

  static available(): boolean {
    return cluster.isWorker && typeof process.send === 'function';
  }

  async publish(event: Invalidation): Promise<void> {
    process.send?.(envelope(processId, event));
  }

  subscribe(handler: (event: Invalidation) => void): void {
    this.handlers.push(handler);
  }

  async close(): Promise<void> {
    process.off('message', this.onMessage);
  }
}
